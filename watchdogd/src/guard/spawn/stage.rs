//! The stage pipe: the child writes each stage of its setup to it before starting that stage,
//! so a failed spawn names what went wrong (`opening stdout_log /x as nobody: Permission
//! denied`) rather than only the OS's error.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// The stages of the child's setup, reported through the stage pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Stage {
    Signals = 1,
    Session,
    Limits,
    Groups,
    Gid,
    Uid,
    Cwd,
    Stdout,
    Stderr,
    Fds,
    /// The log path is not a regular file.
    StdoutKind,
    StderrKind,
}

pub(super) const STAGES: [Stage; 12] = [
    Stage::Signals,
    Stage::Session,
    Stage::Limits,
    Stage::Groups,
    Stage::Gid,
    Stage::Uid,
    Stage::Cwd,
    Stage::Stdout,
    Stage::Stderr,
    Stage::Fds,
    Stage::StdoutKind,
    Stage::StderrKind,
];

/// The parent's end of the stage pipe, to explain a failed spawn.
#[derive(Debug)]
pub struct StageReport {
    /// The pipe's reader end.
    pub(super) read: OwnedFd,
    /// Who the child was to run as, for messages; `None`: as watchdogd.
    pub(super) user: Option<String>,
    pub(super) cwd: PathBuf,
    /// `stdout_log` and `stderr_log`, when the child opens them itself.
    pub(super) logs: [Option<PathBuf>; 2],
}

impl StageReport {
    /// What the child was doing when the spawn failed with `error`, in words.
    pub fn explain(self, error: &std::io::Error) -> String {
        let mut buf = [0u8; 64];
        let mut last = None;
        // The child has exec'd or exited by the time spawn returns: everything is in the pipe.
        let _ = rustix::fs::fcntl_setfl(&self.read, rustix::fs::OFlags::NONBLOCK);
        while let Ok(n) = rustix::io::read(&self.read, &mut buf) {
            if n == 0 {
                break;
            }
            last = buf[..n].last().copied().or(last);
        }
        let stage = last.and_then(|b| STAGES.iter().find(|s| **s as u8 == b).copied());
        let user = self.user.as_deref().unwrap_or("watchdogd's user");
        let what = match stage {
            Some(Stage::Signals | Stage::Session) => "starting a new session".to_owned(),
            Some(Stage::Limits) => "restoring the open-files limit".to_owned(),
            Some(Stage::Groups | Stage::Gid | Stage::Uid) => format!("switching to {user}"),
            Some(Stage::Cwd) => format!("entering working_dir {} as {user}", self.cwd.display()),
            Some(Stage::Stdout) => log_what("stdout_log", &self.logs[0], user),
            Some(Stage::Stderr) => log_what("stderr_log", &self.logs[1], user),
            Some(Stage::Fds) => "closing inherited descriptors".to_owned(),
            Some(Stage::StdoutKind) => return not_regular("stdout_log", &self.logs[0]),
            Some(Stage::StderrKind) => return not_regular("stderr_log", &self.logs[1]),
            None => "starting the command".to_owned(),
        };
        format!("{what}: {error}")
    }
}

fn not_regular(field: &str, path: &Option<PathBuf>) -> String {
    let path = path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    format!(
        "{field} {path} is not a regular file (a FIFO, device or socket); refusing to write to it"
    )
}

fn log_what(field: &str, path: &Option<PathBuf>, user: &str) -> String {
    match path {
        Some(p) => format!(
            "opening {field} {} as {user} (no symlinks are followed)",
            p.display()
        ),
        None => format!("opening {field}"),
    }
}
