//! What the store keeps: the rows written ([`Record`]) and the state of a service read back at
//! the start ([`SavedState`]), shared by the handle, the writer and the schema.

use protocol::{EventKind, Health, PipelineResult, RecoverySummary, StepReport, Trigger};

/// Whether the operator wants a service running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    On,
    Off,
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::On => "on",
            Intent::Off => "off",
        }
    }
}

/// One row to write.
#[derive(Debug, Clone)]
pub enum Record {
    Check {
        key: String,
        health: Health,
        pid: Option<u32>,
        age_ms: Option<i64>,
        failures: u32,
        detail: String,
        at_ms: i64,
    },
    State(SavedState),
    /// A pipeline began: written at once, so one cut off by a crash is found at the next start.
    PipelineStarted {
        run_id: String,
        key: String,
        trigger: Trigger,
        started_ms: i64,
    },
    /// A pipeline ended: completes its `PipelineStarted` row.
    Pipeline {
        run_id: String,
        key: String,
        trigger: Trigger,
        result: PipelineResult,
        message: String,
        steps: Vec<StepReport>,
        old_pid: Option<u32>,
        new_pid: Option<u32>,
        started_ms: i64,
        finished_ms: i64,
    },
    /// Anything else worth an audit row; also sent to live followers.
    Event {
        key: String,
        kind: EventKind,
        message: String,
        at_ms: i64,
    },
}

impl Record {
    /// An audit event about `key` (empty: the daemon itself).
    pub fn event(key: &str, kind: EventKind, message: String, at_ms: i64) -> Record {
        Record::Event {
            key: key.to_owned(),
            kind,
            message,
            at_ms,
        }
    }
}

/// A service past its restart budget (flap protection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaveUp {
    pub since_ms: i64,
    /// Backoff attempts made since giving up.
    pub attempts: u32,
    /// The earliest next automatic attempt; `None` when no further attempts are configured.
    pub next_attempt_ms: Option<i64>,
}

/// What the store remembers of a service across restarts.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedState {
    pub key: String,
    pub failures: u32,
    pub intent: Intent,
    pub last_health: Option<Health>,
    pub last_check_ms: Option<i64>,
    pub last_recovery: Option<RecoverySummary>,
    /// Start times (ms) of automatic recoveries within the restart window.
    pub restarts: Vec<i64>,
    pub gave_up: Option<GaveUp>,
    /// The session watchdogd last started for it: (pid = process group, start time in µs).
    pub started: Option<(u32, i64)>,
    /// The end of a maintenance window (`off --for`), in ms.
    pub off_until_ms: Option<i64>,
    /// A runtime override of `enabled` (`watchdogctl enable|disable`).
    pub monitoring_override: Option<bool>,
    /// Recovery actions turned off at runtime (`watchdogctl actions`).
    pub actions_off: Vec<String>,
}

/// A pipeline that was running when the previous daemon died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    pub key: String,
    pub trigger: String,
    pub started_ms: i64,
}
