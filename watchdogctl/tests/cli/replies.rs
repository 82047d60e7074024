//! Replies and records for the fake daemon to answer with.

use protocol::{
    ActionReport, ErrorKind, EventKind, EventRecord, Health, HistoryEntry, HistoryKind,
    PipelineResult, Response, ServiceState, ServiceStatus, StatusReply, StepOutcome, StepReport,
    Trigger,
};

pub fn service(key: &str, health: Option<Health>, pid: Option<u32>) -> ServiceStatus {
    ServiceStatus {
        key: key.into(),
        display_name: key.to_uppercase(),
        enabled: true,
        state: ServiceState::Running,
        health,
        pid,
        heartbeat_age_ms: Some(1200),
        consecutive_failures: 0,
        last_check_ms: Some(1_770_272_249_601),
        last_recovery: None,
        detail: "checked".into(),
        clock_skew_ms: None,
        restarts_in_window: 0,
        next_attempt_ms: None,
        off_until_ms: None,
        monitoring_override: None,
        actions_disabled: Vec::new(),
        status_text: None,
    }
}

pub fn status(services: Vec<ServiceStatus>) -> Response {
    Response::Status(StatusReply {
        daemon_version: "0.1.0".into(),
        daemon_pid: 1,
        services,
        audit_rows_dropped: 0,
        daemon_started_ms: 0,
    })
}

pub fn report(key: &str, result: PipelineResult, old_pid: Option<u32>) -> ActionReport {
    ActionReport {
        key: key.into(),
        result,
        message: format!("restart {}", result.as_str()),
        steps: vec![StepReport {
            action: "kill".into(),
            outcome: StepOutcome::Ok,
            message: "SIGTERM".into(),
            duration_ms: 12,
        }],
        old_pid,
    }
}

pub fn error(kind: ErrorKind, message: &str) -> Response {
    Response::Error {
        kind,
        message: message.into(),
    }
}

pub fn now_ms() -> i64 {
    protocol::time::now_millis()
}

pub fn recovery_entry(key: &str) -> HistoryEntry {
    HistoryEntry {
        kind: HistoryKind::Recovery,
        key: key.into(),
        at_ms: 1_770_272_244_601,
        health: None,
        pid: Some(43),
        failures: None,
        trigger: Some(Trigger::Automatic),
        outcome: "succeeded".into(),
        finished_ms: Some(1_770_272_245_635),
        steps: vec![StepReport {
            action: "kill".into(),
            outcome: StepOutcome::Ok,
            message: "SIGTERM".into(),
            duration_ms: 12,
        }],
        message: "automatic done".into(),
    }
}

pub fn check_entry(key: &str) -> HistoryEntry {
    HistoryEntry {
        kind: HistoryKind::Check,
        key: key.into(),
        at_ms: 1_770_272_249_601,
        health: Some(Health::StalePid),
        pid: Some(42),
        failures: Some(1),
        trigger: None,
        outcome: "stale_pid".into(),
        finished_ms: None,
        steps: Vec::new(),
        message: "pid 42 is not running".into(),
    }
}

pub fn event(i: i64) -> Response {
    Response::Event(EventRecord {
        at_ms: 1_770_272_249_601 + i * 1000,
        key: "api".into(),
        kind: EventKind::HealthChanged,
        health: Some(Health::Healthy),
        state: Some(ServiceState::Running),
        message: format!("event {i}"),
    })
}
