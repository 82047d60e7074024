//! Helpers for the end-to-end tests: build and locate the real binaries, lay out a sandbox
//! (a short temp folder holding config, socket, database and heartbeats), start `watchdogd`,
//! run `watchdogctl`, and wait on conditions against deadlines.
//!
//! Cleanup is by PID we own, never by name: `Daemon` stops its watchdogd in `Drop`, and
//! `Sandbox` kills every service process listed in its starts files (each test service writes
//! its PID there on start) or named by a heartbeat file in the sandbox, together with its
//! process group. Declare the `Daemon` after the `Sandbox` so it is dropped (stopped) first and
//! cannot restart what the sandbox kills.

pub mod fuse;
pub mod sshd;
pub mod tmux;
pub mod users;

mod alarm;
mod bins;
mod cleanup;
mod ctl;
mod daemon;
mod deadline;
mod exit;
mod follower;
mod sandbox;

use nix::sys::signal::kill;
use nix::unistd::Pid;

pub use bins::{Bins, bins};
pub use ctl::{ctl_at, ctl_command, run_ctl};
pub use daemon::Daemon;
pub use deadline::wait_until;
pub use exit::{Printed, expect_exit};
pub use follower::Follower;
pub use sandbox::Sandbox;

/// Whether a process exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    if kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next().map(str::to_owned));
    !matches!(state.as_deref(), Some("Z" | "X"))
}
