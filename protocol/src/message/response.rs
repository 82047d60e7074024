//! What the daemon answers: [`Response`] and the replies it carries.

use serde::{Deserialize, Serialize};

use super::history::{EventRecord, HistoryEntry};
use super::pipeline::{PipelineResult, StepReport};
use super::service::ServiceStatus;

/// The daemon's reply to one [`Request`](super::Request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The request was refused or failed before doing anything. Variant 0: frozen forever.
    Error { kind: ErrorKind, message: String },
    /// Reply to [`Request::Status`](super::Request::Status) and
    /// [`Request::Check`](super::Request::Check).
    Status(StatusReply),
    /// Reply to `On`, `Off` and `Restart`.
    Action(ActionReport),
    /// Reply to `StartAll` and `StopAll`: one report per service.
    Bulk(Vec<ActionReport>),
    /// Reply to [`Request::Wait`](super::Request::Wait).
    Wait(WaitReply),
    /// Reply to [`Request::Reload`](super::Request::Reload) when the new config was applied.
    Reload(ReloadReport),
    /// Reply to [`Request::History`](super::Request::History), newest first.
    History(Vec<HistoryEntry>),
    /// One frame of the [`Request::Events`](super::Request::Events) stream.
    Event(EventRecord),
    /// Reply to [`Request::Detail`](super::Request::Detail).
    Detail(Box<ServiceDetail>),
    /// Reply to [`Request::Metrics`](super::Request::Metrics): OpenMetrics text.
    Metrics(String),
    /// Reply to [`Request::Version`](super::Request::Version).
    Version(VersionReply),
    /// Reply to [`Request::Check`](super::Request::Check): the services after the check, and
    /// the recoveries it ran.
    Check(CheckReport),
    /// One frame of the [`Request::Watch`](super::Request::Watch) stream: what changed since
    /// the frame before.
    Changes(StatusChanges),
}

/// The services that changed since the last frame of a
/// [`Request::Watch`](super::Request::Watch) stream. Each check of a service changes it (its
/// `last_check_ms`), so a follower sees every check, except that checks of one service closer
/// together than the daemon publishes (100 ms) arrive as one.
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

/// Reply to [`Request::Detail`](super::Request::Detail).
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

/// Reply to [`Request::Version`](super::Request::Version).
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

/// Reply to [`Request::Wait`](super::Request::Wait): the outcome and the service as it was then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitReply {
    pub outcome: WaitOutcome,
    pub status: ServiceStatus,
}
