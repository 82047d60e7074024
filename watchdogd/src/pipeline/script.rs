//! Any other action: run `commands.<name>` with `cleanup_args`, bounded by `cleanup_timeout`.
//!
//! The script runs in its own session so that, past its timeout, its whole process group is
//! killed. Its output is captured (bounded) for the log, as operators look there first.

use std::process::Stdio;

use tokio_util::sync::CancellationToken;

use super::{Plan, Step};
use crate::config::ProcessConfig;
use crate::process::{self, Target};

/// How much of a script's output is kept for the log.
const OUTPUT_TAIL: usize = 2048;

pub(super) async fn run(
    plan: &Plan,
    process: &ProcessConfig,
    name: &str,
    cancel: &CancellationToken,
) -> Step {
    let Some(command) = process.commands.get(name) else {
        return Step::failed(format!("no commands.{name} configured"));
    };
    let mut cmd = process::shell(command, &plan.config.cleanup_args, &process.working_dir);
    cmd.env("WATCHDOG_PROCESS_KEY", &plan.key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Step::failed(format!("cannot run /bin/bash: {e}")),
    };
    let pgid = child.id().map(|p| p as i32);
    let timeout = plan.config.cleanup_timeout;
    let waited = tokio::select! {
        r = tokio::time::timeout(timeout, child.wait_with_output()) => r.map_err(|_| "timeout"),
        () = cancel.cancelled() => Err("cancelled"),
    };
    match waited {
        Ok(Ok(out)) => {
            let tail = tail(&out.stdout, &out.stderr);
            if out.status.success() {
                Step::ok(if tail.is_empty() {
                    "exit 0".into()
                } else {
                    format!("exit 0: {tail}")
                })
            } else {
                Step::failed(format!(
                    "{}{}",
                    out.status,
                    if tail.is_empty() {
                        String::new()
                    } else {
                        format!(": {tail}")
                    }
                ))
            }
        }
        Ok(Err(e)) => Step::failed(format!("cannot wait for script: {e}")),
        Err(why) => {
            // The dropped future dropped the child; tokio reaps it once it dies.
            if let Some(g) = pgid {
                let _ = process::stop(&[Target::Group(g)], std::time::Duration::ZERO).await;
            }
            if why == "timeout" {
                Step::failed(format!(
                    "killed after cleanup_timeout ({}s)",
                    timeout.as_secs_f64()
                ))
            } else {
                Step::failed("cancelled")
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
