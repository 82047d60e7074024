//! The recovery pipeline: a service's actions, in order, with the seed's failure semantics.
//!
//! `kill` and `start` are fatal when they fail (the pipeline stops); any other action is a
//! cleanup script whose failure is a warning. A pipeline runs in its own task and reports its
//! [`Outcome`] to the supervisor, so a slow script never stalls the checks of other services.
//! Cancellation (an `off` arriving mid-recovery, or shutdown) is honoured between actions and
//! while a script runs.

pub mod command;
mod kill;
mod output;
mod plan;
mod script;
mod start;

pub use plan::{Plan, Started};
pub use script::{ScriptError, run_hook};

use plan::Ctx;

use std::time::Instant;

use protocol::{PipelineResult, StepOutcome, StepReport};
use tokio_util::sync::CancellationToken;

/// What a pipeline did.
#[derive(Debug)]
pub struct Outcome {
    pub result: PipelineResult,
    pub steps: Vec<StepReport>,
    pub message: String,
    /// The PID the heartbeat named before the pipeline ran.
    pub old_pid: Option<u32>,
    pub started: Option<Started>,
    pub cancelled: bool,
    /// Refusals worth an audit row (a signal not sent, and why).
    pub refusals: Vec<String>,
    pub started_ms: i64,
    pub finished_ms: i64,
}

/// How long a pipeline waits for its fresh read of the heartbeat: a hung file system then
/// leaves it without the heartbeat's PID (the session watchdogd started is still stopped).
const READ_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs the plan to completion (or cancellation).
pub async fn run(plan: Plan, cancel: CancellationToken) -> Outcome {
    let started_ms = protocol::time::now_millis();
    let mut out = Outcome {
        result: PipelineResult::Succeeded,
        steps: Vec::new(),
        message: String::new(),
        old_pid: None,
        started: None,
        cancelled: false,
        refusals: Vec::new(),
        started_ms,
        finished_ms: started_ms,
    };
    let Some(process) = plan.process() else {
        out.result = PipelineResult::Failed;
        out.message = format!("{} is no longer in the config", plan.key);
        return out;
    };
    // The one judge, on a fresh read: `on`'s "already running?" and the kill step's target
    // are decided exactly as the periodic check decides health.
    let file = match process
        .heartbeat_path
        .clone()
        .filter(|_| process.heartbeat.uses_file())
    {
        Some(path) => {
            let reading = plan
                .readers
                .read_within(path, plan.known.owner, plan.previous.clone(), READ_WITHIN)
                .await;
            Some(crate::probe::judge(
                &reading,
                process,
                &plan.known,
                &crate::clock::Now::read(),
            ))
        }
        None => None,
    };
    let verdict = crate::notify_socket::verdict(
        plan.notify.as_deref(),
        file,
        process,
        &plan.known,
        &crate::clock::Now::read(),
    );
    out.old_pid = verdict.pid;
    if plan.skip_if_healthy && verdict.health.is_healthy() {
        out.result = PipelineResult::Skipped;
        out.message = format!("already running ({})", verdict.detail);
        out.finished_ms = protocol::time::now_millis();
        return out;
    }
    let ctx = Ctx {
        plan: &plan,
        process,
        verdict,
        reason: command::Reason {
            health: plan.health,
            old_pid: out.old_pid,
            failures: plan.failures,
        },
        cancel: &cancel,
    };
    for action in &plan.actions {
        if cancel.is_cancelled() {
            out.cancelled = true;
            out.result = PipelineResult::Failed;
            out.message = format!("cancelled before {action}");
            break;
        }
        let clock = Instant::now();
        let fatal = action == "kill" || action == "start";
        let step = match action.as_str() {
            "kill" => kill::run(&ctx).await,
            "start" => start::run(&ctx).await,
            name => script::run(&ctx, name).await,
        };
        out.refusals.extend(step.refusals);
        let duration_ms = clock.elapsed().as_millis() as u64;
        if step.started.is_some() {
            out.started = step.started;
        }
        let (outcome, message) = match step.outcome {
            Ok(m) => (StepOutcome::Ok, m),
            Err(m) if fatal => (StepOutcome::Failed, m),
            Err(m) => (StepOutcome::Warned, m),
        };
        match outcome {
            StepOutcome::Ok => {
                tracing::info!(target: "pipeline", "{}: {action}: {message}", plan.key)
            }
            _ => {
                tracing::warn!(target: "pipeline", "{}: {action} {}: {message}", plan.key, outcome.as_str())
            }
        }
        if let Some(progress) = &plan.progress {
            let _ = progress.send(protocol::EventRecord {
                at_ms: protocol::time::now_millis(),
                key: plan.key.clone(),
                kind: protocol::EventKind::StepFinished,
                health: None,
                state: None,
                message: format!(
                    "{action}: {} ({duration_ms} ms) {message}",
                    outcome.as_str()
                ),
            });
        }
        out.steps.push(StepReport {
            action: action.clone(),
            outcome,
            message: message.clone(),
            duration_ms,
        });
        match outcome {
            StepOutcome::Failed => {
                out.result = PipelineResult::Failed;
                out.message = format!("{action} failed: {message}");
                break;
            }
            StepOutcome::Warned => out.result = PipelineResult::Warned,
            StepOutcome::Ok => {}
        }
    }
    if out.message.is_empty() {
        out.message = match out.result {
            PipelineResult::Warned => {
                let warned: Vec<&str> = out
                    .steps
                    .iter()
                    .filter(|s| s.outcome == StepOutcome::Warned)
                    .map(|s| s.action.as_str())
                    .collect();
                format!("done with warnings from {}", warned.join(", "))
            }
            _ => format!("{} done", plan.trigger.as_str()),
        };
    }
    out.finished_ms = protocol::time::now_millis();
    out
}
