//! The `start` action: `commands.start` in a detached shell session.
//!
//! The shell gets `verify_delay` to prove the start did not fail: a non-zero exit within it fails
//! the step; a zero exit means the command detached the service itself; a shell still running
//! is the service (or its parent), handed to the supervisor to be reaped when it exits. Its
//! output goes to `stdout_log`/`stderr_log` (appended) when configured, else to /dev/null.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::{Ctx, Started, Step};

pub(super) async fn run(ctx: &Ctx<'_>) -> Step {
    let Some(command) = ctx.process.commands.get("start") else {
        return Step::failed("no commands.start configured");
    };
    let mut cmd = match ctx.command(command, &[]) {
        Ok(c) => c,
        Err(e) => return Step::failed(e),
    };
    let owner =
        crate::process::credentials(ctx.process.user.as_deref(), ctx.process.group.as_deref())
            .ok()
            .flatten();
    for (path, is_stdout) in [
        (&ctx.process.stdout_log, true),
        (&ctx.process.stderr_log, false),
    ] {
        if let Some(path) = path {
            match append(path, owner).await {
                Ok(file) if is_stdout => cmd.stdout(file),
                Ok(file) => cmd.stderr(file),
                Err(e) => return Step::failed(format!("cannot open {}: {e}", path.display())),
            };
        }
    }
    let at_us = protocol::time::now_micros();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Step::failed(format!("cannot run /bin/bash: {e}")),
    };
    let Some(pid) = child.id() else {
        return Step::failed("start shell exited before it could be observed");
    };
    let config = &ctx.plan.config;
    let verify = config.verify_delay.max(Duration::from_millis(1));
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
                pid,
                at_us,
                child: Some(child),
            }),
            refusals: Vec::new(),
        },
    }
}

/// Opens a log file for appending, creating it and its folder (off the async runtime). With
/// `user` configured the file is given to that user, so the service can reopen or rotate it.
async fn append(path: &Path, owner: Option<crate::process::Credentials>) -> std::io::Result<Stdio> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        if let Some(c) = owner {
            std::os::unix::fs::fchown(&file, Some(c.uid), Some(c.gid))?;
        }
        Ok(Stdio::from(file))
    })
    .await
    .map_err(std::io::Error::other)?
}
