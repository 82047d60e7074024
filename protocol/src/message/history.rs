//! The audit log and the live events: what each entry or event is about.

use serde::{Deserialize, Serialize};

use super::pipeline::{StepReport, Trigger};
use super::service::{Health, ServiceState};

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
