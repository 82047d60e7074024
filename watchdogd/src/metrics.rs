//! Metrics as text, rendered from the published snapshot (never from the owner's state).
//!
//! `watchdogctl metrics` gets OpenMetrics (counter families declared without `_total`, a final
//! `# EOF`); `metrics_textfile` gets the Prometheus text format node_exporter's textfile
//! collector reads (counter families declared with their `_total` sample name).

use std::fmt::Write as _;

use protocol::{Health, ServiceState};

use crate::supervisor::Snapshot;

/// Which text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    Prometheus,
}

const HEALTHS: [Health; 6] = [
    Health::NoHeartbeat,
    Health::StalePid,
    Health::TimedOut,
    Health::ErrorStatus,
    Health::Healthy,
    Health::Stalled,
];

const STATES: [ServiceState; 7] = [
    ServiceState::Running,
    ServiceState::Starting,
    ServiceState::Recovering,
    ServiceState::Stopping,
    ServiceState::Stopped,
    ServiceState::Disabled,
    ServiceState::GaveUp,
];

const RESULTS: [&str; 4] = ["succeeded", "warned", "failed", "skipped"];

/// Escapes a label value: backslash, double quote and newline.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out {
    text: String,
    format: Format,
}

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let declared = if kind == "counter" && self.format == Format::Prometheus {
            format!("{name}_total")
        } else {
            name.to_owned()
        };
        let _ = writeln!(self.text, "# HELP {declared} {help}");
        let _ = writeln!(self.text, "# TYPE {declared} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &str, value: f64) {
        if labels.is_empty() {
            let _ = writeln!(self.text, "{name} {value}");
        } else {
            let _ = writeln!(self.text, "{name}{{{labels}}} {value}");
        }
    }
}

/// The snapshot as metrics text.
pub fn render(snap: &Snapshot, format: Format) -> String {
    let mut o = Out {
        text: String::with_capacity(256 + snap.services.len() * 1024),
        format,
    };
    let now_ms = protocol::time::now_millis();
    let keys: Vec<String> = snap
        .services
        .iter()
        .map(|s| format!("key=\"{}\"", label(&s.key)))
        .collect();

    o.family(
        "watchdog_service_healthy",
        "gauge",
        "1 when the last check was healthy, else 0.",
    );
    for (s, k) in snap.services.iter().zip(&keys) {
        o.sample(
            "watchdog_service_healthy",
            k,
            f64::from(u8::from(s.health == Some(Health::Healthy))),
        );
    }
    o.family(
        "watchdog_service_health",
        "gauge",
        "1 for the service's current health state.",
    );
    for (s, k) in snap.services.iter().zip(&keys) {
        for h in HEALTHS {
            let on = s.health == Some(h);
            o.sample(
                "watchdog_service_health",
                &format!("{k},health=\"{}\"", h.as_str()),
                f64::from(u8::from(on)),
            );
        }
    }
    o.family(
        "watchdog_service_state",
        "gauge",
        "1 for the service's current lifecycle state.",
    );
    for (s, k) in snap.services.iter().zip(&keys) {
        for st in STATES {
            let on = s.state == st;
            o.sample(
                "watchdog_service_state",
                &format!("{k},state=\"{}\"", st.as_str()),
                f64::from(u8::from(on)),
            );
        }
    }
    o.family(
        "watchdog_service_heartbeat_age_seconds",
        "gauge",
        "Age of the heartbeat at the last check.",
    );
    for (s, k) in snap.services.iter().zip(&keys) {
        if let Some(age) = s.heartbeat_age_ms {
            o.sample(
                "watchdog_service_heartbeat_age_seconds",
                k,
                age as f64 / 1000.0,
            );
        }
    }
    o.family(
        "watchdog_service_consecutive_failures",
        "gauge",
        "Unhealthy checks in a row.",
    );
    for (s, k) in snap.services.iter().zip(&keys) {
        o.sample(
            "watchdog_service_consecutive_failures",
            k,
            f64::from(s.consecutive_failures),
        );
    }
    o.family(
        "watchdog_service_recoveries",
        "counter",
        "Pipelines run since watchdogd started, by result.",
    );
    for (c, k) in snap.counters.iter().zip(&keys) {
        for (n, result) in c.recoveries.iter().zip(RESULTS) {
            o.sample(
                "watchdog_service_recoveries_total",
                &format!("{k},result=\"{result}\""),
                *n as f64,
            );
        }
    }
    o.family(
        "watchdog_service_last_recovery_duration_seconds",
        "gauge",
        "How long the last pipeline took.",
    );
    for (c, k) in snap.counters.iter().zip(&keys) {
        if let Some(ms) = c.last_recovery_duration_ms {
            o.sample(
                "watchdog_service_last_recovery_duration_seconds",
                k,
                ms as f64 / 1000.0,
            );
        }
    }
    o.family(
        "watchdogd_uptime_seconds",
        "gauge",
        "Seconds since watchdogd started.",
    );
    o.sample(
        "watchdogd_uptime_seconds",
        "",
        (now_ms - snap.daemon.started_ms) as f64 / 1000.0,
    );
    o.family(
        "watchdogd_tick_duration_seconds",
        "gauge",
        "Time the last check batch took to read and classify.",
    );
    o.sample(
        "watchdogd_tick_duration_seconds",
        "",
        snap.daemon.last_tick_ms / 1000.0,
    );
    o.family(
        "watchdogd_tick_duration_max_seconds",
        "gauge",
        "The longest check batch since start.",
    );
    o.sample(
        "watchdogd_tick_duration_max_seconds",
        "",
        snap.daemon.max_tick_ms / 1000.0,
    );
    o.family(
        "watchdogd_checks",
        "counter",
        "Heartbeat checks made since start.",
    );
    o.sample(
        "watchdogd_checks_total",
        "",
        snap.daemon.checks_total as f64,
    );
    o.family(
        "watchdogd_audit_rows_dropped",
        "counter",
        "Audit-log rows that could not be written.",
    );
    o.sample(
        "watchdogd_audit_rows_dropped_total",
        "",
        snap.dropped_rows as f64,
    );
    o.family("watchdogd_services", "gauge", "Services in the config.");
    o.sample("watchdogd_services", "", snap.services.len() as f64);
    if format == Format::OpenMetrics {
        o.text.push_str("# EOF\n");
    }
    o.text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
