//! What requests and finished pipelines do to a service.
//!
//! A request first sets what it implies (intent for `on`/`off`/`restart`, the end of a
//! maintenance window, a fresh restart budget), then is admitted ([`super::admit`]). A
//! finished pipeline records its outcome, resets the failure count when it succeeded, starts the
//! start grace of what it started, and hands over the queued follow-up.

use std::time::Duration;

use protocol::{ActionReport, EventKind, PipelineResult, RecoverySummary, Response, Trigger};
use tokio_util::sync::CancellationToken;

use super::admit::{self, Admission, Task, failed_report};
use super::{Queued, Running, Service, StartRecord};
use crate::clock::Now;
use crate::pipeline::Outcome;
use crate::session::Session;
use crate::store::{Intent, Record};
use crate::supervisor::effects::{Effects, Reply};

/// How soon a service is checked after one of its pipelines failed: a failed start is not
/// tried again at full speed (flap protection would only give up sooner).
pub const CHECK_AFTER_FAILURE: Duration = Duration::from_millis(200);
// After one that succeeded it is checked at once: a start's first heartbeat is usually written
// by the time its `verify_delay` is over; if not, the check finds it starting, forgives what it
// reads and looks again soon (`STARTING_CADENCE`).

/// A finished pipeline's consequences.
#[derive(Debug)]
pub struct Finished {
    pub effects: Effects,
    /// Its callers, with their answer (sent once the turn's rows are durable).
    pub replies: Vec<(Reply, Response)>,
    pub report: ActionReport,
    /// The follow-up to start now.
    pub next: Option<(Task, Vec<Reply>)>,
    /// It stopped or started a process: what a check read meanwhile, or an exit watch set
    /// before, describes what is gone.
    pub changed_process: bool,
}

/// What the owner needs to build a pipeline's plan.
#[derive(Debug)]
pub struct Begun {
    pub actions: Vec<String>,
    pub started_group: Option<crate::session::Session>,
    pub health: Option<protocol::Health>,
    pub failures: u32,
}

impl Service {
    /// What a request implies before it is admitted (see the module note).
    pub fn prepare(&mut self, task: &Task, now: &Now) -> Effects {
        let mut fx = Effects::default();
        if task.trigger == Trigger::Run {
            // One action by hand changes neither intent nor windows.
            return fx;
        }
        if task.trigger == Trigger::Automatic {
            // A recovery of the daemon's own: the restart budget is what it spends.
            return fx;
        }
        self.off_until = None;
        if task.trigger != Trigger::Off && self.flap.clear() {
            fx.note(
                tracing::Level::INFO,
                format!("give-up cleared by {}", task.name()),
            );
        }
        let intent = if task.trigger == Trigger::Off {
            Intent::Off
        } else {
            Intent::On
        };
        if self.intent != intent {
            self.intent = intent;
            fx.note(tracing::Level::INFO, format!("intent {}", intent.as_str()));
            fx.records.push(Record::event(
                self.key(),
                EventKind::IntentChanged,
                format!("intent {} ({})", intent.as_str(), task.name()),
                now.wall_ms(),
            ));
        }
        fx.records.push(Record::State(self.saved(now)));
        fx
    }

    /// How `task` is admitted now.
    pub fn admission(&self, task: &Task, now: &Now) -> Admission {
        admit::admit(
            self.pipeline.as_ref().map(|p| &p.task),
            self.is_starting(now),
            task,
        )
    }

    /// Adds a caller to the running pipeline's answer.
    pub fn join(&mut self, reply: Reply) {
        match &mut self.pipeline {
            Some(p) => p.replies.push(reply),
            None => drop(reply),
        }
    }

    /// Queues `task` behind the running pipeline; a different queued follow-up is superseded
    /// and its callers told so. With `cancel_running`, the running pipeline is cancelled at its
    /// next safe point (an `off` superseding a recovery).
    pub fn enqueue(&mut self, task: Task, reply: Reply, cancel_running: bool) -> Effects {
        let mut fx = Effects::default();
        if cancel_running {
            self.cancel_pipeline();
        }
        match &mut self.queued {
            Some(q) if q.task == task => q.replies.push(reply),
            queued => {
                if let Some(old) = queued.take() {
                    for r in old.replies {
                        fx.reply(
                            r,
                            Response::Action(failed_report(
                                &self.cfg.key,
                                format!("{} superseded by {}", old.task.name(), task.name()),
                            )),
                        );
                    }
                }
                *queued = Some(Queued {
                    task,
                    replies: vec![reply],
                });
            }
        }
        fx
    }

    /// Whether its pipeline waits for a slot (shown as `queued`).
    pub fn set_waiting_slot(&mut self, waiting: bool) {
        self.waiting_slot = waiting;
    }

    /// The actions a pipeline for `task` runs: the configured ones, without those disabled in
    /// the config or at runtime; one action run by hand runs even when disabled.
    pub fn actions_for(&self, task: &Task) -> Vec<String> {
        let enabled = |a: &&str| {
            !self.cfg.disabled_actions.iter().any(|d| d == a)
                && !self.overrides.actions_off.contains(*a)
        };
        match (task.trigger, &task.action) {
            (Trigger::Run, Some(action)) => vec![action.clone()],
            (Trigger::Off, _) => vec!["kill".into()],
            (Trigger::On, _) => ["kill", "start"]
                .into_iter()
                .filter(enabled)
                .map(String::from)
                .collect(),
            _ => self
                .cfg
                .recovery_actions
                .iter()
                .map(String::as_str)
                .filter(enabled)
                .map(String::from)
                .collect(),
        }
    }

    /// Marks the pipeline `id` for `task` as running.
    pub fn begin(
        &mut self,
        id: u64,
        task: Task,
        cancel: CancellationToken,
        replies: Vec<Reply>,
    ) -> Begun {
        let begun = Begun {
            actions: self.actions_for(&task),
            started_group: self.started.map(|s| s.session),
            health: (task.trigger == Trigger::Automatic)
                .then(|| self.verdict.as_ref().map(|v| v.health))
                .flatten(),
            failures: self.failures,
        };
        self.waiting_slot = false;
        self.pipeline = Some(Running {
            id,
            task,
            cancel,
            replies,
        });
        begun
    }

    /// Records the end of pipeline `id` (see the module note); `None` when `id` is not its
    /// running pipeline (a stale report).
    pub fn finish(
        &mut self,
        id: u64,
        outcome: Outcome,
        started: Option<Session>,
        run_id: String,
        now: &Now,
    ) -> Option<Finished> {
        let running = self.pipeline.take_if(|p| p.id == id)?;
        let trigger = running.task.trigger;
        let key = self.cfg.key.clone();
        let mut fx = Effects::default();
        for message in &outcome.refusals {
            fx.records.push(Record::event(
                &key,
                EventKind::SignalRefused,
                message.clone(),
                outcome.finished_ms,
            ));
        }
        if outcome.result != PipelineResult::Skipped {
            self.last_recovery = Some(RecoverySummary {
                trigger,
                started_ms: outcome.started_ms,
                finished_ms: outcome.finished_ms,
                result: outcome.result,
            });
        }
        if outcome.result.is_success() && trigger != Trigger::Run {
            self.failures = 0;
        }
        let slot = match outcome.result {
            PipelineResult::Succeeded => 0,
            PipelineResult::Warned => 1,
            PipelineResult::Failed => 2,
            PipelineResult::Skipped => 3,
        };
        self.counters.recoveries[slot] += 1;
        self.counters.last_recovery_duration_ms = Some(outcome.finished_ms - outcome.started_ms);
        // What was answered is what `status` shows from now on: the last verdict judged the
        // instance this pipeline stopped or replaced, and says nothing of what runs now.
        let killed = outcome
            .steps
            .iter()
            .any(|s| s.action == "kill" && s.outcome == protocol::StepOutcome::Ok);
        let changed_process = killed || started.is_some();
        if let Some(s) = started {
            self.started = Some(StartRecord {
                session: s,
                alive: true,
            });
            // A check while the start was being verified may already have judged the process it
            // started (same pid, same kernel start): that verdict is about what runs now, and
            // forgetting it would take back a `healthy` a client has already been shown. Seen
            // healthy, it needs no start grace either.
            let started_id = s.ticks.map(|t| (s.pid as u32, t));
            if started_id.is_none() || self.writer != started_id {
                self.verdict = None;
                self.writer = None;
            }
            let proven = self.verdict.as_ref().is_some_and(|v| v.health.is_healthy());
            self.grace_until = (!proven).then(|| now.mono + self.cfg.start_grace);
        } else if killed {
            self.verdict = Some(crate::health::Verdict::without_heartbeat(
                protocol::Health::StalePid,
                format!("stopped by watchdogd ({} pipeline)", trigger.as_str()),
            ));
            self.writer = None;
        }
        let level = if outcome.result == PipelineResult::Failed {
            tracing::Level::ERROR
        } else {
            tracing::Level::INFO
        };
        let finished = format!(
            "{} pipeline {}: {}",
            running.task.name(),
            outcome.result.as_str(),
            outcome.message
        );
        fx.note(level, finished.clone());
        fx.events.push(protocol::EventRecord {
            at_ms: now.wall_ms(),
            key: key.clone(),
            kind: EventKind::PipelineFinished,
            health: None,
            state: None,
            message: finished,
        });
        self.stall_mark = None;
        fx.check_by = Some(if outcome.result == PipelineResult::Failed {
            now.mono + CHECK_AFTER_FAILURE
        } else {
            now.mono
        });
        let report = ActionReport {
            key: key.clone(),
            result: outcome.result,
            message: outcome.message.clone(),
            steps: outcome.steps.clone(),
            old_pid: outcome.old_pid,
        };
        // Every run completes the row its start wrote, skipped ones too (or it would read as
        // interrupted at the next start).
        fx.records.push(Record::Pipeline {
            run_id,
            key,
            trigger,
            result: outcome.result,
            message: outcome.message,
            steps: outcome.steps,
            old_pid: outcome.old_pid,
            new_pid: started.map(|s| s.pid as u32),
            started_ms: outcome.started_ms,
            finished_ms: outcome.finished_ms,
        });
        self.persisted = self.state_fingerprint();
        fx.records.push(Record::State(self.saved(now)));
        let replies = running
            .replies
            .into_iter()
            .map(|r| (r, Response::Action(report.clone())))
            .collect();
        let next = self.queued.take().map(|q| (q.task, q.replies));
        Some(Finished {
            effects: fx,
            replies,
            report,
            next,
            changed_process,
        })
    }

    /// The start shell `pid` exited: returns whether that is the service's start (then it is
    /// checked at once, and no longer counts as starting when it failed).
    pub fn start_exited(&mut self, pid: u32, success: bool) -> bool {
        match &mut self.started {
            Some(s) if s.session.pid as u32 == pid => {
                s.alive &= success;
                self.is_monitored()
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
