//! The root-safe edges: everything the daemon opens, creates or signals on a service's behalf.
//!
//! watchdogd usually runs as root and starts services as other users. Such a user owns its
//! heartbeat folder, its log folder and its own processes, and may try to turn the daemon
//! against the host: plant a symlink where root will write, point a heartbeat at a terminal or
//! `/dev/watchdog`, get a PID it named recycled between two signals. The rules that stop this
//! are written once, here, and every other room goes through them:
//!
//! - [`path`]: reaching a folder without following a link a less-privileged user could have
//!   planted (every component opened `O_NOFOLLOW` relative to the one before);
//! - [`file`](mod@file): opening a service's files: a heartbeat only after its type is known to be a
//!   regular file (no device, FIFO or socket is ever opened, even for a moment), a log or the
//!   metrics text file only through a checked folder, never through a link, with unpredictable
//!   `O_EXCL` temp names;
//! - [`spawn`]: what a child gets: only fds 0–2, default signal dispositions, the open-files
//!   limit the daemon started with, the user's supplementary groups, its log files opened with
//!   the user's own rights;
//! - [`pidfd`]: signals through pidfds once a process's identity is confirmed, so a PID reused
//!   between SIGTERM and SIGKILL cannot be hit.

pub mod file;
pub mod path;
pub mod pidfd;
pub mod spawn;

/// The uid the daemon runs as (effective).
pub fn daemon_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Whether files and folders owned by `uid` are as trustworthy as the daemon itself: root's, or
/// the daemon's own user's.
pub fn trusted_owner(uid: u32) -> bool {
    uid == 0 || uid == daemon_uid()
}
