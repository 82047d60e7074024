//! Pipelines, as wiring: what a request admits, spawned, and its outcome handed back.
//!
//! What a request does is decided by the service's rules ([`super::service`]); this file
//! spawns what they admit, bounded by `max_parallel_recoveries` ([`super::slots`]: the rest wait
//! in order, operators' requests ahead of automatic recoveries), and hands outcomes back to the
//! rules. Replies to requests that change intent wait for their rows to be durable.

use protocol::{ActionReport, ErrorKind, Response, Trigger};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::effects::Reply;
use super::handle::unknown_key;
use super::service::flap::Decision;
use super::service::{Admission, Task};
use super::slots::{Offered, Waiting};
use super::{Event, Supervisor};
use crate::clock::Now;
use crate::pipeline::{self, Plan};
use crate::session::Session;
use crate::store::Record;

impl Supervisor {
    /// Sets what `task` implies and starts, joins, queues or skips it, as admitted.
    pub(super) fn request_task(&mut self, idx: usize, task: Task, reply: Option<Reply>) {
        let now = Now::read();
        let fx = self.services[idx].prepare(&task, &now);
        self.apply(idx, fx);
        let (reply, _dropped) = match reply {
            Some(r) => (r, None),
            // Nobody waits for this answer (a maintenance window's end).
            None => {
                let (tx, rx) = oneshot::channel();
                (tx, Some(rx))
            }
        };
        let key = self.services[idx].key().to_owned();
        // A pipeline waiting for a slot counts as the one that runs (nothing to cancel yet).
        let (task, reply) = match self.slots.offer(&key, task, reply) {
            Offered::Joined => return,
            Offered::Replaced(told, message) => {
                for r in told {
                    let _ = r.send(Response::Action(failed_report(&key, message.clone())));
                }
                return;
            }
            Offered::Behind(task, reply) => {
                let fx = self.services[idx].enqueue(task, reply, false);
                self.apply(idx, fx);
                return;
            }
            Offered::NotWaiting(task, reply) => (task, reply),
        };
        match self.services[idx].admission(&task, &now) {
            Admission::Start => self.start_pipeline(idx, task, vec![reply]),
            Admission::Join => self.services[idx].join(reply),
            Admission::Queue => {
                let fx = self.services[idx].enqueue(task, reply, false);
                self.apply(idx, fx);
            }
            Admission::Supersede => {
                let fx = self.services[idx].enqueue(task, reply, true);
                self.apply(idx, fx);
            }
            Admission::Skip(why) => {
                let report = ActionReport {
                    key,
                    result: protocol::PipelineResult::Skipped,
                    message: why.to_owned(),
                    steps: Vec::new(),
                    old_pid: None,
                };
                // An acknowledged intent must be durable, skipped or not (`prepare` wrote it).
                self.durable.push((reply, Response::Action(report)));
            }
        }
    }

    /// Starts a pipeline for service `idx` if a slot is free, else queues it for one.
    fn start_pipeline(&mut self, idx: usize, task: Task, replies: Vec<Reply>) {
        if self.stopping {
            for r in replies {
                let _ = r.send(Response::Error {
                    kind: ErrorKind::Unavailable,
                    message: "watchdogd is shutting down".into(),
                });
            }
            return;
        }
        if !self.slots.free() {
            self.services[idx].set_waiting_slot(true);
            let key = self.services[idx].key().to_owned();
            self.slots.wait(Waiting { key, task, replies });
            self.dirty = true;
            return;
        }
        self.launch(idx, task, replies);
    }

    fn launch(&mut self, idx: usize, task: Task, replies: Vec<Reply>) {
        let id = self.next_pipeline_id;
        self.next_pipeline_id += 1;
        self.slots.take();
        let cancel = CancellationToken::new();
        let now = Now::read();
        let key_of = self.services[idx].key().to_owned();
        let svc = &mut self.services[idx];
        let begun = svc.begin(id, task.clone(), cancel.clone(), replies);
        let plan = Plan {
            config: self.config.clone(),
            key: svc.key().to_owned(),
            trigger: task.trigger,
            actions: begun.actions,
            started_group: begun.started_group,
            skip_if_healthy: task.trigger == Trigger::On,
            known: svc.known(),
            previous: svc.probe.cache.clone(),
            health: begun.health,
            failures: begun.failures,
            progress: (self.live.receiver_count() > 0).then(|| self.live.clone()),
            readers: self.readers.clone(),
            notify: self.notify.slot(&key_of),
        };
        let line = format!("{} pipeline: {}", task.name(), plan.actions.join(" → "));
        tracing::info!(target: "pipeline", "{}: {line}", plan.key);
        self.emit(protocol::EventRecord {
            at_ms: now.wall_ms(),
            key: plan.key.clone(),
            kind: protocol::EventKind::PipelineStarted,
            health: None,
            state: None,
            message: line,
        });
        self.pending.push(Record::PipelineStarted {
            run_id: format!("{}-{id}", self.run_prefix),
            key: plan.key.clone(),
            trigger: task.trigger,
            started_ms: now.wall_ms(),
        });
        self.dirty = true;
        let events = self.events_tx.clone();
        let key = plan.key.clone();
        tokio::spawn(async move {
            let outcome = Box::new(pipeline::run(plan, cancel).await);
            let _ = events.send(Event::PipelineDone { key, id, outcome }).await;
        });
    }

    /// Records a finished pipeline, answers its callers once that is durable, runs what was
    /// queued behind it and what waited for its slot.
    pub(super) fn on_pipeline_done(&mut self, key: &str, id: u64, mut outcome: pipeline::Outcome) {
        self.slots.release();
        let now = Now::read();
        let run_id = format!("{}-{id}", self.run_prefix);
        let child = outcome.started.as_mut().and_then(|s| s.child.take());
        let started: Option<Session> = outcome.started.as_ref().map(|s| s.session);
        match self.index.get(key).copied() {
            Some(idx) if self.services[idx].pipeline_id() == Some(id) => {
                let Some(done) = self.services[idx].finish(id, outcome, started, run_id, &now)
                else {
                    return;
                };
                // A check read while the pipeline ran describes what the pipeline changed:
                // what the reply says must not be overwritten by it. Nor may the exit watch of
                // a process it stopped vouch for that process (its exit may not be seen yet):
                // the next healthy check watches whatever runs now.
                if done.changed_process {
                    let svc = &mut self.services[idx];
                    svc.probe.superseded |= svc.probe.in_flight.is_some();
                    self.unwatch_exit(idx);
                }
                self.apply(idx, done.effects);
                self.durable.extend(done.replies);
                if let (Some(mut child), Some(s)) = (child, started) {
                    let events = self.events_tx.clone();
                    let key = key.to_owned();
                    tokio::spawn(async move {
                        let (success, status) = match child.wait().await {
                            Ok(st) => (st.success(), st.to_string()),
                            Err(e) => (false, format!("wait failed: {e}")),
                        };
                        let _ = events
                            .send(Event::ChildExited {
                                key,
                                pid: s.pid as u32,
                                success,
                                status,
                            })
                            .await;
                    });
                }
                if let Some((task, replies)) = done.next {
                    self.start_pipeline(idx, task, replies);
                }
            }
            _ => self.retire(key, id, outcome, started, run_id, &now),
        }
        self.start_waiting();
    }

    /// The pipeline of a service a reload removed has ended: close its row, answer its callers
    /// truthfully, forget the service.
    fn retire(
        &mut self,
        key: &str,
        id: u64,
        outcome: pipeline::Outcome,
        started: Option<Session>,
        run_id: String,
        now: &Now,
    ) {
        let Some(mut svc) = self.retiring.remove(key) else {
            return;
        };
        let Some(done) = svc.finish(id, outcome, started, run_id, now) else {
            self.retiring.insert(key.to_owned(), svc);
            return;
        };
        let note = format!("{key} was removed from the config by a reload");
        tracing::info!(target: "pipeline", "{key}: pipeline of a service removed by reload ended: {}", done.report.message);
        self.carry_out(key, done.effects);
        for (reply, response) in done.replies {
            let response = match response {
                Response::Action(mut r) => {
                    r.message = format!("{} ({note})", r.message);
                    Response::Action(r)
                }
                other => other,
            };
            self.durable.push((reply, response));
        }
        if let Some((_, replies)) = done.next {
            for r in replies {
                let _ = r.send(unknown_key(key));
            }
        }
    }

    /// Starts pipelines that waited for a slot, in order.
    fn start_waiting(&mut self) {
        if self.stopping {
            return;
        }
        while let Some(w) = self.slots.next() {
            let Some(&idx) = self.index.get(&w.key) else {
                for r in w.replies {
                    let _ = r.send(unknown_key(&w.key));
                }
                continue;
            };
            self.services[idx].set_waiting_slot(false);
            self.launch(idx, w.task, w.replies);
        }
    }

    /// Recovers (or gives up on) the services that reached their threshold this turn.
    pub(super) fn recover_due(&mut self) {
        for idx in std::mem::take(&mut self.to_recover) {
            let now = Now::read();
            let (decision, fx) = self.services[idx].decide_recovery(&now);
            self.apply(idx, fx);
            match decision {
                Decision::Recover => {
                    self.request_task(idx, Task::new(Trigger::Automatic), None);
                }
                Decision::GiveUp => self.run_give_up_hook(idx),
                Decision::Wait => {}
            }
        }
    }
}

fn failed_report(key: &str, message: String) -> ActionReport {
    super::service::failed_report(key, message)
}
