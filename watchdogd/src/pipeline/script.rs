//! Any other action: run `commands.<name>` with `cleanup_args`, bounded by `cleanup_timeout`;
//! and the `on_give_up` hook, which runs the same way outside any pipeline.
//!
//! A script runs in its own session so that, past its timeout, its whole process group is
//! killed. Its output is captured, bounded ([`super::output`]), for the log, as operators look
//! there first. The step ends when the script's process exits: a background child that still
//! holds the output pipe gets a moment to finish writing, then the pipe is let go of.

use std::process::ExitStatus;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use super::command::{self, CommandError, Output, Reason, Run};
use super::output::Capture;
use super::plan::{Ctx, Step};
use crate::config::ProcessConfig;
use crate::guard::pidfd::{Confirmed, Found, Group};
use crate::process::{self, Target};

/// How long output is still read after the script exited (a background child may hold the
/// pipe open for as long as it lives).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);

/// Why a script (a cleanup, the `on_give_up` hook) failed. `output` is the tail of what it
/// printed, as `Capture::summary` gives it (empty when it printed nothing).
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("{status}{}", tail(.output))]
    Exited { status: ExitStatus, output: String },
    #[error("cannot wait for script: {0}")]
    Wait(std::io::Error),
    #[error(
        "killed with its process group after {}s (timeout){}",
        .after.as_secs_f64(),
        tail(.output)
    )]
    TimedOut { after: Duration, output: String },
    #[error("cancelled")]
    Cancelled,
}

/// `: OUTPUT` after a message, or nothing when there is no output.
fn tail(output: &str) -> String {
    if output.is_empty() {
        String::new()
    } else {
        format!(": {output}")
    }
}

pub(super) async fn run(ctx: &Ctx<'_>, name: &str) -> Step {
    let Some(script) = ctx.process.commands.get(name) else {
        return Step::failed(format!("no commands.{name} configured"));
    };
    let config = &ctx.plan.config;
    match ctx
        .command(script, &config.cleanup_args, Output::Discard, Run::AsSeed)
        .await
    {
        Ok(cmd) => {
            match execute(cmd, config.cleanup_timeout, ctx.cancel, &ctx.plan.key, name).await {
                Ok(msg) => Step::ok(msg),
                Err(msg) => Step::failed(msg),
            }
        }
        Err(e) => Step::failed(e),
    }
}

/// Runs the `on_give_up` alert command for `process` (no extra arguments), bounded by `timeout`.
pub async fn run_hook(
    readers: &crate::reader::Readers,
    process: &ProcessConfig,
    hook: &str,
    reason: &Reason,
    timeout: Duration,
) -> Result<String, ScriptError> {
    let cmd = command::build(
        readers,
        process,
        hook,
        &[],
        reason,
        Output::Discard,
        Run::AsSeed,
    )
    .await?;
    execute(
        cmd,
        timeout,
        &CancellationToken::new(),
        &process.key,
        "on_give_up",
    )
    .await
}

enum End {
    Exited(std::io::Result<ExitStatus>),
    TimedOut,
    Cancelled,
}

async fn execute(
    mut prepared: command::Prepared,
    timeout: Duration,
    cancel: &CancellationToken,
    key: &str,
    action: &str,
) -> Result<String, ScriptError> {
    prepared
        .cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let started_us = protocol::time::now_micros();
    let mut child = prepared.spawn().await?;
    let pid = child.id().map(|p| p as i32);
    let ticks = pid.and_then(crate::proc_facts::start_ticks);
    let mut capture = Capture::default();
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let (mut buf_out, mut buf_err) = (vec![0u8; 8192], vec![0u8; 8192]);
    let end = loop {
        tokio::select! {
            status = child.wait() => break End::Exited(status),
            () = &mut deadline => break End::TimedOut,
            () = cancel.cancelled() => break End::Cancelled,
            n = read_some(&mut out, &mut buf_out) => keep(&mut capture, &mut out, &buf_out, n),
            n = read_some(&mut err, &mut buf_err) => keep(&mut capture, &mut err, &buf_err, n),
        }
    };
    if matches!(end, End::Exited(_)) {
        let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, async {
            while out.is_some() || err.is_some() {
                tokio::select! {
                    n = read_some(&mut out, &mut buf_out) => keep(&mut capture, &mut out, &buf_out, n),
                    n = read_some(&mut err, &mut buf_err) => keep(&mut capture, &mut err, &buf_err, n),
                }
            }
        })
        .await;
    } else if let Some(pid) = pid {
        // Past its timeout or cancelled: the script and everything it started go.
        if let Found::Confirmed(leader) = Confirmed::open(pid, started_us, ticks)
            && let Ok(group) = Group::anchored(pid, leader)
        {
            let _ = process::stop(vec![Target::Group(group)], Duration::ZERO).await;
        }
    }
    log_output(key, action, &capture);
    let output = capture.summary();
    match end {
        End::Exited(Ok(status)) if status.success() => Ok(format!("exit 0{}", tail(&output))),
        End::Exited(Ok(status)) => Err(ScriptError::Exited { status, output }),
        End::Exited(Err(e)) => Err(ScriptError::Wait(e)),
        End::TimedOut => Err(ScriptError::TimedOut {
            after: timeout,
            output,
        }),
        End::Cancelled => Err(ScriptError::Cancelled),
    }
}

/// Reads what a pipe has; pends forever once it is closed (`None`), so `select!` skips it.
async fn read_some<R: tokio::io::AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match pipe {
        Some(p) => p.read(buf).await,
        None => std::future::pending().await,
    }
}

fn keep<R>(capture: &mut Capture, pipe: &mut Option<R>, buf: &[u8], n: std::io::Result<usize>) {
    match n {
        Ok(0) | Err(_) => *pipe = None,
        Ok(n) => capture.push(&buf[..n]),
    }
}

/// The captured output in the log, escaped, one log line per output line.
fn log_output(key: &str, action: &str, capture: &Capture) {
    if capture.is_empty() {
        return;
    }
    for line in capture.text().lines() {
        tracing::info!(target: "output", "{key}: {action}: | {line}");
    }
}
