//! Building the commands a service's actions run: its shell, environment and credentials.
//!
//! Every command (start, cleanup scripts, the `on_give_up` hook) sees why it runs:
//! `WATCHDOG_PROCESS_KEY`, `WATCHDOG_HEALTH` (the health that triggered it, or `manual`),
//! `WATCHDOG_PID` (the old PID, when known), `WATCHDOG_FAILURES`, plus the process's `env` map.
//! With `user`/`group` configured (root daemons) it runs with those credentials.

use std::path::Path;

use protocol::Health;

use crate::config::ProcessConfig;
use crate::process;

/// Why a command runs, for its environment.
#[derive(Debug, Clone, Default)]
pub struct Reason {
    pub health: Option<Health>,
    pub old_pid: Option<u32>,
    pub failures: u32,
}

/// `/bin/bash -c COMMAND [ARGS]` for `process`, in its working folder, new session, with the
/// watchdog environment and credentials. Fails when the credentials cannot be had.
pub fn build(
    process: &ProcessConfig,
    command: &str,
    args: &[String],
    reason: &Reason,
) -> Result<tokio::process::Command, String> {
    let mut cmd = process::shell(command, args, working_dir(process));
    cmd.envs(&process.env)
        .env("WATCHDOG_PROCESS_KEY", &process.key)
        .env(
            "WATCHDOG_HEALTH",
            reason.health.map_or("manual", Health::as_str),
        )
        .env("WATCHDOG_FAILURES", reason.failures.to_string());
    match reason.old_pid {
        Some(pid) => cmd.env("WATCHDOG_PID", pid.to_string()),
        None => cmd.env_remove("WATCHDOG_PID"),
    };
    if let Some(creds) = process::credentials(process.user.as_deref(), process.group.as_deref())? {
        cmd.uid(creds.uid).gid(creds.gid);
        // The account's own HOME and names, not root's: services read their dotfiles there.
        if let Ok(Some(user)) = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(creds.uid)) {
            cmd.env("HOME", &user.dir)
                .env("USER", &user.name)
                .env("LOGNAME", &user.name);
        }
    }
    Ok(cmd)
}

fn working_dir(process: &ProcessConfig) -> &Path {
    &process.working_dir
}
