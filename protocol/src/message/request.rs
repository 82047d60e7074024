//! What a client asks: [`Request`] and the named arguments of its larger variants.

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
    /// [`Response::Event`](super::Response::Event) frames until the client disconnects.
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
    /// [`Response::Status`](super::Response::Status), then
    /// [`Response::Changes`](super::Response::Changes) and
    /// [`Response::Event`](super::Response::Event) frames as things happen, until the client
    /// disconnects. The status and the changes come from the same snapshots, so nothing falls
    /// between the first status and the stream.
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
