//! Metrics as text, rendered from the published snapshot (never from the owner's state).
//!
//! `watchdogctl metrics` gets OpenMetrics (counter families declared without `_total`, a final
//! `# EOF`); `metrics_textfile` gets the Prometheus text format node_exporter's textfile
//! collector reads (counter families declared with their `_total` sample name). The text file
//! is rewritten by a task of its own that watches the snapshots, at most once a second, off the
//! runtime and through [`crate::guard::file::replace`] (never through a planted link).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use protocol::{Health, ServiceState, ServiceStatus};
use tokio_util::sync::CancellationToken;

use crate::supervisor::{ServiceCounters, Snapshot, SupervisorHandle};

/// Which text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    Prometheus,
}

const STATES: [ServiceState; 9] = [
    ServiceState::Running,
    ServiceState::Starting,
    ServiceState::Recovering,
    ServiceState::Stopping,
    ServiceState::Stopped,
    ServiceState::Disabled,
    ServiceState::GaveUp,
    ServiceState::Failing,
    ServiceState::Queued,
];

const RESULTS: [&str; 4] = ["succeeded", "warned", "failed", "skipped"];

/// Escapes a label value: backslash, double quote and newline.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One metric family over the services: each service gives zero or more (extra labels, value)
/// samples.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: fn(&ServiceStatus, &ServiceCounters, &mut dyn FnMut(String, f64)),
}

fn flag(on: bool) -> f64 {
    f64::from(u8::from(on))
}

const FAMILIES: &[Family] = &[
    Family {
        name: "watchdog_service_healthy",
        kind: "gauge",
        help: "1 when the last check was healthy, else 0.",
        samples: |s, _, out| out(String::new(), flag(s.health == Some(Health::Healthy))),
    },
    Family {
        name: "watchdog_service_health",
        kind: "gauge",
        help: "1 for the service's current health state.",
        samples: |s, _, out| {
            for h in Health::ALL {
                out(
                    format!(",health=\"{}\"", h.as_str()),
                    flag(s.health == Some(h)),
                );
            }
        },
    },
    Family {
        name: "watchdog_service_state",
        kind: "gauge",
        help: "1 for the service's current lifecycle state.",
        samples: |s, _, out| {
            for st in STATES {
                out(format!(",state=\"{}\"", st.as_str()), flag(s.state == st));
            }
        },
    },
    Family {
        name: "watchdog_service_heartbeat_age_seconds",
        kind: "gauge",
        help: "Age of the heartbeat at the last check.",
        samples: |s, _, out| {
            if let Some(age) = s.heartbeat_age_ms {
                out(String::new(), age as f64 / 1000.0);
            }
        },
    },
    Family {
        name: "watchdog_service_consecutive_failures",
        kind: "gauge",
        help: "Unhealthy checks in a row.",
        samples: |s, _, out| out(String::new(), f64::from(s.consecutive_failures)),
    },
    Family {
        name: "watchdog_service_recoveries",
        kind: "counter",
        help: "Pipelines run since watchdogd started, by result.",
        samples: |_, c, out| {
            for (n, result) in c.recoveries.iter().zip(RESULTS) {
                out(format!(",result=\"{result}\""), *n as f64);
            }
        },
    },
    Family {
        name: "watchdog_service_notify_messages",
        kind: "counter",
        help: "Datagrams on the service's notify socket since watchdogd started: accepted, dropped (not sent by a process of the service) or malformed.",
        samples: |_, c, out| {
            if let Some(n) = c.notify {
                for (outcome, count) in [
                    ("accepted", n.accepted),
                    ("dropped", n.dropped),
                    ("malformed", n.malformed),
                ] {
                    out(format!(",outcome=\"{outcome}\""), count as f64);
                }
            }
        },
    },
    Family {
        name: "watchdog_service_last_recovery_duration_seconds",
        kind: "gauge",
        help: "How long the last pipeline took.",
        samples: |_, c, out| {
            if let Some(ms) = c.last_recovery_duration_ms {
                out(String::new(), ms as f64 / 1000.0);
            }
        },
    },
];

/// The daemon's own families: (name, kind, help, value).
fn daemon_families(
    snap: &Snapshot,
    now_ms: i64,
) -> [(&'static str, &'static str, &'static str, f64); 10] {
    let d = &snap.daemon;
    [
        (
            "watchdogd_uptime_seconds",
            "gauge",
            "Seconds since watchdogd started.",
            (now_ms - d.started_ms) as f64 / 1000.0,
        ),
        (
            "watchdogd_tick_duration_seconds",
            "gauge",
            "Time the last check took to read and judge.",
            d.last_tick_ms / 1000.0,
        ),
        (
            "watchdogd_tick_duration_max_seconds",
            "gauge",
            "The longest check since start.",
            d.max_tick_ms / 1000.0,
        ),
        (
            "watchdogd_checks",
            "counter",
            "Heartbeat checks made since start.",
            d.checks_total as f64,
        ),
        (
            "watchdogd_audit_rows_dropped",
            "counter",
            "Audit-log rows that could not be written.",
            snap.dropped_rows as f64,
        ),
        (
            "watchdogd_services",
            "gauge",
            "Services in the config.",
            snap.services.len() as f64,
        ),
        (
            "watchdogd_pipelines_running",
            "gauge",
            "Pipelines running now.",
            d.pipelines_running as f64,
        ),
        (
            "watchdogd_pipelines_waiting",
            "gauge",
            "Pipelines waiting for a slot (max_parallel_recoveries).",
            d.pipelines_waiting as f64,
        ),
        (
            "watchdogd_reader_threads",
            "gauge",
            "Threads reading heartbeats and looking at services' paths.",
            d.reader_threads as f64,
        ),
        (
            "watchdogd_reader_threads_stuck",
            "gauge",
            "Reader threads whose file system has not answered for a second or more.",
            d.reader_threads_stuck as f64,
        ),
    ]
}

/// The snapshot as metrics text.
pub fn render(snap: &Snapshot, format: Format) -> String {
    let mut text = String::with_capacity(256 + snap.services.len() * 1024);
    let declare = |text: &mut String, name: &str, kind: &str, help: &str| {
        let declared = if kind == "counter" && format == Format::Prometheus {
            format!("{name}_total")
        } else {
            name.to_owned()
        };
        let _ = writeln!(text, "# HELP {declared} {help}");
        let _ = writeln!(text, "# TYPE {declared} {kind}");
    };
    let keys: Vec<String> = snap
        .services
        .iter()
        .map(|s| format!("key=\"{}\"", label(&s.key)))
        .collect();
    let none = ServiceCounters::default();
    let counters = snap.counters.iter().chain(std::iter::repeat(&none));
    for family in FAMILIES {
        declare(&mut text, family.name, family.kind, family.help);
        let sample = if family.kind == "counter" {
            format!("{}_total", family.name)
        } else {
            family.name.to_owned()
        };
        for ((s, c), k) in snap.services.iter().zip(counters.clone()).zip(&keys) {
            (family.samples)(s, c, &mut |extra, value| {
                let _ = writeln!(text, "{sample}{{{k}{extra}}} {value}");
            });
        }
    }
    for (name, kind, help, value) in daemon_families(snap, protocol::time::now_millis()) {
        declare(&mut text, name, kind, help);
        let sample = if kind == "counter" {
            format!("{name}_total")
        } else {
            name.to_owned()
        };
        let _ = writeln!(text, "{sample} {value}");
    }
    if format == Format::OpenMetrics {
        text.push_str("# EOF\n");
    }
    text
}

/// Rewrites `metrics_textfile` (when the config in force names one) as snapshots change, at
/// most once a second.
pub fn spawn_textfile_writer(handle: &SupervisorHandle, stop: CancellationToken) {
    let mut snapshots = handle.watch();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                changed = snapshots.changed() => if changed.is_err() { return },
            }
            let snap: Arc<Snapshot> = snapshots.borrow_and_update().clone();
            if let Some(path) = snap.config.metrics_textfile.clone() {
                let written = tokio::task::spawn_blocking(move || {
                    let text = render(&snap, Format::Prometheus);
                    crate::guard::file::replace(&path, text.as_bytes(), 0o644)
                        .map_err(|e| (path, e))
                })
                .await;
                if let Ok(Err((path, e))) = written {
                    tracing::warn!(target: "metrics", "cannot write {}: {e}", path.display());
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
