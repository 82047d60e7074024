//! Stopping and starting other processes: TERM, a grace period, then KILL; the shell a command
//! runs in. What a process is (alive, its start, its group) is read in [`crate::proc_facts`];
//! every signal goes through a confirmed identity ([`crate::guard::pidfd`]).
//!
//! Invariants:
//! - no signal ever goes to PID ≤ 1, to the daemon itself, or to the daemon's own process group
//!   or session, whatever a heartbeat claims ([`crate::guard::pidfd::is_signallable`]);
//! - children are spawned with tokio's `Command`, which reaps them; the daemon never calls
//!   `waitpid(-1)`, which would steal tokio's exit statuses.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::time::Instant;

use crate::guard::pidfd::{Confirmed, Group};

/// Environment variables the daemon's supervisor may have set for itself; children must not
/// inherit them or they would speak to systemd in the daemon's name.
const PRIVATE_ENV: [&str; 4] = [
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
];

/// How often a stop polls for the process to be gone.
const POLL: Duration = Duration::from_millis(25);

/// Something to stop: one confirmed process, or a process group held by a confirmed member.
#[derive(Debug)]
pub enum Target {
    Process(Confirmed),
    Group(Group),
}

impl Target {
    fn signal(&mut self, sig: Signal) {
        match self {
            Target::Process(p) => {
                let _ = p.signal(sig);
            }
            Target::Group(g) => {
                g.signal(sig);
            }
        }
    }

    /// Whether anything non-zombie is left of the target.
    pub fn is_alive(&self) -> bool {
        match self {
            Target::Process(p) => !p.has_exited(),
            Target::Group(g) => g.is_alive(),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Process(p) => write!(f, "pid {}", p.pid()),
            Target::Group(g) => write!(f, "process group {}", g.pgid()),
        }
    }
}

/// Stops `targets`: SIGTERM (then SIGCONT, so a stopped process can act on it), up to `grace`
/// for them to go, then SIGKILL and up to a few seconds more. Every signal goes through the
/// targets' confirmed identities (see [`crate::guard::pidfd`]). Returns what it did.
pub async fn stop(mut targets: Vec<Target>, grace: Duration) -> Result<String, StopError> {
    targets.retain(Target::is_alive);
    if targets.is_empty() {
        return Ok("no process to stop".into());
    }
    for t in &mut targets {
        t.signal(Signal::SIGTERM);
        t.signal(Signal::SIGCONT);
    }
    let names = targets
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if wait_gone(&targets, grace).await {
        return Ok(format!("stopped {names} with SIGTERM"));
    }
    for t in &mut targets {
        t.signal(Signal::SIGKILL);
    }
    if wait_gone(&targets, Duration::from_secs(5)).await {
        Ok(format!(
            "killed {names} with SIGKILL after {}s",
            grace.as_secs_f64()
        ))
    } else {
        Err(StopError::SurvivedKill { targets: names })
    }
}

/// Why [`stop`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StopError {
    /// Something is left of the targets even after SIGKILL (a process stuck in the kernel).
    #[error("{targets} still alive after SIGKILL")]
    SurvivedKill {
        /// The targets, as [`Target`] shows them: `pid 5, process group 7`.
        targets: String,
    },
}

async fn wait_gone(targets: &[Target], within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if targets.iter().all(|t| !t.is_alive()) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A user's uid, from a name or a numeric id (`None` when no such user).
pub fn user_uid(user: &str) -> Option<u32> {
    match user.parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => nix::unistd::User::from_name(user)
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw()),
    }
}

/// A `/bin/bash -c COMMAND` child (stdin on /dev/null, output discarded, without the daemon's
/// private environment). [`crate::guard::spawn::ChildSetup`] gives it its session, rights and
/// working folder.
pub fn shell(command: &str, args: &[String]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("/bin/bash");
    if args.is_empty() {
        cmd.arg("-c").arg(command);
    } else {
        // `"$@"` passes the arguments through untouched, whatever they contain.
        cmd.arg("-c")
            .arg(format!("{command} \"$@\""))
            .arg("watchdogd")
            .args(args);
    }
    quiet(&mut cmd);
    cmd
}

/// A child running `program` with `args` directly (no shell), set up like [`shell`]'s.
pub fn direct(program: &Path, args: &[String]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    quiet(&mut cmd);
    cmd
}

fn quiet(cmd: &mut tokio::process::Command) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for var in PRIVATE_ENV {
        cmd.env_remove(var);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::pidfd::Found;
    use crate::proc_facts::{group_is_alive, leads_own_group};
    use nix::sys::signal::kill;
    use nix::unistd::Pid;

    #[tokio::test]
    async fn stops_a_whole_group_including_a_stopped_process() {
        let mut cmd = shell("sleep 300 & sleep 300; wait", &[]);
        cmd.process_group(0);
        let mut child = cmd.spawn().unwrap();
        let pgid = child.id().unwrap() as i32;
        // Let bash fork its children, then freeze the leader: SIGCONT must wake it for TERM.
        tokio::time::sleep(Duration::from_millis(200)).await;
        kill(Pid::from_raw(pgid), Signal::SIGSTOP).unwrap();
        assert!(leads_own_group(pgid));
        let Found::Confirmed(leader) = Confirmed::open(pgid, protocol::time::now_micros(), None)
        else {
            panic!("leader not confirmed");
        };
        let group = Group::anchored(pgid, leader).unwrap();
        let out = stop(vec![Target::Group(group)], Duration::from_secs(5))
            .await
            .unwrap();
        assert!(out.contains("SIGTERM"), "{out}");
        let _ = child.wait().await;
        assert!(!group_is_alive(pgid));
    }

    #[tokio::test]
    async fn stop_of_nothing_succeeds() {
        assert_eq!(
            stop(Vec::new(), Duration::from_secs(1)).await.unwrap(),
            "no process to stop"
        );
    }

    #[tokio::test]
    async fn shell_passes_arguments_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let status = shell(
            &format!("printf '%s|' > {}", out.display()),
            &["--force".into(), "a b".into()],
        )
        .status()
        .await
        .unwrap();
        assert!(status.success());
        assert_eq!(std::fs::read_to_string(out).unwrap(), "--force|a b|");
    }
}
