//! The `start` action: `commands.start` in a detached shell session.
//!
//! The shell gets `verify_delay` to prove the start did not fail: a non-zero exit within it fails
//! the step; a zero exit means the command detached the service itself; a shell still running
//! is the service (or its parent), handed to the supervisor to be reaped when it exits. Its
//! output goes to `stdout_log`/`stderr_log` (appended) when configured, else to /dev/null; the
//! files are opened as [`crate::guard`] says (with `user`: by the child, with the user's
//! rights), so a planted link fails the step with a reason naming the path.

use std::time::Duration;

use super::command::{Output, Run};
use super::{Ctx, Started, Step};

pub(super) async fn run(ctx: &Ctx<'_>) -> Step {
    let Some(command) = ctx.process.commands.get("start") else {
        return Step::failed("no commands.start configured");
    };
    let prepared = match ctx
        .command(command, &[], Output::ServiceLogs, Run::Shell)
        .await
    {
        Ok(p) => p,
        Err(e) => return Step::failed(e),
    };
    let at_us = protocol::time::now_micros();
    let at_step_us = crate::clock::step_us();
    let mut child = match prepared.spawn().await {
        Ok(c) => c,
        Err(e) => return Step::failed(e),
    };
    let Some(pid) = child.id() else {
        return Step::failed("start shell exited before it could be observed");
    };
    // The kernel's start of the session leader: what identifies it later, clock-free.
    let session = super::Session {
        pid: pid as i32,
        at_us,
        at_step_us,
        ticks: crate::process::start_ticks(pid as i32),
    };
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
