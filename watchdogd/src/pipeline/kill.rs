//! The `kill` action: stop whatever runs the service now.
//!
//! Targets are the process the judge found to be the service ([`crate::health::judge`]: the
//! heartbeat's PID when it is alive and still the writer, by the same clock correction and
//! identity rules as the check that led here; its whole group when it leads its own), and the
//! process group of the session watchdogd itself started, so a service's children go with it.
//! Each is confirmed again through a pidfd ([`crate::guard::pidfd`]) and signalled only
//! through it. Never signalled: init, the daemon, its group or session, a PID reused since, or
//! (with `user` configured) a process owned by another user. Each refusal is logged and
//! audited; the step goes on without that target.

use super::plan::{Ctx, Step};
use crate::guard::pidfd::{Confirmed, Found, Group};
use crate::proc_facts;
use crate::process::{self, Target};

pub(super) async fn run(ctx: &Ctx<'_>) -> Step {
    let mut refused = Vec::new();
    let owner = match &ctx.process.user {
        Some(u) => match process::user_uid(u) {
            Some(uid) => Some(uid),
            None => return Step::failed(format!("no such user {u:?}")),
        },
        None => None,
    };
    let mut writer = None;
    if let Some((pid, written_us, ticks)) = crate::health::names_live_writer(&ctx.verdict) {
        match Confirmed::open(pid, written_us, ticks) {
            Found::Confirmed(p) => match check_owner(pid, owner) {
                Ok(()) => writer = Some(p),
                Err(why) => refused.push(why.to_string()),
            },
            Found::Refused(why) => refused.push(why.to_string()),
            Found::Gone => {}
        }
    } else if let Some(pid) = ctx.verdict.pid.filter(|&p| p <= 1) {
        refused.push(format!(
            "refusing to signal pid {pid} named by the heartbeat"
        ));
    }
    let mut targets = Vec::new();
    if let Some(session) = ctx.plan.started_group {
        let group = session.pid;
        let started_us = session.at_us_now(&crate::clock::Now::read());
        match Confirmed::open(group, started_us, session.ticks) {
            Found::Confirmed(leader) => {
                if let Ok(g) = Group::anchored(group, leader) {
                    targets.push(Target::Group(g));
                }
            }
            Found::Refused(why) => {
                if proc_facts::group_is_alive(group) {
                    refused.push(format!("process group {group}: {why}"));
                }
            }
            // The leader is gone: the service's own process anchors the group if it is in it.
            Found::Gone => {
                if let Some(w) = writer.take() {
                    match Group::anchored(group, w) {
                        Ok(g) => targets.push(Target::Group(g)),
                        Err(w) => writer = Some(w),
                    }
                }
            }
        }
    }
    if let Some(w) = writer {
        let pid = w.pid();
        let in_targets = targets
            .iter()
            .any(|t| matches!(t, Target::Group(g) if Some(g.pgid()) == w.group()));
        if !in_targets {
            targets.push(if proc_facts::leads_own_group(pid) {
                match Group::anchored(pid, w) {
                    Ok(g) => Target::Group(g),
                    Err(w) => Target::Process(w),
                }
            } else {
                Target::Process(w)
            });
        }
    }
    for why in &refused {
        tracing::warn!(target: "pipeline", "{}: kill: {why}", ctx.plan.key);
    }
    let grace = ctx.plan.config.kill_timeout;
    let mut step = match process::stop(targets, grace).await {
        Ok(msg) if refused.is_empty() => Step::ok(msg),
        Ok(msg) => Step::ok(format!("{msg}; {}", refused.join("; "))),
        Err(msg) => Step::failed(msg),
    };
    step.refusals = refused;
    step
}

/// A process of another user than the configured one, which the `kill` step leaves alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("refusing to signal pid {pid}: owned by uid {have}, not the configured user (uid {want})")]
struct NotTheUsers {
    pid: i32,
    have: u32,
    want: u32,
}

/// With `user` configured, only that user's processes may be signalled.
fn check_owner(pid: i32, owner: Option<u32>) -> Result<(), NotTheUsers> {
    match (owner, proc_facts::owner_uid(pid)) {
        (Some(want), Some(have)) if want != have => Err(NotTheUsers { pid, have, want }),
        _ => Ok(()),
    }
}
