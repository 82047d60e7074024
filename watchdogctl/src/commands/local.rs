//! Commands that never contact the daemon: `beat`, `completions` and `man`.
//!
//! Completions and the man page are rendered into memory first and written in one go: clap's
//! generators panic on a write error, and `watchdogctl man | head` must end quietly instead.

use std::path::Path;

use clap::CommandFactory;

use super::context::write_stdout;
use crate::cli::Cli;
use crate::exit::{Exit, Failure};
use crate::{heartbeat, json};

/// `beat`: one heartbeat, atomically. The default PID is our parent's, the shell or cron job
/// that ran us: our own would be gone a moment later and read as `stale_pid`.
pub(super) fn beat(
    file: &Path,
    key: &str,
    pid: Option<u32>,
    status: &str,
    as_json: bool,
) -> Result<Exit, Failure> {
    let pid = pid.unwrap_or_else(std::os::unix::process::parent_id);
    let hb = heartbeat::write(file, key, pid, status).map_err(|e| {
        Failure::new(
            Exit::Usage,
            format!("cannot write the heartbeat file {}: {e}", file.display()),
        )
    })?;
    if as_json {
        let mut v: serde_json::Value =
            serde_json::from_str(&hb.to_json()).unwrap_or(serde_json::Value::Null);
        if let Some(map) = v.as_object_mut() {
            map.insert("file".into(), file.display().to_string().into());
        }
        write_stdout(json::line(&v).as_bytes())?;
    }
    Ok(Exit::Success)
}

/// `completions SHELL`.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<Exit, Failure> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "watchdogctl", &mut script);
    write_stdout(&script)?;
    Ok(Exit::Success)
}

/// `man`: the roff page for `man -l -` or to install as `watchdogctl.1`.
pub(super) fn man() -> Result<Exit, Failure> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| Failure::new(Exit::Usage, format!("cannot render the man page: {e}")))?;
    write_stdout(&page)?;
    Ok(Exit::Success)
}
