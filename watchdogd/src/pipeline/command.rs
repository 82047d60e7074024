//! Building the commands a service's actions run: its shell, environment and credentials.
//!
//! Every command (start, cleanup scripts, the `on_give_up` hook) sees why it runs:
//! `WATCHDOG_PROCESS_KEY`, `WATCHDOG_HEALTH` (the health that triggered it, or `manual`),
//! `WATCHDOG_PID` (the old PID, when known), `WATCHDOG_FAILURES`; with `user`, the account's
//! `HOME`, `USER` and `LOGNAME`; and last the process's `env` map, whose entries win over all of
//! these. How the child starts (session, rights, descriptors, signals, log files) is
//! [`crate::guard::spawn`]'s job.

use std::process::Stdio;

use protocol::Health;

use crate::config::ProcessConfig;
use crate::guard::spawn::{self, ChildSetup, StageReport};
use crate::process;

/// Why a command runs, for its environment.
#[derive(Debug, Clone, Default)]
pub struct Reason {
    pub health: Option<Health>,
    pub old_pid: Option<u32>,
    pub failures: u32,
}

/// A command ready to spawn, and what explains a failed spawn.
pub struct Prepared {
    pub cmd: tokio::process::Command,
    pub stages: StageReport,
    /// Who it runs as, for messages ("as nobody"); `None`: as watchdogd.
    pub user: Option<String>,
}

impl Prepared {
    /// Spawns it; a failure names the stage of the child's setup that failed.
    pub fn spawn(mut self) -> Result<tokio::process::Child, String> {
        match self.cmd.spawn() {
            Ok(child) => Ok(child),
            Err(e) => Err(format!("cannot start: {}", self.stages.explain(&e))),
        }
    }
}

/// How a command string is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    /// Through `/bin/bash -c` (the `start` command: it may be any shell line).
    Shell,
    /// As the seed ran cleanups: a string naming an existing executable (relative paths
    /// against `working_dir`) is that program, run directly with the arguments (so a path with
    /// a space works); anything else goes through the shell as before.
    AsSeed,
}

/// The program a command string names, when it is one: an existing executable file.
fn executable(command: &str, working_dir: &std::path::Path) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = working_dir.join(command);
    let meta = std::fs::metadata(&path).ok()?;
    (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(path)
}

/// Which output files a command writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Discarded (cleanups capture theirs themselves).
    Discard,
    /// The service's `stdout_log`/`stderr_log`, when configured (the `start` command).
    ServiceLogs,
}

/// The command for `process`, run as `run` says (`/bin/bash -c COMMAND [ARGS]`, or the program
/// it names), prepared as the module note says. Fails when the credentials cannot be had or a
/// log file cannot be opened safely.
pub async fn build(
    process: &ProcessConfig,
    command: &str,
    args: &[String],
    reason: &Reason,
    output: Output,
    run: Run,
) -> Result<Prepared, String> {
    let user = process.user.clone();
    let group = process.group.clone();
    let run_as =
        tokio::task::spawn_blocking(move || spawn::resolve(user.as_deref(), group.as_deref()))
            .await
            .map_err(|e| format!("user lookup failed: {e}"))??;
    let direct = match run {
        Run::Shell => None,
        Run::AsSeed => {
            let (command, dir) = (command.to_owned(), process.working_dir.clone());
            tokio::task::spawn_blocking(move || executable(&command, &dir))
                .await
                .unwrap_or(None)
        }
    };
    let mut cmd = match &direct {
        Some(program) => process::direct(program, args),
        None => process::shell(command, args),
    };
    cmd.env("WATCHDOG_PROCESS_KEY", &process.key)
        .env(
            "WATCHDOG_HEALTH",
            reason.health.map_or("manual", Health::as_str),
        )
        .env("WATCHDOG_FAILURES", reason.failures.to_string());
    match reason.old_pid {
        Some(pid) => cmd.env("WATCHDOG_PID", pid.to_string()),
        None => cmd.env_remove("WATCHDOG_PID"),
    };
    if let Some(r) = &run_as {
        // The account's own HOME and names, not root's: services read their dotfiles there.
        if let Some(home) = &r.home {
            cmd.env("HOME", home);
        }
        if let Some(name) = &r.name {
            cmd.env("USER", name).env("LOGNAME", name);
        }
    }
    cmd.envs(&process.env);
    let logs = output == Output::ServiceLogs;
    let (stdout_log, stderr_log) = if logs {
        (process.stdout_log.as_deref(), process.stderr_log.as_deref())
    } else {
        (None, None)
    };
    if run_as.is_none() {
        // Root's own writes: through a checked folder, never through a planted link.
        for (path, is_stdout) in [(stdout_log, true), (stderr_log, false)] {
            let Some(path) = path.map(ToOwned::to_owned) else {
                continue;
            };
            let file = tokio::task::spawn_blocking(move || crate::guard::file::open_append(&path))
                .await
                .map_err(|e| format!("log opener failed: {e}"))?
                .map_err(|e| e.to_string())?;
            if is_stdout {
                cmd.stdout(Stdio::from(file));
            } else {
                cmd.stderr(Stdio::from(file));
            }
        }
    }
    let shown = run_as
        .as_ref()
        .map(|r| r.name.clone().unwrap_or_else(|| format!("uid {}", r.uid)));
    let setup = ChildSetup::new(run_as, &process.working_dir, stdout_log, stderr_log)?;
    let stages = setup
        .install(&mut cmd)
        .map_err(|e| format!("cannot prepare the child: {e}"))?;
    Ok(Prepared {
        cmd,
        stages,
        user: shown,
    })
}
