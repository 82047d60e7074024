//! The `start` action: `commands.start` in a detached shell session.
//!
//! The shell gets `verify_delay` to prove the start did not fail: a non-zero exit within it fails
//! the step; a zero exit means the command detached the service itself; a shell still running
//! is the service (or its parent), handed to the supervisor to be reaped when it exits. Its
//! output goes to `stdout_log`/`stderr_log` (appended) when configured, else to /dev/null; the
//! files are opened as [`crate::guard`] says (with `user`: by the child, with the user's
//! rights), so a planted link fails the step with a reason naming the path.
//!
//! A service that speaks notify ([`crate::notify_socket`]) is started as systemd starts one:
//! with `NOTIFY_SOCKET` (its own socket), `WATCHDOG_USEC` (its `timeout_seconds`) and
//! `WATCHDOG_PID` (its own PID: the shell exports `$$` and `exec`s the command, so the
//! command, and whatever it `exec`s in turn, keeps that PID, as libsystemd's
//! `sd_watchdog_enabled` and the `sd-notify` crate expect). Its start is verified by `READY=1`
//! instead of `verify_delay`: the step waits for it up to `start_grace_seconds` (longer when
//! the service asks with `EXTEND_TIMEOUT_USEC=`); a shell that fails first fails the step, and
//! a service that never gets ready is stopped (its session's process group) and fails it.

use std::sync::Arc;
use std::time::Duration;

use super::command::{Output, Run};
use super::plan::{Ctx, Started, Step};
use crate::guard::pidfd::{Confirmed, Found, Group, Refusal};
use crate::notify_socket::Slot;
use crate::process::{self, StopError, Target};
use crate::session::Session;

pub(super) async fn run(ctx: &Ctx<'_>) -> Step {
    let Some(command) = ctx.process.commands.get("start") else {
        return Step::failed("no commands.start configured");
    };
    let notify = ctx
        .plan
        .notify
        .as_ref()
        .filter(|_| ctx.process.heartbeat.uses_notify());
    let wrapped;
    let command = match notify {
        Some(_) => {
            wrapped = with_own_pid(command);
            &wrapped
        }
        None => command,
    };
    let mut prepared = match ctx
        .command(command, &[], Output::ServiceLogs, Run::Shell)
        .await
    {
        Ok(p) => p,
        Err(e) => return Step::failed(e),
    };
    if let Some(slot) = notify {
        prepared.cmd.env("NOTIFY_SOCKET", slot.path()).env(
            "WATCHDOG_USEC",
            crate::notify_socket::watchdog_usec(ctx.process.timeout),
        );
        slot.begin_start();
    }
    let at_us = protocol::time::now_micros();
    let at_step_us = crate::clock::step_us();
    let mut child = match prepared.spawn().await {
        Ok(c) => c,
        Err(e) => {
            if let Some(slot) = notify {
                slot.started(None);
            }
            return Step::failed(e);
        }
    };
    let Some(pid) = child.id() else {
        if let Some(slot) = notify {
            slot.started(None);
        }
        return Step::failed("start shell exited before it could be observed");
    };
    // The kernel's start of the session leader: what identifies it later, clock-free.
    let session = Session {
        pid: pid as i32,
        at_us,
        at_step_us,
        ticks: crate::proc_facts::start_ticks(pid as i32),
    };
    if let Some(slot) = notify {
        slot.started(Some(session));
        return wait_ready(ctx, slot, child, session).await;
    }
    let config = &ctx.plan.config;
    let verify = config.verify_delay.max(Duration::from_millis(1));
    match tokio::time::timeout(verify, child.wait()).await {
        Ok(Ok(status)) if status.success() => Step {
            outcome: Ok(format!(
                "start command exited 0 (pid {pid}); service detached"
            )),
            started: Some(Started {
                session,
                child: None,
            }),
            refusals: Vec::new(),
        },
        Ok(Ok(status)) => Step::failed(format!(
            "start command exited with {status} within verify_delay ({}s)",
            config.verify_delay.as_secs_f64()
        )),
        Ok(Err(e)) => Step::failed(format!("cannot wait for start shell: {e}")),
        Err(_) => Step {
            outcome: Ok(format!("started pid {pid} (session {pid})")),
            started: Some(Started {
                session,
                child: Some(child),
            }),
            refusals: Vec::new(),
        },
    }
}

/// `command`, run by a shell that first makes `WATCHDOG_PID` its own PID and then becomes
/// (`exec`) a shell running `command`: the same PID all the way to the service, when the
/// command is one program (bash `exec`s a lone command).
fn with_own_pid(command: &str) -> String {
    format!(
        "export WATCHDOG_PID=$$; exec /bin/bash -c {}",
        shell_word(command)
    )
}

/// `s` as one single-quoted shell word.
fn shell_word(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Waits for the started service's `READY=1` (see the module note).
async fn wait_ready(
    ctx: &Ctx<'_>,
    slot: &Arc<Slot>,
    mut child: tokio::process::Child,
    session: Session,
) -> Step {
    let pid = session.pid;
    let began = tokio::time::Instant::now();
    let grace = ctx.process.start_grace;
    let mut shell_done = false;
    let started = |child| {
        Some(Started {
            session,
            child: Some(child),
        })
    };
    loop {
        let ready = slot.ready_signal();
        tokio::pin!(ready);
        ready.as_mut().enable();
        if slot.is_ready() {
            return Step {
                outcome: Ok(format!(
                    "started pid {pid} (session {pid}); READY=1 after {:.1}s",
                    began.elapsed().as_secs_f64()
                )),
                started: started(child),
                refusals: Vec::new(),
            };
        }
        let mut deadline = began + grace;
        if let Some(until) = slot.extended_until() {
            let left = until.saturating_sub(crate::clock::boot_us()).max(0) as u64;
            deadline = deadline.max(tokio::time::Instant::now() + Duration::from_micros(left));
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::select! {
            () = &mut ready => {}
            status = child.wait(), if !shell_done => match status {
                Ok(s) if s.success() => shell_done = true,
                Ok(s) => return Step::failed(format!(
                    "start command exited with {s} before READY=1"
                )),
                Err(e) => return Step::failed(format!("cannot wait for start shell: {e}")),
            },
            () = tokio::time::sleep_until(deadline) => {}
            () = ctx.cancel.cancelled() => {
                return Step {
                    outcome: Err("cancelled while waiting for READY=1".into()),
                    started: started(child),
                    refusals: Vec::new(),
                };
            }
        }
    }
    let waited = format!(
        "no READY=1 within start_grace_seconds ({}s)",
        grace.as_secs_f64()
    );
    match stop_session(ctx, session).await {
        Ok(done) => {
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            Step::failed(format!("{waited}; {done}"))
        }
        Err(why) => Step {
            outcome: Err(format!("{waited}; {why}")),
            started: started(child),
            refusals: Vec::new(),
        },
    }
}

/// Why the session of a start that never got ready was not stopped (the next `kill` must).
#[derive(Debug, thiserror::Error)]
enum Unstopped {
    #[error("its session leader {0} is gone; what is left of it is stopped by the next kill")]
    LeaderGone(i32),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("pid {0} no longer leads its process group")]
    NotLeader(i32),
    #[error("stopping it failed: {0}")]
    Stop(#[from] StopError),
}

/// Stops the session a start made (its process group, anchored by its leader), for a service
/// that never got ready.
async fn stop_session(ctx: &Ctx<'_>, session: Session) -> Result<String, Unstopped> {
    let pid = session.pid;
    let leader = match Confirmed::open(pid, session.at_us, session.ticks) {
        Found::Confirmed(leader) => leader,
        Found::Gone => return Err(Unstopped::LeaderGone(pid)),
        Found::Refused(why) => return Err(why.into()),
    };
    let group = Group::anchored(pid, leader).map_err(|_| Unstopped::NotLeader(pid))?;
    Ok(process::stop(vec![Target::Group(group)], ctx.plan.config.kill_timeout).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_service_keeps_the_pid_it_is_told() {
        for command in [
            "echo \"$$ $WATCHDOG_PID\"",
            "cd / && exec sh -c 'echo \"$$ $WATCHDOG_PID\"'",
            "sh -c 'echo \"$$ $WATCHDOG_PID\"' # it's quoted",
        ] {
            let out = tokio::process::Command::new("/bin/bash")
                .arg("-c")
                .arg(with_own_pid(command))
                .output()
                .await
                .unwrap();
            let text = String::from_utf8(out.stdout).unwrap();
            let pids: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(pids.len(), 2, "{command}: {text}");
            assert_eq!(pids[0], pids[1], "{command}: {text}");
        }
    }
}
