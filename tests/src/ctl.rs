//! Running the real `watchdogctl`, bounded, with the caller's environment cleared of the socket
//! and config variables.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::bins;
use crate::deadline::output_within;

/// Runs watchdogctl against the daemon at `socket` (bounded: killed, and the test failed, after
/// 90 s, beyond any `--timeout` a test passes).
pub fn ctl_at(socket: &Path, args: &[&str]) -> Output {
    let mut cmd = ctl_command();
    cmd.arg("--socket").arg(socket).args(args);
    run_ctl(cmd)
}

/// A bare `watchdogctl` command, its environment cleared of the socket and config variables,
/// for tests of how it finds the socket.
pub fn ctl_command() -> Command {
    let mut cmd = Command::new(&bins().watchdogctl);
    cmd.env_remove("WATCHDOG_CONFIG")
        .env_remove("WATCHDOG_SOCKET");
    cmd
}

/// Runs a watchdogctl command (bounded as in [`ctl_at`]).
pub fn run_ctl(mut cmd: Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run watchdogctl");
    output_within(child, Duration::from_secs(90), "watchdogctl")
}
