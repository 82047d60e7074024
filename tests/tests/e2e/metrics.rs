//! Metrics: `watchdogctl metrics` parsed by a real OpenMetrics parser, and the node_exporter
//! textfile kept fresh.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use watchdog_tests::wait_until;

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

#[test]
fn metrics_parse_with_a_real_parser_and_the_textfile_is_kept_fresh() {
    let sb = sandbox();
    let mut cfg = sb.config(json!({ "api": sb.service("api", ""), "db": sb.service("db", "") }));
    cfg["metrics_textfile"] = json!("metrics/watchdog.prom");
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "api"]);
    sb.wait_healthy("api", None, T);
    let text = sb.ctl_ok(&["metrics"]);
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    for want in [
        "watchdog_service_healthy{key=\"api\"} 1",
        "watchdog_service_consecutive_failures{key=\"api\"}",
        "watchdog_service_recoveries_total{key=\"api\",result=\"succeeded\"} 1",
        "watchdog_service_heartbeat_age_seconds{key=\"api\"}",
        "watchdogd_uptime_seconds",
        "watchdogd_tick_duration_seconds",
        "watchdogd_audit_rows_dropped_total 0",
    ] {
        assert!(text.contains(want), "missing {want}:\n{text}");
    }
    let textfile = sb.path().join("metrics/watchdog.prom");
    wait_until("the metrics text file", T, || textfile.exists());
    let prom = std::fs::read_to_string(&textfile).unwrap();
    assert!(
        prom.contains("# TYPE watchdog_service_recoveries_total counter"),
        "{prom}"
    );
    let parsers = [
        ("prometheus_client.openmetrics.parser", text.as_str()),
        ("prometheus_client.parser", prom.as_str()),
    ];
    let usable = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .status()
        .is_ok_and(|s| s.success());
    if !usable {
        eprintln!(
            "skipped the external parser: python3 with prometheus_client is not installed (.ci/run installs it)"
        );
        return;
    }
    for (module, input) in parsers {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import sys; from {module} import text_string_to_metric_families as p; fams = list(p(sys.stdin.read())); print(len(fams))"
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{module} rejected the text: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let families: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert!(families >= 10, "{module}: {families} families");
    }
}
