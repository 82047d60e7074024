//! Requests `watchdogctl` sends and the responses `watchdogd` returns.
//!
//! These are wire types: plain structs and enums, no serde attributes that need a self-describing
//! format, times as integer milliseconds since the epoch. Variants are only ever appended.

use serde::{Deserialize, Serialize};

/// One request to the daemon; the reply comes after the action happened, not when it was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// The status of every service, or of one key.
    Status { key: Option<String> },
    /// Mark the service wanted and start it unless it is already healthy.
    On { key: String },
    /// Stop the service and mark it stopped on purpose: it is not recovered until `On`.
    Off { key: String },
    /// Run the service's full recovery pipeline now, and mark it wanted.
    Restart { key: String },
    /// `On` for every enabled service.
    StartAll,
    /// `Off` for every enabled service.
    StopAll,
    /// Check every enabled service now (recovering those past their threshold), then reply.
    Check,
    /// Block until the service is healthy (optionally with another PID) or the timeout passes.
    Wait(WaitRequest),
    /// Re-read the config file and apply it as a diff; an invalid file changes nothing.
    Reload,
    /// `Off` for a maintenance window: turned back on by itself after `for_ms`.
    OffFor { key: String, for_ms: u64 },
    /// Checks, recoveries and events from the audit log, newest first.
    History(HistoryRequest),
    /// Stream every state change and recovery step as it happens: the daemon answers with
    /// [`Response::Event`] frames until the client disconnects.
    Events,
    /// One service in depth: status, settings, current heartbeat, recent history.
    Detail { key: String },
    /// OpenMetrics text for the daemon and every service.
    Metrics,
    /// The daemon's version and protocol.
    Version,
    /// Run one configured action (`clear_db`, `kill`, `start`, …) of one service, or of every
    /// enabled service, through the same one-pipeline-per-service gate as a recovery.
    Run(RunRequest),
    /// `Restart` for every enabled service, a bounded number at a time.
    RestartAll,
    /// Turn monitoring of a service on or off at runtime (a persisted override of `enabled`).
    Monitor(MonitorRequest),
    /// Turn one recovery action of a service on or off at runtime (a persisted override of
    /// `disabled_actions`).
    ToggleAction(ToggleActionRequest),
    /// Watch every service live (what `watchdogctl top` shows): the daemon answers with one
    /// [`Response::Status`], then [`Response::Changes`] and [`Response::Event`] frames as things
    /// happen, until the client disconnects. The status and the changes come from the same
    /// snapshots, so nothing falls between the first status and the stream.
    Watch,
}

/// Arguments of [`Request::Run`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    /// The service; `None`: every enabled service.
    pub key: Option<String>,
    pub action: String,
}

impl From<RunRequest> for Request {
    fn from(r: RunRequest) -> Self {
        Request::Run(r)
    }
}

/// Arguments of [`Request::Monitor`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorRequest {
    pub key: String,
    /// `true` monitors it again (dropping the override), `false` stops monitoring it.
    pub enabled: bool,
}

impl From<MonitorRequest> for Request {
    fn from(r: MonitorRequest) -> Self {
        Request::Monitor(r)
    }
}

/// Arguments of [`Request::ToggleAction`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToggleActionRequest {
    pub key: String,
    pub action: String,
    /// `true` runs it again in recoveries (dropping the override), `false` skips it.
    pub enabled: bool,
}

impl From<ToggleActionRequest> for Request {
    fn from(r: ToggleActionRequest) -> Self {
        Request::ToggleAction(r)
    }
}

/// Arguments of [`Request::History`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRequest {
    /// Only this service (`None`: all).
    pub key: Option<String>,
    /// At most this many entries.
    pub limit: u32,
    /// Only entries at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
}

impl From<HistoryRequest> for Request {
    fn from(h: HistoryRequest) -> Self {
        Request::History(h)
    }
}

/// Arguments of [`Request::Wait`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitRequest {
    pub key: String,
    /// Give up after this long.
    pub timeout_ms: u64,
    /// Only a heartbeat naming another PID counts (a restarted service must be a new process).
    pub not_pid: Option<u32>,
}

impl From<WaitRequest> for Request {
    fn from(w: WaitRequest) -> Self {
        Request::Wait(w)
    }
}

impl Request {
    /// Whether this request changes anything (the rest only read).
    pub fn is_mutating(&self) -> bool {
        !matches!(
            self,
            Request::Status { .. }
                | Request::Wait(_)
                | Request::History(_)
                | Request::Events
                | Request::Detail { .. }
                | Request::Metrics
                | Request::Version
                | Request::Watch
        )
    }

    /// The command as typed, for messages and refusals.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Status { .. } => "status",
            Request::On { .. } => "on",
            Request::Off { .. } => "off",
            Request::Restart { .. } => "restart",
            Request::StartAll => "start-all",
            Request::StopAll => "stop-all",
            Request::Check => "check",
            Request::Wait(_) => "wait",
            Request::Reload => "reload",
            Request::OffFor { .. } => "off --for",
            Request::History(_) => "history",
            Request::Events => "events",
            Request::Detail { .. } => "status KEY",
            Request::Metrics => "metrics",
            Request::Version => "version",
            Request::Run(_) => "run",
            Request::RestartAll => "restart-all",
            Request::Monitor(m) if m.enabled => "enable",
            Request::Monitor(_) => "disable",
            Request::ToggleAction(_) => "actions",
            Request::Watch => "top",
        }
    }
}

/// The daemon's reply to one [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The request was refused or failed before doing anything. Variant 0: frozen forever.
    Error { kind: ErrorKind, message: String },
    /// Reply to [`Request::Status`] and [`Request::Check`].
    Status(StatusReply),
    /// Reply to `On`, `Off` and `Restart`.
    Action(ActionReport),
    /// Reply to `StartAll` and `StopAll`: one report per service.
    Bulk(Vec<ActionReport>),
    /// Reply to [`Request::Wait`].
    Wait(WaitReply),
    /// Reply to [`Request::Reload`] when the new config was applied.
    Reload(ReloadReport),
    /// Reply to [`Request::History`], newest first.
    History(Vec<HistoryEntry>),
    /// One frame of the [`Request::Events`] stream.
    Event(EventRecord),
    /// Reply to [`Request::Detail`].
    Detail(Box<ServiceDetail>),
    /// Reply to [`Request::Metrics`]: OpenMetrics text.
    Metrics(String),
    /// Reply to [`Request::Version`].
    Version(VersionReply),
    /// Reply to [`Request::Check`]: the services after the check, and the recoveries it ran.
    Check(CheckReport),
    /// One frame of the [`Request::Watch`] stream: what changed since the frame before.
    Changes(StatusChanges),
}

/// The services that changed since the last frame of a [`Request::Watch`] stream. Each check
/// of a service changes it (its `last_check_ms`), so a follower sees every check, except that
/// checks of one service closer together than the daemon publishes (100 ms) arrive as one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChanges {
    /// Services as they are now: changed, or added by a reload.
    pub services: Vec<ServiceStatus>,
    /// Keys a reload removed.
    pub removed: Vec<String>,
    /// Audit-log rows the daemon could not write since it started.
    pub audit_rows_dropped: u64,
}

/// What `check` found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Every service after the check and after the recoveries it ran ended.
    pub status: StatusReply,
    /// The recoveries this check started (or joined), with their outcomes.
    pub recoveries: Vec<ActionReport>,
}

/// What an audit-log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HistoryKind {
    Check,
    Recovery,
    /// Anything else worth an audit row: refusals, give-ups, reloads, interrupted pipelines.
    Event,
}

impl HistoryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryKind::Check => "check",
            HistoryKind::Recovery => "recovery",
            HistoryKind::Event => "event",
        }
    }
}

/// One audit-log entry. Fields that do not apply to its kind are empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub kind: HistoryKind,
    /// The service (empty for daemon-wide events).
    pub key: String,
    /// When it happened (a recovery: when it started).
    pub at_ms: i64,
    /// Checks: the verdict.
    pub health: Option<Health>,
    pub pid: Option<u32>,
    /// Checks: consecutive failures after it.
    pub failures: Option<u32>,
    /// Recoveries: what started it.
    pub trigger: Option<Trigger>,
    /// Recoveries: `succeeded`, `warned`, `failed`, `skipped`, `running` or `interrupted`;
    /// events: their kind (`gave_up`, `signal_refused`, …).
    pub outcome: String,
    pub finished_ms: Option<i64>,
    /// Recoveries: each action's outcome.
    pub steps: Vec<StepReport>,
    pub message: String,
}

/// What a live event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A check came out differently from the one before.
    HealthChanged,
    /// The lifecycle state changed.
    StateChanged,
    PipelineStarted,
    /// One action of a pipeline finished.
    StepFinished,
    PipelineFinished,
    GaveUp,
    Reloaded,
    /// This follower fell behind and missed events (the message says how many).
    Lagged,
    /// A pipeline was cut off by the previous daemon's death.
    PipelineInterrupted,
    /// A maintenance window (`off --for`) ended and the service was turned back on.
    MaintenanceOver,
    /// A service stayed healthy for a whole restart window: its budget refilled.
    FlapReset,
    /// A signal was not sent, and why (the safety rules of `kill`).
    SignalRefused,
    /// The `on_give_up` hook ran.
    GiveUpHook,
    /// The `on_give_up` hook failed.
    GiveUpHookFailed,
    /// A client was refused for lack of rights (rate-limited: one row per uid and minute, with
    /// a count).
    PermissionDenied,
    /// A runtime override (monitoring, an action) was set or cleared.
    OverrideChanged,
    /// An override was dropped because its key left the config.
    OverrideDropped,
    /// A notify message was refused (not from the service, or a request we do not grant).
    NotifyRefused,
    /// The intent of a service changed (`on`, `off`).
    IntentChanged,
    /// A maintenance window (`off --for`) began.
    MaintenanceStarted,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::HealthChanged => "health_changed",
            EventKind::StateChanged => "state_changed",
            EventKind::PipelineStarted => "pipeline_started",
            EventKind::StepFinished => "step_finished",
            EventKind::PipelineFinished => "pipeline_finished",
            EventKind::GaveUp => "gave_up",
            EventKind::Reloaded => "reloaded",
            EventKind::Lagged => "lagged",
            EventKind::PipelineInterrupted => "pipeline_interrupted",
            EventKind::MaintenanceOver => "maintenance_over",
            EventKind::FlapReset => "flap_reset",
            EventKind::SignalRefused => "signal_refused",
            EventKind::GiveUpHook => "give_up_hook",
            EventKind::GiveUpHookFailed => "give_up_hook_failed",
            EventKind::PermissionDenied => "permission_denied",
            EventKind::OverrideChanged => "override_changed",
            EventKind::OverrideDropped => "override_dropped",
            EventKind::NotifyRefused => "notify_refused",
            EventKind::IntentChanged => "intent_changed",
            EventKind::MaintenanceStarted => "maintenance_started",
        }
    }

    /// Every kind, in wire order (for parsing stored names back).
    pub const ALL: [EventKind; 20] = [
        EventKind::HealthChanged,
        EventKind::StateChanged,
        EventKind::PipelineStarted,
        EventKind::StepFinished,
        EventKind::PipelineFinished,
        EventKind::GaveUp,
        EventKind::Reloaded,
        EventKind::Lagged,
        EventKind::PipelineInterrupted,
        EventKind::MaintenanceOver,
        EventKind::FlapReset,
        EventKind::SignalRefused,
        EventKind::GiveUpHook,
        EventKind::GiveUpHookFailed,
        EventKind::PermissionDenied,
        EventKind::OverrideChanged,
        EventKind::OverrideDropped,
        EventKind::NotifyRefused,
        EventKind::IntentChanged,
        EventKind::MaintenanceStarted,
    ];

    /// The kind stored under `name`, if any.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One live event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    pub at_ms: i64,
    pub key: String,
    pub kind: EventKind,
    pub health: Option<Health>,
    pub state: Option<ServiceState>,
    pub message: String,
}

/// Reply to [`Request::Detail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDetail {
    pub status: ServiceStatus,
    /// The service's normalized settings, as JSON text.
    pub config_json: String,
    /// The heartbeat file's content now (or why it cannot be read).
    pub heartbeat: String,
    /// Recent checks and recoveries, newest first.
    pub history: Vec<HistoryEntry>,
    /// Where its heartbeats come from and how they are noticed, in words (a file watched for
    /// changes or polled, a notify socket).
    pub heartbeat_source: String,
}

/// Reply to [`Request::Version`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionReply {
    pub daemon_version: String,
    pub protocol: u32,
    pub daemon_pid: u32,
    pub started_ms: i64,
}

/// What a reload changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadReport {
    /// Keys now monitored that were not before.
    pub added: Vec<String>,
    /// Keys no longer monitored (their processes are left alone).
    pub removed: Vec<String>,
    /// Keys whose settings changed.
    pub changed: Vec<String>,
    /// Global settings that changed but only take effect at the next daemon start.
    pub needs_restart: Vec<String>,
    /// The new config's warnings.
    pub warnings: Vec<String>,
}

/// Why a request was refused. Stable: scripts may match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The client speaks another protocol version, or is not a watchdog client at all.
    Protocol,
    /// The request could not be decoded.
    BadRequest,
    /// No service has that key.
    UnknownKey,
    /// The daemon is shutting down or overloaded.
    Unavailable,
    /// The peer may not make this request.
    PermissionDenied,
    /// Something failed inside the daemon.
    Internal,
    /// A config (for `reload`) is invalid; the message lists every problem.
    InvalidConfig,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Protocol => "protocol",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::UnknownKey => "unknown_key",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Internal => "internal",
            ErrorKind::InvalidConfig => "invalid_config",
        }
    }
}

/// The services the daemon knows, with the daemon's own facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReply {
    pub daemon_version: String,
    pub daemon_pid: u32,
    pub services: Vec<ServiceStatus>,
    /// Audit-log rows the daemon could not write since it started (disk full, database locked…).
    pub audit_rows_dropped: u64,
    /// When the daemon started (ms since the epoch).
    pub daemon_started_ms: i64,
}

/// One service as the daemon sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub key: String,
    pub display_name: String,
    /// `enabled` from the config.
    pub enabled: bool,
    pub state: ServiceState,
    /// The last check's verdict; `None` before the first check.
    pub health: Option<Health>,
    /// The PID the last heartbeat named.
    pub pid: Option<u32>,
    /// How old the heartbeat was at the last check.
    pub heartbeat_age_ms: Option<i64>,
    pub consecutive_failures: u32,
    /// When the last check ran.
    pub last_check_ms: Option<i64>,
    pub last_recovery: Option<RecoverySummary>,
    /// Why the last check came out as it did, in words.
    pub detail: String,
    /// How far (ms) the heartbeat's timestamp lies in the future, when beyond the tolerance;
    /// freshness is then judged by the file's modification time.
    pub clock_skew_ms: Option<i64>,
    /// Automatic recoveries within the current restart window.
    pub restarts_in_window: u32,
    /// When gave up and backing off: the earliest time of the next automatic attempt.
    pub next_attempt_ms: Option<i64>,
    /// Turned off for a maintenance window (`off --for`): when it is turned back on.
    pub off_until_ms: Option<i64>,
    /// A runtime override of monitoring (`watchdogctl enable|disable`); `None`: as configured.
    pub monitoring_override: Option<bool>,
    /// Recovery actions turned off at runtime (`watchdogctl actions KEY --disable …`), beside
    /// the config's `disabled_actions`.
    pub actions_disabled: Vec<String>,
    /// The service's own words about itself (a notify `STATUS=` line), if it sent any.
    pub status_text: Option<String>,
}

/// The supervisor's lifecycle state of a service (what it is doing), beside its health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceState {
    /// Monitored and wanted.
    Running,
    /// Started recently; inside its start grace period.
    Starting,
    /// A pipeline (automatic or manual) is running.
    Recovering,
    /// Being stopped on request.
    Stopping,
    /// Stopped on purpose (`off`): not recovered until `on`.
    Stopped,
    /// `enabled: false` in the config: not monitored.
    Disabled,
    /// Too many automatic recoveries within the window: retried only with backoff (or not at
    /// all), until `restart`/`on` or a healthy window clears it.
    GaveUp,
    /// Unhealthy and counted: recovered once `consecutive_failures_threshold` is reached.
    Failing,
    /// A pipeline is due but waits for a slot (`max_parallel_recoveries`).
    Queued,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Running => "running",
            ServiceState::Starting => "starting",
            ServiceState::Recovering => "recovering",
            ServiceState::Stopping => "stopping",
            ServiceState::Stopped => "off",
            ServiceState::Disabled => "disabled",
            ServiceState::GaveUp => "gave_up",
            ServiceState::Failing => "failing",
            ServiceState::Queued => "queued",
        }
    }
}

/// The verdict of one heartbeat check, in the order the checks are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Health {
    /// The file is missing or unreadable as a heartbeat.
    NoHeartbeat,
    /// The PID it names is not running.
    StalePid,
    /// Older than the service's `timeout_seconds`.
    TimedOut,
    /// Its status is not `"running"`.
    ErrorStatus,
    Healthy,
    /// Still beating, but its `iteration` has not grown for `stall_seconds`.
    Stalled,
    /// The heartbeat could not be read in time: its file system does not answer.
    Unreadable,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::NoHeartbeat => "no_heartbeat",
            Health::StalePid => "stale_pid",
            Health::TimedOut => "timed_out",
            Health::ErrorStatus => "error_status",
            Health::Healthy => "healthy",
            Health::Stalled => "stalled",
            Health::Unreadable => "unreadable",
        }
    }

    /// Every health, in wire order.
    pub const ALL: [Health; 7] = [
        Health::NoHeartbeat,
        Health::StalePid,
        Health::TimedOut,
        Health::ErrorStatus,
        Health::Healthy,
        Health::Stalled,
        Health::Unreadable,
    ];

    /// The health stored under `name`, if any.
    pub fn parse(name: &str) -> Option<Health> {
        Health::ALL.into_iter().find(|h| h.as_str() == name)
    }

    pub fn is_healthy(self) -> bool {
        self == Health::Healthy
    }
}

/// What started a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    /// The failure threshold was reached.
    Automatic,
    /// `watchdogctl restart`.
    Restart,
    /// `watchdogctl on` / `start-all`.
    On,
    /// `watchdogctl off` / `stop-all`.
    Off,
    /// `watchdogctl run KEY ACTION`: one configured action.
    Run,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Automatic => "automatic",
            Trigger::Restart => "restart",
            Trigger::On => "on",
            Trigger::Off => "off",
            Trigger::Run => "run",
        }
    }

    /// Every trigger, in wire order.
    pub const ALL: [Trigger; 5] = [
        Trigger::Automatic,
        Trigger::Restart,
        Trigger::On,
        Trigger::Off,
        Trigger::Run,
    ];

    /// The trigger stored under `name`, if any.
    pub fn parse(name: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// How a pipeline ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PipelineResult {
    /// Every action succeeded.
    Succeeded,
    /// Done, but a non-fatal action failed.
    Warned,
    /// A fatal action (`kill`, `start`) failed.
    Failed,
    /// Nothing needed doing (e.g. `on` for a healthy service).
    Skipped,
}

impl PipelineResult {
    pub fn as_str(self) -> &'static str {
        match self {
            PipelineResult::Succeeded => "succeeded",
            PipelineResult::Warned => "warned",
            PipelineResult::Failed => "failed",
            PipelineResult::Skipped => "skipped",
        }
    }

    pub fn is_success(self) -> bool {
        self != PipelineResult::Failed
    }

    /// Every result, in wire order.
    pub const ALL: [PipelineResult; 4] = [
        PipelineResult::Succeeded,
        PipelineResult::Warned,
        PipelineResult::Failed,
        PipelineResult::Skipped,
    ];

    /// The result stored under `name`, if any.
    pub fn parse(name: &str) -> Option<PipelineResult> {
        PipelineResult::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// The last pipeline run of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverySummary {
    pub trigger: Trigger,
    pub started_ms: i64,
    pub finished_ms: i64,
    pub result: PipelineResult,
}

/// How one action of a pipeline went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepOutcome {
    Ok,
    /// Failed, but the action is not fatal: the pipeline went on.
    Warned,
    /// Failed and fatal: the pipeline stopped here.
    Failed,
}

impl StepOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Ok => "ok",
            StepOutcome::Warned => "warned",
            StepOutcome::Failed => "failed",
        }
    }
}

/// One action of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    pub action: String,
    pub outcome: StepOutcome,
    pub message: String,
    pub duration_ms: u64,
}

/// The result of an action request on one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionReport {
    pub key: String,
    pub result: PipelineResult,
    /// One line for a human.
    pub message: String,
    pub steps: Vec<StepReport>,
    /// The PID the service had before the action, when known (for `restart --wait`).
    pub old_pid: Option<u32>,
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaitOutcome {
    Healthy,
    TimedOut,
}

/// Reply to [`Request::Wait`]: the outcome and the service as it was then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitReply {
    pub outcome: WaitOutcome,
    pub status: ServiceStatus,
}
