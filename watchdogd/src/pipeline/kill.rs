//! The `kill` action: stop whatever runs the service now.
//!
//! Targets are the PID the heartbeat names (its whole group when it leads its own group) and the
//! process group of the session watchdogd itself started, so a service's children go with it.
//! A PID that fails the safety rules is never signalled: init, the daemon, its group or
//! session, a PID recycled since the heartbeat was written, or (with `user` configured) a
//! process owned by another user. Each refusal is logged and audited; the step goes on without
//! that target.

use super::{Ctx, Step};
use crate::process::{self, Target};

pub(super) async fn run(ctx: &Ctx<'_>) -> Step {
    let mut targets = Vec::new();
    let mut refused = Vec::new();
    let owner =
        match process::credentials(ctx.process.user.as_deref(), ctx.process.group.as_deref()) {
            Ok(Some(c)) => Some(c.uid),
            Ok(None) if ctx.process.user.is_some() => Some(nix::unistd::Uid::effective().as_raw()),
            Ok(None) => None,
            Err(e) => return Step::failed(e),
        };
    if let Some(hb) = &ctx.heartbeat {
        match i32::try_from(hb.pid) {
            Ok(pid) if pid > 0 && process::is_alive(pid) => {
                let verdict = process::is_signallable(pid)
                    .and_then(|()| process::check_not_recycled(pid, hb.timestamp_us))
                    .and_then(|()| check_owner(pid, owner));
                match verdict {
                    Ok(()) if process::leads_own_group(pid) => targets.push(Target::Group(pid)),
                    Ok(()) => targets.push(Target::Pid(pid)),
                    Err(why) => refused.push(why),
                }
            }
            Ok(pid) if pid <= 1 => refused.push(format!(
                "refusing to signal pid {pid} named by the heartbeat"
            )),
            _ => {}
        }
    }
    if let Some((group, started_us)) = ctx.plan.started_group
        && !targets.contains(&Target::Group(group))
        && Target::Group(group).is_alive()
    {
        match process::is_signallable(group)
            .and_then(|()| process::check_not_recycled(group, started_us))
        {
            Ok(()) => targets.push(Target::Group(group)),
            Err(why) => refused.push(why),
        }
    }
    for why in &refused {
        tracing::warn!(target: "pipeline", "{}: kill: {why}", ctx.plan.key);
    }
    let grace = ctx.plan.config.kill_timeout;
    let mut step = match process::stop(&targets, grace).await {
        Ok(msg) if refused.is_empty() => Step::ok(msg),
        Ok(msg) => Step::ok(format!("{msg}; {}", refused.join("; "))),
        Err(msg) => Step::failed(msg),
    };
    step.refusals = refused;
    step
}

/// With `user` configured, only that user's processes may be signalled.
fn check_owner(pid: i32, owner: Option<u32>) -> Result<(), String> {
    match (owner, process::owner_uid(pid)) {
        (Some(want), Some(have)) if want != have => Err(format!(
            "refusing to signal pid {pid}: owned by uid {have}, not the configured user (uid {want})"
        )),
        _ => Ok(()),
    }
}
