//! Cleaning up after a test by PID it owns, never by name: every service process listed in the
//! sandbox's starts files (each test service writes its PID there on start) or named by a
//! heartbeat file in the sandbox, together with its process group.

use std::path::Path;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::Value;

/// Kills every service process a test's daemon started in the sandbox at `dir`, and their
/// groups: the PIDs in the starts files, and those named by heartbeat files under `hb/` and
/// `run/heartbeats/` (services that keep no starts file, like the demo service).
pub(crate) fn kill_services(dir: &Path) {
    let mut pids: Vec<i32> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.path().extension().is_some_and(|e| e == "starts") {
                pids.extend(read_pids(&entry.path()));
            }
        }
    }
    for sub in ["hb", "run/heartbeats"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Some(pid) = heartbeat_pid(&entry.path())
                && runs_in(pid, dir)
            {
                pids.push(pid);
            }
        }
    }
    let own = std::process::id() as i32;
    let own_group = nix::unistd::getpgrp().as_raw();
    for pid in pids {
        if pid > 1 && pid != own && pid != own_group {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// The PID a heartbeat file names, if it is one. Only small regular files are read: a test may
/// leave a hostile heartbeat behind (a FIFO, a symlink to `/dev/zero`, a 1 GiB file), and
/// cleanup must neither block on it nor read it whole.
fn heartbeat_pid(path: &Path) -> Option<i32> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > 64 * 1024 {
        return None;
    }
    let text = std::fs::read(path).ok()?;
    let beat: Value = serde_json::from_slice(&text).ok()?;
    i32::try_from(beat["pid"].as_i64()?).ok()
}

/// Whether `pid` runs inside `dir` (its working folder is there), as every service a test's
/// daemon starts does. A heartbeat file can outlive its writer and its PID be reused, and we
/// must never kill a stranger. Where there is no /proc to ask, the PID is trusted.
fn runs_in(pid: i32, dir: &Path) -> bool {
    if !Path::new("/proc/self/cwd").exists() {
        return true;
    }
    let (Ok(cwd), Ok(dir)) = (
        std::fs::read_link(format!("/proc/{pid}/cwd")),
        dir.canonicalize(),
    ) else {
        return false;
    };
    cwd.starts_with(dir)
}

pub(crate) fn read_pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}
