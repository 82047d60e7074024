//! The `start` action: `commands.start` in a detached shell session.
//!
//! The shell gets `verify_delay` to prove the start did not fail: a non-zero exit within it fails
//! the step; a zero exit means the command detached the service itself; a shell still running
//! is the service (or its parent), handed to the supervisor to be reaped when it exits.

use std::time::Duration;

use super::{Plan, Started, Step};
use crate::config::ProcessConfig;
use crate::process;

pub(super) async fn run(plan: &Plan, process: &ProcessConfig) -> Step {
    let Some(command) = process.commands.get("start") else {
        return Step::failed("no commands.start configured");
    };
    let at_us = protocol::time::now_micros();
    let mut child = match process::shell(command, &[], &process.working_dir)
        .env("WATCHDOG_PROCESS_KEY", &plan.key)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Step::failed(format!("cannot run /bin/bash: {e}")),
    };
    let Some(pid) = child.id() else {
        return Step::failed("start shell exited before it could be observed");
    };
    let verify = plan.config.verify_delay.max(Duration::from_millis(1));
    match tokio::time::timeout(verify, child.wait()).await {
        Ok(Ok(status)) if status.success() => Step {
            outcome: Ok(format!(
                "start command exited 0 (pid {pid}); service detached"
            )),
            started: Some(Started {
                pid,
                at_us,
                child: None,
            }),
        },
        Ok(Ok(status)) => Step::failed(format!(
            "start command exited with {status} within verify_delay ({}s)",
            plan.config.verify_delay.as_secs_f64()
        )),
        Ok(Err(e)) => Step::failed(format!("cannot wait for start shell: {e}")),
        Err(_) => Step {
            outcome: Ok(format!("started pid {pid} (session {pid})")),
            started: Some(Started {
                pid,
                at_us,
                child: Some(child),
            }),
        },
    }
}
