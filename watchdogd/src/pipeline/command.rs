//! Building the commands a service's actions run: its shell, environment and credentials.
//!
//! Every command (start, cleanup scripts, the `on_give_up` hook) sees why it runs:
//! `WATCHDOG_PROCESS_KEY`, `WATCHDOG_HEALTH` (the health that triggered it, or `manual`),
//! `WATCHDOG_PID` (the old PID, when known), `WATCHDOG_FAILURES`; with `user`, the account's
//! `HOME`, `USER` and `LOGNAME`; and last the process's `env` map, whose entries win over all of
//! these. How the child starts (session, rights, descriptors, signals, log files) is
//! [`crate::guard::spawn`]'s job.
//!
//! Everything that looks at the service's paths (is the command an executable in its working
//! folder, its log files, the spawn itself, whose child enters the working folder and opens
//! the logs before the parent hears back) runs on the reader threads ([`crate::reader`]), never
//! on the async runtime: a working folder or log folder on a hung file system then fails this
//! one step, with a reason, instead of freezing the daemon.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use protocol::Health;

use crate::config::ProcessConfig;
use crate::guard::file::FileError;
use crate::guard::spawn::{self, ChildSetup, RunAsError, SetupError, StageReport};
use crate::process;
use crate::reader::{Blocked, Readers};

/// How long a spawn may take before the step fails: the child's setup (entering the working
/// folder, opening its logs) runs before the parent hears back, and a hung file system could
/// hold it for good.
const SPAWN_WITHIN: Duration = Duration::from_secs(10);

/// Why a command could not be prepared or started.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The blocking user lookup did not come back (its task panicked or was cancelled).
    #[error("user lookup failed: {0}")]
    Lookup(tokio::task::JoinError),
    #[error(transparent)]
    RunAs(#[from] RunAsError),
    /// The look at the working folder and log files was not started (hung file system).
    #[error("cannot start: {0}")]
    LookBlocked(Blocked),
    /// A log file the daemon opens for the child cannot be opened safely.
    #[error(transparent)]
    Log(#[from] FileError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The stage pipe cannot be made.
    #[error("cannot prepare the child: {0}")]
    Install(std::io::Error),
    /// The spawn was not started (hung file system).
    #[error(transparent)]
    SpawnBlocked(Blocked),
    /// The spawn failed; what the child was doing, as [`StageReport::explain`] says.
    #[error("cannot start: {0}")]
    Spawn(String),
    #[error("cannot start: the reader threads stopped")]
    ReadersStopped,
    #[error(
        "cannot start: the child's setup did not finish within {}s (is working_dir {} or a log folder on a hung file system?)",
        .within.as_secs(),
        .dir.display()
    )]
    SpawnHung { within: Duration, dir: PathBuf },
}

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
    /// Its working folder: where the spawn may hang.
    dir: PathBuf,
    /// The uid it runs as, when another than watchdogd's (the reader threads' bucket).
    uid: Option<u32>,
    readers: Readers,
}

impl Prepared {
    /// Spawns it on a reader thread, bounded by `SPAWN_WITHIN` (10 s); a failure names the stage of
    /// the child's setup that failed. A child that comes to life only after the step gave up on
    /// it is killed with its session, never left running unsupervised.
    pub async fn spawn(self) -> Result<tokio::process::Child, CommandError> {
        let Prepared {
            mut cmd,
            stages,
            dir,
            readers,
            uid: user,
            ..
        } = self;
        let runtime = tokio::runtime::Handle::current();
        let (tx, rx) = tokio::sync::oneshot::channel();
        readers.submit_work(&dir, user, move |go| {
            let spawned = go.map_err(CommandError::SpawnBlocked).and_then(|()| {
                // tokio's children are registered with the runtime that reaps them.
                let _entered = runtime.enter();
                cmd.spawn()
                    .map_err(|e| CommandError::Spawn(stages.explain(&e)))
            });
            if let Err(Ok(child)) = tx.send(spawned) {
                abandon(child);
            }
        });
        match tokio::time::timeout(SPAWN_WITHIN, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(CommandError::ReadersStopped),
            Err(_) => Err(CommandError::SpawnHung {
                within: SPAWN_WITHIN,
                dir,
            }),
        }
    }
}

/// Kills a child nobody waits for any more, with its session (it leads one).
fn abandon(child: tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    // Dropped, the child is still reaped by tokio.
    drop(child);
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

/// What the reader threads found out for a command: the program, the root-opened log files,
/// the child's setup.
struct Looked {
    direct: Option<PathBuf>,
    stdout: Option<std::fs::File>,
    stderr: Option<std::fs::File>,
    setup: ChildSetup,
}

/// The command for `process`, run as `run` says (`/bin/bash -c COMMAND [ARGS]`, or the program
/// it names), prepared as the module note says. Fails when the credentials cannot be had or a
/// log file cannot be opened safely.
pub async fn build(
    readers: &Readers,
    process: &ProcessConfig,
    command: &str,
    args: &[String],
    reason: &Reason,
    output: Output,
    run: Run,
) -> Result<Prepared, CommandError> {
    let user = process.user.clone();
    let group = process.group.clone();
    let run_as =
        tokio::task::spawn_blocking(move || spawn::resolve(user.as_deref(), group.as_deref()))
            .await
            .map_err(CommandError::Lookup)??;
    let logs = output == Output::ServiceLogs;
    let (stdout_log, stderr_log) = if logs {
        (process.stdout_log.clone(), process.stderr_log.clone())
    } else {
        (None, None)
    };
    let dir = process.working_dir.clone();
    let uid = run_as
        .as_ref()
        .map(|r| r.uid)
        .filter(|&u| u != crate::guard::daemon_uid());
    let looked = {
        let (command, dir, run_as) = (command.to_owned(), dir.clone(), run_as.clone());
        readers
            .run(&process.working_dir, uid, move || {
                look(&command, &dir, run, run_as, stdout_log, stderr_log)
            })
            .await
            .map_err(CommandError::LookBlocked)??
    };
    let mut cmd = match &looked.direct {
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
    if let Some(file) = looked.stdout {
        cmd.stdout(Stdio::from(file));
    }
    if let Some(file) = looked.stderr {
        cmd.stderr(Stdio::from(file));
    }
    let shown = run_as
        .as_ref()
        .map(|r| r.name.clone().unwrap_or_else(|| format!("uid {}", r.uid)));
    let stages = looked
        .setup
        .install(&mut cmd)
        .map_err(CommandError::Install)?;
    Ok(Prepared {
        cmd,
        stages,
        user: shown,
        dir,
        uid,
        readers: readers.clone(),
    })
}

/// The part of [`build`] that looks at the file system (on a reader thread).
fn look(
    command: &str,
    dir: &std::path::Path,
    run: Run,
    run_as: Option<spawn::RunAs>,
    stdout_log: Option<PathBuf>,
    stderr_log: Option<PathBuf>,
) -> Result<Looked, CommandError> {
    let direct = match run {
        Run::Shell => None,
        Run::AsSeed => executable(command, dir),
    };
    // A child that stays root (no `user`, or only a `group`) gets its logs opened by the
    // daemon, through a checked folder, never through a planted link; one that switches to
    // another user opens them itself, with that user's rights.
    let switches = run_as
        .as_ref()
        .is_some_and(|r| r.uid != crate::guard::daemon_uid());
    let mut opened = [None, None];
    if !switches {
        for (slot, path) in opened.iter_mut().zip([&stdout_log, &stderr_log]) {
            if let Some(path) = path {
                *slot = Some(crate::guard::file::open_append(path)?);
            }
        }
    }
    let [stdout, stderr] = opened;
    let (child_out, child_err) = if switches {
        (stdout_log.as_deref(), stderr_log.as_deref())
    } else {
        (None, None)
    };
    let setup = ChildSetup::new(run_as, dir, child_out, child_err)?;
    Ok(Looked {
        direct,
        stdout,
        stderr,
        setup,
    })
}
