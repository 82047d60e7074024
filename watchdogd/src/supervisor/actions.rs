//! The action side of the owner: requests, pipelines and their outcomes.
//!
//! At most one pipeline runs per service. A request that arrives while one runs either joins it
//! (a `restart` during an automatic recovery is answered by that recovery's outcome) or is
//! queued behind it (`on` during an `off`); an `off` cancels a running recovery and is queued,
//! so intent always wins. Replies are sent after the outcome is committed to the store.

use protocol::{
    ActionReport, PipelineResult, RecoverySummary, Request, Response, StatusReply, Trigger,
};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::handle::unknown_key;
use super::state::{Reply, RunningPipeline, StartRecord, Waiter};
use super::{Command, Event, Supervisor, flap};
use crate::pipeline::{self, Outcome, Plan};
use crate::store::{Intent, Record};

impl Supervisor {
    pub(super) fn on_command(&mut self, Command { request, reply }: Command) {
        match request {
            Request::Status { .. } => {
                self.publish();
                let _ = reply.send(self.status_response());
            }
            Request::On { key } => {
                self.keyed(&key, reply, |s, i, r| s.request_action(i, Trigger::On, r))
            }
            Request::Off { key } => {
                self.keyed(&key, reply, |s, i, r| s.request_action(i, Trigger::Off, r))
            }
            Request::Restart { key } => self.keyed(&key, reply, |s, i, r| {
                s.request_action(i, Trigger::Restart, r)
            }),
            Request::StartAll => self.bulk(Trigger::On, reply),
            Request::StopAll => self.bulk(Trigger::Off, reply),
            Request::Check => self.check_all_now(reply),
            Request::Reload => self.start_reload(Some(reply)),
            Request::OffFor { key, for_ms } => self.keyed(&key, reply, |s, i, r| {
                s.request_action(i, Trigger::Off, r);
                let until = protocol::time::now_millis().saturating_add(i64::try_from(for_ms).unwrap_or(i64::MAX));
                let svc = &mut s.services[i];
                svc.off_until_ms = Some(until);
                tracing::info!(target: "supervisor", "{}: off until {}", svc.cfg.key, protocol::time::format_millis(until));
                s.wake_at = s.wake_at.min(Instant::now() + std::time::Duration::from_millis(for_ms));
                let key = s.services[i].cfg.key.clone();
                s.pending.push(Record::Event {
                    key,
                    kind: "maintenance_started",
                    message: format!("off until {}", protocol::time::format_millis(until)),
                    at_ms: protocol::time::now_millis(),
                });
                s.pending.push(Record::State(s.services[i].saved()));
            }),
            // Answered by the connection itself, from the snapshot and the database.
            Request::History(_) | Request::Events | Request::Detail { .. } | Request::Metrics | Request::Version => {
                let _ = reply.send(Response::Error {
                    kind: protocol::ErrorKind::BadRequest,
                    message: "not a supervisor request".into(),
                });
            }
            Request::Wait(w) => self.keyed(&w.key.clone(), reply, |s, i, r| {
                let svc = &mut s.services[i];
                let deadline = Instant::now() + std::time::Duration::from_millis(w.timeout_ms);
                svc.waiters.push(Waiter {
                    not_pid: w.not_pid,
                    deadline,
                    reply: r,
                });
                svc.next_check = svc.next_check.min(Instant::now());
                s.wake_at = Instant::now();
            }),
        }
    }

    fn keyed(&mut self, key: &str, reply: Reply, f: impl FnOnce(&mut Self, usize, Reply)) {
        match self.index.get(key) {
            Some(&idx) => f(self, idx, reply),
            None => {
                let _ = reply.send(unknown_key(key));
            }
        }
    }

    pub(super) fn status_response(&self) -> Response {
        Response::Status(StatusReply {
            daemon_version: protocol::VERSION.to_owned(),
            daemon_pid: std::process::id(),
            services: self
                .snapshot
                .borrow()
                .services
                .iter()
                .map(|s| protocol::ServiceStatus::clone(s))
                .collect(),
            audit_rows_dropped: self.store.dropped(),
        })
    }

    /// `start-all` / `stop-all`: the action for every enabled service, answered together.
    fn bulk(&mut self, trigger: Trigger, reply: Reply) {
        let mut answers = Vec::new();
        for idx in 0..self.services.len() {
            if self.services[idx].cfg.enabled {
                let (tx, rx) = oneshot::channel();
                self.request_action(idx, trigger, tx);
                answers.push((self.services[idx].cfg.key.clone(), rx));
            }
        }
        tokio::spawn(async move {
            let mut reports = Vec::with_capacity(answers.len());
            for (key, rx) in answers {
                reports.push(match rx.await {
                    Ok(Response::Action(report)) => report,
                    Ok(Response::Error { message, .. }) => failed_report(&key, message),
                    _ => failed_report(&key, "no answer (daemon shutting down)".into()),
                });
            }
            let _ = reply.send(Response::Bulk(reports));
        });
    }

    /// Sets the intent an action implies and runs it, joins the running pipeline, or queues it.
    pub(super) fn request_action(&mut self, idx: usize, trigger: Trigger, reply: Reply) {
        let svc = &mut self.services[idx];
        // An explicit action ends a maintenance window (`off --for` sets a new one after this).
        svc.off_until_ms = None;
        if trigger != Trigger::Off && (svc.gave_up.is_some() || !svc.restarts.is_empty()) {
            // An operator's `restart`/`on` is a fresh start: the budget refills.
            if svc.gave_up.take().is_some() {
                tracing::info!(target: "supervisor", "{}: give-up cleared by {}", svc.cfg.key, trigger.as_str());
            }
            svc.restarts.clear();
            self.pending.push(Record::State(svc.saved()));
            self.dirty = true;
        }
        let intent = if trigger == Trigger::Off {
            Intent::Off
        } else {
            Intent::On
        };
        if svc.intent != intent {
            svc.intent = intent;
            tracing::info!(target: "supervisor", "{}: intent {}", svc.cfg.key, intent.as_str());
            self.pending.push(Record::State(svc.saved()));
            self.dirty = true;
        }
        if trigger == Trigger::On && svc.pipeline.is_none() && svc.is_starting() {
            // Still inside its start grace with its process group alive: `on` again must not
            // kill a service that is merely slow to write its first heartbeat.
            let message = "already starting (inside its start grace)".to_owned();
            let _ = reply.send(Response::Action(ActionReport {
                key: svc.cfg.key.clone(),
                result: PipelineResult::Skipped,
                message,
                steps: Vec::new(),
                old_pid: svc.started.map(|s| s.pid),
            }));
            return;
        }
        let Some(running) = svc.pipeline.as_mut() else {
            self.start_pipeline(idx, trigger, vec![reply]);
            return;
        };
        let join = match (running.trigger, trigger) {
            (Trigger::Off, Trigger::Off) => true,
            (Trigger::Off, _) => false,
            (_, Trigger::Off) => {
                running.cancel.cancel();
                false
            }
            _ => true,
        };
        if join {
            running.replies.push(reply);
            return;
        }
        match &mut svc.queued {
            Some((queued, replies)) if *queued == trigger => replies.push(reply),
            queued => {
                if let Some((old, replies)) = queued.take() {
                    for r in replies {
                        let _ = r.send(Response::Action(failed_report(
                            &svc.cfg.key,
                            format!("{} superseded by {}", old.as_str(), trigger.as_str()),
                        )));
                    }
                }
                *queued = Some((trigger, vec![reply]));
            }
        }
    }

    /// Spawns a pipeline for the service.
    pub(super) fn start_pipeline(&mut self, idx: usize, trigger: Trigger, replies: Vec<Reply>) {
        let svc = &mut self.services[idx];
        let actions: Vec<String> = match trigger {
            Trigger::Off => vec!["kill".into()],
            Trigger::On => ["kill", "start"]
                .into_iter()
                .filter(|a| !svc.cfg.disabled_actions.iter().any(|d| d == a))
                .map(String::from)
                .collect(),
            Trigger::Automatic | Trigger::Restart => {
                svc.cfg.effective_actions().map(String::from).collect()
            }
        };
        let plan = Plan {
            config: self.config.clone(),
            key: svc.cfg.key.clone(),
            trigger,
            actions,
            started_group: svc.started.map(|s| (s.pid as i32, s.at_us)),
            skip_if_healthy: trigger == Trigger::On,
            heartbeat_owner: svc.heartbeat_owner,
            health: (trigger == Trigger::Automatic)
                .then(|| svc.verdict.as_ref().map(|v| v.health))
                .flatten(),
            failures: svc.failures,
            progress: (self.live.receiver_count() > 0).then(|| self.live.clone()),
        };
        let id = self.next_pipeline_id;
        self.next_pipeline_id += 1;
        let cancel = CancellationToken::new();
        svc.pipeline = Some(RunningPipeline {
            id,
            trigger,
            cancel: cancel.clone(),
            replies,
        });
        tracing::info!(target: "pipeline", "{}: {} pipeline: {}", svc.cfg.key, trigger.as_str(), plan.actions.join(" → "));
        self.dirty = true;
        self.emit_for(
            &plan.key,
            protocol::EventKind::PipelineStarted,
            None,
            None,
            format!(
                "{} pipeline: {}",
                trigger.as_str(),
                plan.actions.join(" → ")
            ),
        );
        self.pending.push(Record::PipelineStarted {
            run_id: format!("{}-{id}", self.run_prefix),
            key: plan.key.clone(),
            trigger,
            started_ms: protocol::time::now_millis(),
        });
        let events = self.events_tx.clone();
        let key = plan.key.clone();
        tokio::spawn(async move {
            let outcome = Box::new(pipeline::run(plan, cancel).await);
            let _ = events.send(Event::PipelineDone { key, id, outcome }).await;
        });
    }

    /// Records a finished pipeline, answers its callers after the commit, runs what was queued.
    pub(super) fn on_pipeline_done(&mut self, key: &str, id: u64, mut outcome: Outcome) {
        let Some(&idx) = self.index.get(key) else {
            tracing::info!(target: "pipeline", "{key}: pipeline of a service removed by reload ended: {}", outcome.message);
            return;
        };
        let Some(svc) = self.services.get_mut(idx) else {
            return;
        };
        let Some(running) = svc.pipeline.take_if(|p| p.id == id) else {
            return;
        };
        let trigger = running.trigger;
        let key = svc.cfg.key.clone();
        let refusals: Vec<Record> = std::mem::take(&mut outcome.refusals)
            .into_iter()
            .map(|message| Record::Event {
                key: key.clone(),
                kind: "signal_refused",
                message,
                at_ms: outcome.finished_ms,
            })
            .collect();
        let succeeded = outcome.result.is_success();
        if outcome.result != PipelineResult::Skipped {
            svc.last_recovery = Some(RecoverySummary {
                trigger,
                started_ms: outcome.started_ms,
                finished_ms: outcome.finished_ms,
                result: outcome.result,
            });
        }
        if succeeded {
            svc.failures = 0;
        }
        let slot = match outcome.result {
            PipelineResult::Succeeded => 0,
            PipelineResult::Warned => 1,
            PipelineResult::Failed => 2,
            PipelineResult::Skipped => 3,
        };
        svc.counters.recoveries[slot] += 1;
        svc.counters.last_recovery_duration_ms = Some(outcome.finished_ms - outcome.started_ms);
        let new_pid = outcome.started.as_ref().map(|s| s.pid);
        if let Some(started) = outcome.started.as_mut() {
            svc.started = Some(StartRecord {
                pid: started.pid,
                at_us: started.at_us,
            });
            svc.grace_until_us = Some(started.at_us + svc.cfg.start_grace.as_micros() as i64);
            if let Some(mut child) = started.child.take() {
                let events = self.events_tx.clone();
                let pid = started.pid;
                let key = key.clone();
                tokio::spawn(async move {
                    let status = match child.wait().await {
                        Ok(s) => s.to_string(),
                        Err(e) => format!("wait failed: {e}"),
                    };
                    let _ = events.send(Event::ChildExited { key, pid, status }).await;
                });
            }
        }
        match outcome.result {
            PipelineResult::Failed => {
                tracing::error!(target: "pipeline", "{key}: {} pipeline failed: {}", trigger.as_str(), outcome.message)
            }
            _ => {
                tracing::info!(target: "pipeline", "{key}: {} pipeline {}: {}", trigger.as_str(), outcome.result.as_str(), outcome.message)
            }
        }
        // Check again soon: the new process (or its absence) should show in status quickly.
        svc.next_check = svc
            .next_check
            .min(Instant::now() + super::checks::WAIT_CADENCE);
        self.wake_at = self.wake_at.min(svc.next_check);
        let finished = format!(
            "{} pipeline {}: {}",
            trigger.as_str(),
            outcome.result.as_str(),
            outcome.message
        );
        self.emit_for(
            &key,
            protocol::EventKind::PipelineFinished,
            None,
            None,
            finished,
        );
        let Some(svc) = self.services.get_mut(idx) else {
            return;
        };
        let report = ActionReport {
            key: key.clone(),
            result: outcome.result,
            message: outcome.message.clone(),
            steps: outcome.steps.clone(),
            old_pid: outcome.old_pid,
        };
        let mut records = refusals;
        records.push(Record::State(svc.saved()));
        // Every run completes the row its start wrote, skipped ones too (or it would read as
        // interrupted at the next start).
        records.push(Record::Pipeline {
            run_id: format!("{}-{id}", self.run_prefix),
            key,
            trigger,
            result: outcome.result,
            message: outcome.message,
            steps: outcome.steps,
            old_pid: outcome.old_pid,
            new_pid,
            started_ms: outcome.started_ms,
            finished_ms: outcome.finished_ms,
        });
        svc.stall_mark = None;
        let queued = svc.queued.take();
        self.dirty = true;
        // Answered once this turn's rows are committed (one transaction for the whole turn,
        // however many pipelines ended in it).
        self.pending.extend(records);
        for r in running.replies {
            self.after_commit
                .push((r, Response::Action(report.clone())));
        }
        if let Some((trigger, replies)) = queued {
            self.start_pipeline(idx, trigger, replies);
        }
    }
}

impl Supervisor {
    /// A service past its failure threshold: recover it, give up on it, or wait out the backoff.
    pub(super) fn recover_or_give_up(&mut self, idx: usize, now_ms: i64) {
        let svc = &mut self.services[idx];
        let decision = flap::decide(
            &svc.cfg.flap,
            svc.cfg.check_interval,
            &mut svc.restarts,
            &mut svc.gave_up,
            now_ms,
        );
        match decision {
            flap::Decision::Recover => {
                tracing::warn!(
                    target: "supervisor",
                    "{}: {} consecutive failures (threshold {}): recovering",
                    svc.cfg.key, svc.failures, svc.cfg.failure_threshold
                );
                self.start_pipeline(idx, Trigger::Automatic, Vec::new());
            }
            flap::Decision::GiveUp => self.give_up(idx, now_ms),
            flap::Decision::Wait => {}
        }
        self.pending.push(Record::State(self.services[idx].saved()));
        self.dirty = true;
    }

    fn give_up(&mut self, idx: usize, now_ms: i64) {
        let svc = &self.services[idx];
        let policy = svc.cfg.flap;
        let then = match svc.gave_up.and_then(|g| g.next_attempt_ms) {
            Some(at) => format!("next attempt in {:.1}s", (at - now_ms) as f64 / 1000.0),
            None => "no further automatic attempts".into(),
        };
        let message = format!(
            "gave up: {} automatic recoveries within {}s (max_restarts {}); {then}; `watchdogctl restart {}` clears this",
            svc.restarts.len(),
            policy.window.as_secs_f64(),
            policy.max_restarts,
            svc.cfg.key
        );
        tracing::error!(target: "supervisor", "{}: {message}", svc.cfg.key);
        self.emit_for(
            &svc.cfg.key,
            protocol::EventKind::GaveUp,
            None,
            Some(protocol::ServiceState::GaveUp),
            message.clone(),
        );
        self.pending.push(Record::Event {
            key: svc.cfg.key.clone(),
            kind: "gave_up",
            message,
            at_ms: now_ms,
        });
        let Some(hook) = svc.cfg.on_give_up.clone() else {
            return;
        };
        let process = svc.cfg.clone();
        let reason = crate::pipeline::command::Reason {
            health: svc.verdict.as_ref().map(|v| v.health),
            old_pid: svc.verdict.as_ref().and_then(|v| v.pid),
            failures: svc.failures,
        };
        let timeout = self.config.cleanup_timeout;
        let store = self.store.clone();
        tokio::spawn(async move {
            let result = pipeline::run_hook(&process, &hook, &reason, timeout).await;
            let (kind, message) = match result {
                Ok(m) => ("give_up_hook", format!("on_give_up ran: {m}")),
                Err(m) => ("give_up_hook_failed", format!("on_give_up failed: {m}")),
            };
            if kind == "give_up_hook" {
                tracing::info!(target: "supervisor", "{}: {message}", process.key);
            } else {
                tracing::warn!(target: "supervisor", "{}: {message}", process.key);
            }
            store.write(vec![Record::Event {
                key: process.key.clone(),
                kind,
                message,
                at_ms: protocol::time::now_millis(),
            }]);
        });
    }
}

fn failed_report(key: &str, message: String) -> ActionReport {
    ActionReport {
        key: key.to_owned(),
        result: PipelineResult::Failed,
        message,
        steps: Vec::new(),
        old_pid: None,
    }
}
