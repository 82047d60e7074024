//! `--json` output: the replies as stable JSON documents for scripts.
//!
//! The wire types are bincode-shaped (integer milliseconds, Rust enums), so they are mapped by
//! hand into a documented shape rather than derived: enum values become their `as_str` names,
//! times become RFC 3339 strings, ages become float seconds. Changing a key here breaks users'
//! scripts; the tests pin the shape.

use protocol::time::format_millis;
use protocol::{ActionReport, RecoverySummary, ServiceStatus, StepReport, WaitOutcome, WaitReply};
use serde_json::{Value, json};

/// One service: `{key, display_name, enabled, state, health, pid, heartbeat_age_seconds,
/// consecutive_failures, last_check, last_recovery, detail, clock_skew, restarts_in_window,
/// next_attempt, off_until, monitoring_override, actions_disabled, status_text}`.
pub fn service(s: &ServiceStatus) -> Value {
    json!({
        "key": s.key,
        "display_name": s.display_name,
        "enabled": s.enabled,
        "state": s.state.as_str(),
        "health": s.health.map(|h| h.as_str()),
        "pid": s.pid,
        // i64 → f64 is exact for any age below 2^53 ms (285,000 years).
        "heartbeat_age_seconds": s.heartbeat_age_ms.map(|ms| ms as f64 / 1000.0),
        "consecutive_failures": s.consecutive_failures,
        "last_check": s.last_check_ms.map(format_millis),
        "last_recovery": s.last_recovery.as_ref().map(recovery),
        "detail": s.detail,
        "clock_skew": s.clock_skew_ms.map(|ms| ms as f64 / 1000.0),
        "restarts_in_window": s.restarts_in_window,
        "next_attempt": s.next_attempt_ms.map(format_millis),
        "off_until": s.off_until_ms.map(format_millis),
        "monitoring_override": s.monitoring_override,
        "actions_disabled": s.actions_disabled,
        "status_text": s.status_text,
    })
}

/// `reload`: `{added, removed, changed, needs_restart, warnings}`, each an array of strings.
pub fn reload(r: &protocol::ReloadReport) -> Value {
    json!({
        "added": r.added,
        "removed": r.removed,
        "changed": r.changed,
        "needs_restart": r.needs_restart,
        "warnings": r.warnings,
    })
}

fn recovery(r: &RecoverySummary) -> Value {
    json!({
        "trigger": r.trigger.as_str(),
        "result": r.result.as_str(),
        "started": format_millis(r.started_ms),
        "finished": format_millis(r.finished_ms),
    })
}

/// `status` / `check`: an array of [`service`] objects.
pub fn services(list: &[ServiceStatus]) -> Value {
    Value::Array(list.iter().map(service).collect())
}

/// [`services`] as text (one line), written straight from the statuses: the same object as
/// [`service`] builds, field for field in the same (sorted) order, without building a tree of
/// values first (at thousands of services that tree was most of `status --json`'s time).
pub fn services_line(list: &[ServiceStatus]) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Recovery<'a> {
        finished: String,
        result: &'a str,
        started: String,
        trigger: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Service<'a> {
        actions_disabled: &'a [String],
        clock_skew: Option<f64>,
        consecutive_failures: u32,
        detail: &'a str,
        display_name: &'a str,
        enabled: bool,
        health: Option<&'a str>,
        heartbeat_age_seconds: Option<f64>,
        key: &'a str,
        last_check: Option<String>,
        last_recovery: Option<Recovery<'a>>,
        monitoring_override: Option<bool>,
        next_attempt: Option<String>,
        off_until: Option<String>,
        pid: Option<u32>,
        restarts_in_window: u32,
        state: &'a str,
        status_text: Option<&'a str>,
    }
    let rows = list.iter().map(|s| Service {
        actions_disabled: &s.actions_disabled,
        clock_skew: s.clock_skew_ms.map(|ms| ms as f64 / 1000.0),
        consecutive_failures: s.consecutive_failures,
        detail: &s.detail,
        display_name: &s.display_name,
        enabled: s.enabled,
        health: s.health.map(|h| h.as_str()),
        heartbeat_age_seconds: s.heartbeat_age_ms.map(|ms| ms as f64 / 1000.0),
        key: &s.key,
        last_check: s.last_check_ms.map(format_millis),
        last_recovery: s.last_recovery.as_ref().map(|r| Recovery {
            finished: format_millis(r.finished_ms),
            result: r.result.as_str(),
            started: format_millis(r.started_ms),
            trigger: r.trigger.as_str(),
        }),
        monitoring_override: s.monitoring_override,
        next_attempt: s.next_attempt_ms.map(format_millis),
        off_until: s.off_until_ms.map(format_millis),
        pid: s.pid,
        restarts_in_window: s.restarts_in_window,
        state: s.state.as_str(),
        status_text: s.status_text.as_deref(),
    });
    struct Rows<I>(std::cell::RefCell<Option<I>>);
    impl<'a, I: Iterator<Item = Service<'a>>> serde::Serialize for Rows<I> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.borrow_mut().take().into_iter().flatten())
        }
    }
    let mut out = Vec::with_capacity(64 + list.len() * 480);
    // Serializing plain fields into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, &Rows(std::cell::RefCell::new(Some(rows))));
    out.push(b'\n');
    out
}

/// `on` / `off` / `restart`: `{key, result, message, old_pid, steps: [{action, outcome, message,
/// duration_ms}]}`.
pub fn action(r: &ActionReport) -> Value {
    let steps: Vec<Value> = r.steps.iter().map(step).collect();
    json!({
        "key": r.key,
        "result": r.result.as_str(),
        "message": r.message,
        "old_pid": r.old_pid,
        "steps": steps,
    })
}

/// One pipeline step: `{action, outcome, message, duration_ms}`.
pub fn step(s: &StepReport) -> Value {
    json!({
        "action": s.action,
        "outcome": s.outcome.as_str(),
        "message": s.message,
        "duration_ms": s.duration_ms,
    })
}

/// `off KEY --for D`: the [`action`] object plus `off_until` (as the client reckons it: the
/// daemon's own value is in `status`).
pub fn off_for(r: &ActionReport, until_ms: i64) -> Value {
    let mut v = action(r);
    v["off_until"] = json!(format_millis(until_ms));
    v
}

/// `start-all` / `stop-all`: an array of [`action`] objects.
pub fn bulk(reports: &[ActionReport]) -> Value {
    Value::Array(reports.iter().map(action).collect())
}

/// `wait`: `{outcome: "healthy" | "timed_out", service: <service>}`.
pub fn wait(w: &WaitReply) -> Value {
    let outcome = match w.outcome {
        WaitOutcome::Healthy => "healthy",
        WaitOutcome::TimedOut => "timed_out",
    };
    json!({ "outcome": outcome, "service": service(&w.status) })
}

/// `check`: `{services: [<service>], recoveries: [<action>]}`.
pub fn check(r: &protocol::CheckReport) -> Value {
    json!({
        "services": services(&r.status.services),
        "recoveries": bulk(&r.recoveries),
    })
}

/// `restart --wait`: `{restart: <action>, wait: <wait> | null}` (null when the restart failed).
pub fn restart_wait(r: &ActionReport, w: Option<&WaitReply>) -> Value {
    json!({ "restart": action(r), "wait": w.map(wait) })
}

/// A document as one line of compact JSON.
pub fn line(value: &Value) -> String {
    format!("{value}\n")
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_streamed_table_is_the_same_json_as_the_built_one() {
        let mut other = sample();
        other.key = "b".into();
        other.last_recovery = None;
        other.health = None;
        other.status_text = Some("warming up".into());
        let list = [sample(), other];
        assert_eq!(
            String::from_utf8(services_line(&list)).unwrap(),
            line(&services(&list))
        );
    }

    use super::*;
    use protocol::{
        Health, PipelineResult, ServiceState, StepOutcome, StepReport, Trigger, WaitOutcome,
    };

    fn sample() -> ServiceStatus {
        ServiceStatus {
            key: "api".into(),
            display_name: "API".into(),
            enabled: true,
            state: ServiceState::Running,
            health: Some(Health::Healthy),
            pid: Some(4242),
            heartbeat_age_ms: Some(1500),
            consecutive_failures: 0,
            last_check_ms: Some(1_770_272_249_601),
            last_recovery: Some(RecoverySummary {
                trigger: Trigger::Restart,
                started_ms: 1_770_272_000_000,
                finished_ms: 1_770_272_001_250,
                result: PipelineResult::Warned,
            }),
            detail: "ok".into(),
            clock_skew_ms: None,
            restarts_in_window: 1,
            next_attempt_ms: None,
            off_until_ms: None,
            monitoring_override: None,
            actions_disabled: Vec::new(),
            status_text: None,
        }
    }

    #[test]
    fn service_shape() {
        assert_eq!(
            service(&sample()),
            json!({
                "key": "api",
                "display_name": "API",
                "enabled": true,
                "state": "running",
                "health": "healthy",
                "pid": 4242,
                "heartbeat_age_seconds": 1.5,
                "consecutive_failures": 0,
                "last_check": "2026-02-05T06:17:29.601000+00:00",
                "last_recovery": {
                    "trigger": "restart",
                    "result": "warned",
                    "started": "2026-02-05T06:13:20.000000+00:00",
                    "finished": "2026-02-05T06:13:21.250000+00:00",
                },
                "detail": "ok",
                "clock_skew": null,
                "restarts_in_window": 1,
                "next_attempt": null,
                "off_until": null,
                "monitoring_override": null,
                "actions_disabled": [],
                "status_text": null,
            })
        );
    }

    #[test]
    fn unknowns_are_null() {
        let s = ServiceStatus {
            health: None,
            pid: None,
            heartbeat_age_ms: None,
            last_check_ms: None,
            last_recovery: None,
            state: ServiceState::Disabled,
            ..sample()
        };
        let v = service(&s);
        for key in [
            "health",
            "pid",
            "heartbeat_age_seconds",
            "last_check",
            "last_recovery",
            "off_until",
        ] {
            assert_eq!(v[key], Value::Null, "{key}");
        }
        assert_eq!(v["state"], "disabled");
        assert_eq!(services(&[s.clone(), s]).as_array().map(Vec::len), Some(2));
    }

    fn report() -> ActionReport {
        ActionReport {
            key: "api".into(),
            result: PipelineResult::Failed,
            message: "start failed".into(),
            steps: vec![StepReport {
                action: "start".into(),
                outcome: StepOutcome::Failed,
                message: "exited with 1".into(),
                duration_ms: 2000,
            }],
            old_pid: None,
        }
    }

    #[test]
    fn action_shape() {
        assert_eq!(
            action(&report()),
            json!({
                "key": "api",
                "result": "failed",
                "message": "start failed",
                "old_pid": null,
                "steps": [{
                    "action": "start",
                    "outcome": "failed",
                    "message": "exited with 1",
                    "duration_ms": 2000,
                }],
            })
        );
        assert_eq!(bulk(&[report()]), json!([action(&report())]));
        let off = off_for(&report(), 1_770_272_249_601);
        assert_eq!(off["off_until"], "2026-02-05T06:17:29.601000+00:00");
        assert_eq!(off["steps"], action(&report())["steps"]);
    }

    #[test]
    fn wait_and_restart_wait_shapes() {
        let w = WaitReply {
            outcome: WaitOutcome::TimedOut,
            status: sample(),
        };
        assert_eq!(
            wait(&w),
            json!({ "outcome": "timed_out", "service": service(&sample()) })
        );
        assert_eq!(
            restart_wait(&report(), Some(&w)),
            json!({ "restart": action(&report()), "wait": wait(&w) })
        );
        assert_eq!(restart_wait(&report(), None)["wait"], Value::Null);
    }

    #[test]
    fn lines_are_compact_and_terminated() {
        let text = line(&services(&[sample()]));
        assert!(text.starts_with("[{"));
        assert!(text.ends_with("}]\n"));
        assert_eq!(text.lines().count(), 1);
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, services(&[sample()]));
    }
}
