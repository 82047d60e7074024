//! The `kill` action: stop whatever runs the service now.
//!
//! Targets are the PID the heartbeat names (its whole group when it leads its own group) and the
//! process group of the session watchdogd itself started, so a service's children go with it.
//! A PID that fails the safety rules (init, the daemon, its group, a PID recycled since the
//! heartbeat) is never signalled; that is logged and the step goes on without it.

use protocol::Heartbeat;

use super::{Plan, Step};
use crate::config::ProcessConfig;
use crate::process::{self, Target};

pub(super) async fn run(
    plan: &Plan,
    _process: &ProcessConfig,
    heartbeat: Option<&Heartbeat>,
) -> Step {
    let mut targets = Vec::new();
    let mut refused = Vec::new();
    if let Some(hb) = heartbeat {
        match i32::try_from(hb.pid) {
            Ok(pid) if pid > 0 && process::is_alive(pid) => match process::is_signallable(pid)
                .and_then(|()| process::check_not_recycled(pid, hb.timestamp_us))
            {
                Ok(()) if process::leads_own_group(pid) => targets.push(Target::Group(pid)),
                Ok(()) => targets.push(Target::Pid(pid)),
                Err(why) => refused.push(why),
            },
            _ => {}
        }
    }
    if let Some(group) = plan.started_group
        && !targets.contains(&Target::Group(group))
        && Target::Group(group).is_alive()
    {
        match process::is_signallable(group) {
            Ok(()) => targets.push(Target::Group(group)),
            Err(why) => refused.push(why),
        }
    }
    for why in &refused {
        tracing::warn!(target: "pipeline", "{}: kill: {why}", plan.key);
    }
    let grace = plan.config.kill_timeout;
    match process::stop(&targets, grace).await {
        Ok(msg) if refused.is_empty() => Step::ok(msg),
        Ok(msg) => Step::ok(format!("{msg}; {}", refused.join("; "))),
        Err(msg) => Step::failed(msg),
    }
}
