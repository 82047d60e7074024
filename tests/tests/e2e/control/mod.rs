//! Operator control through watchdogctl, one module per kind of command: `intent` (on, off,
//! off --for), `restart` (restart --wait), `bulk` (start-all, stop-all, check), `status`
//! (status, wait, exit codes, the `--json` shapes), `socket` (finding the daemon).

mod bulk;
mod intent;
mod restart;
mod socket;
mod status;

use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use watchdog_tests::{Sandbox, expect_exit};

use crate::sandbox;

pub(super) const T: Duration = Duration::from_secs(20);

/// How long a negative ("nothing restarts it") is watched: six check intervals of the harness
/// config (0.2 s) with a failure threshold of 2, so a wrong restart would have happened twice
/// over by then.
pub(super) const QUIET: Duration = Duration::from_millis(1200);

/// A threshold no test reaches: the daemon never starts or recovers the service by itself.
pub(super) const NEVER: u32 = 1_000_000;

pub(super) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(super) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The command's one line of `--json` output, after asserting its exit code.
pub(super) fn json_of(out: &Output, expect: i32) -> Value {
    let stdout = expect_exit(out, expect, "watchdogctl --json").stdout;
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout:?}"))
}

/// A sandbox with one test service `api`, and its daemon.
pub(super) fn one_service(threshold: Option<u32>) -> (Sandbox, watchdog_tests::Daemon) {
    let sb = sandbox();
    let mut cfg = sb.config(json!({ "api": sb.service("api", "") }));
    if let Some(n) = threshold {
        cfg["processes"]["api"]["consecutive_failures_threshold"] = json!(n);
    }
    sb.write_config(&cfg);
    let d = sb.start_daemon();
    (sb, d)
}
