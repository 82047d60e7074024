//! Any other action: run `commands.<name>` with `cleanup_args`, bounded by `cleanup_timeout`;
//! and the `on_give_up` hook, which runs the same way outside any pipeline.
//!
//! A script runs in its own session so that, past its timeout, its whole process group is
//! killed. Its output is captured (bounded) for the log, as operators look there first.

use std::process::Stdio;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::command::{self, Reason};
use super::{Ctx, Step};
use crate::config::ProcessConfig;
use crate::process::{self, Target};

/// How much of a script's output is kept for the log.
const OUTPUT_TAIL: usize = 2048;

pub(super) async fn run(ctx: &Ctx<'_>, name: &str) -> Step {
    let Some(script) = ctx.process.commands.get(name) else {
        return Step::failed(format!("no commands.{name} configured"));
    };
    let config = &ctx.plan.config;
    match ctx.command(script, &config.cleanup_args) {
        Ok(cmd) => match execute(cmd, config.cleanup_timeout, ctx.cancel).await {
            Ok(msg) => Step::ok(msg),
            Err(msg) => Step::failed(msg),
        },
        Err(e) => Step::failed(e),
    }
}

/// Runs the `on_give_up` alert command for `process` (no extra arguments), bounded by `timeout`.
pub async fn run_hook(
    process: &ProcessConfig,
    hook: &str,
    reason: &Reason,
    timeout: Duration,
) -> Result<String, String> {
    let cmd = command::build(process, hook, &[], reason)?;
    execute(cmd, timeout, &CancellationToken::new()).await
}

async fn execute(
    mut cmd: tokio::process::Command,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<String, String> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run /bin/bash: {e}"))?;
    let pgid = child.id().map(|p| p as i32);
    let waited = tokio::select! {
        r = tokio::time::timeout(timeout, child.wait_with_output()) => r.map_err(|_| "timeout"),
        () = cancel.cancelled() => Err("cancelled"),
    };
    match waited {
        Ok(Ok(out)) => {
            let tail = tail(&out.stdout, &out.stderr);
            let sep = if tail.is_empty() { "" } else { ": " };
            if out.status.success() {
                Ok(format!("exit 0{sep}{tail}"))
            } else {
                Err(format!("{}{sep}{tail}", out.status))
            }
        }
        Ok(Err(e)) => Err(format!("cannot wait for script: {e}")),
        Err(why) => {
            // The dropped future dropped the child; tokio reaps it once it dies.
            if let Some(g) = pgid {
                let _ = process::stop(&[Target::Group(g)], Duration::ZERO).await;
            }
            if why == "timeout" {
                Err(format!(
                    "killed with its process group after {}s (timeout)",
                    timeout.as_secs_f64()
                ))
            } else {
                Err("cancelled".into())
            }
        }
    }
}

/// The last bytes of stdout and stderr, on one line.
fn tail(stdout: &[u8], stderr: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(stdout).into_owned();
    text.push(' ');
    text.push_str(&String::from_utf8_lossy(stderr));
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().rev().nth(OUTPUT_TAIL) {
        Some((i, _)) => format!("…{}", &text[i..]),
        None => text,
    }
}
