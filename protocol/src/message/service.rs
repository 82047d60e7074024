//! A service as the daemon reports it: its status row, lifecycle state, health, last recovery.

use serde::{Deserialize, Serialize};

use super::pipeline::{PipelineResult, Trigger};

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

/// The last pipeline run of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverySummary {
    pub trigger: Trigger,
    pub started_ms: i64,
    pub finished_ms: i64,
    pub result: PipelineResult,
}
