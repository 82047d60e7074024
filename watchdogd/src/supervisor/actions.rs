//! The action side of the owner: commands, pipelines and their outcomes, as wiring.
//!
//! What a request does is decided by the service's rules ([`super::service`]); this file
//! spawns what they admit, bounded by `max_parallel_recoveries` ([`Slots`]: the rest wait in
//! order, operators' requests ahead of automatic recoveries), and hands outcomes back to the
//! rules. Replies to requests that change intent wait for their rows to be durable.

use std::collections::VecDeque;

use protocol::{ActionReport, ErrorKind, Response, Trigger};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::command::{Act, Command};
use super::effects::Reply;
use super::handle::unknown_key;
use super::service::flap::Decision;
use super::service::{Admission, Started, Task};
use super::{Event, Supervisor};
use crate::clock::Now;
use crate::pipeline::{self, Plan};
use crate::store::Record;

/// A pipeline admitted but waiting for a slot.
struct Waiting {
    key: String,
    task: Task,
    replies: Vec<Reply>,
}

/// The bound on pipelines running at once, and who waits for a slot.
pub(super) struct Slots {
    limit: usize,
    running: usize,
    /// Operators' requests, served first.
    manual: VecDeque<Waiting>,
    automatic: VecDeque<Waiting>,
}

impl Slots {
    pub(super) fn new(limit: usize) -> Slots {
        Slots {
            limit: limit.max(1),
            running: 0,
            manual: VecDeque::new(),
            automatic: VecDeque::new(),
        }
    }

    pub(super) fn running(&self) -> usize {
        self.running
    }

    pub(super) fn waiting(&self) -> usize {
        self.manual.len() + self.automatic.len()
    }

    pub(super) fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
    }

    fn entry(&mut self, key: &str) -> Option<&mut Waiting> {
        self.manual
            .iter_mut()
            .chain(self.automatic.iter_mut())
            .find(|w| w.key == key)
    }

    fn next(&mut self) -> Option<Waiting> {
        if self.running >= self.limit {
            return None;
        }
        self.manual
            .pop_front()
            .or_else(|| self.automatic.pop_front())
    }

    /// Everyone still waiting, for shutdown.
    pub(super) fn drain(&mut self) -> impl Iterator<Item = (Reply, String)> + '_ {
        self.manual
            .drain(..)
            .chain(self.automatic.drain(..))
            .flat_map(|w| w.replies.into_iter().map(move |r| (r, w.key.clone())))
    }
}

impl Supervisor {
    pub(super) fn on_command(&mut self, command: Command) {
        match command {
            Command::Act { key, act, reply } => match self.index.get(&key) {
                Some(&idx) => self.act(idx, act, reply),
                None => {
                    let _ = reply.send(unknown_key(&key));
                }
            },
            Command::Bulk { act, reply } => self.bulk(act, reply),
            Command::Wait {
                key,
                timeout,
                not_pid,
                reply,
            } => match self.index.get(&key) {
                Some(&idx) => {
                    let now = tokio::time::Instant::now();
                    self.services[idx].add_waiter(not_pid, now + timeout, reply);
                    self.check_now(idx);
                }
                None => {
                    let _ = reply.send(unknown_key(&key));
                }
            },
            Command::Check { reply } => self.start_round(reply),
            Command::Reload { reply } => self.start_reload(reply),
            Command::Monitor {
                key,
                enabled,
                reply,
            } => self.set_monitoring(&key, enabled, reply),
            Command::ToggleAction {
                key,
                action,
                enabled,
                reply,
            } => self.toggle_action(&key, &action, enabled, reply),
        }
    }

    /// One act on service `idx`.
    fn act(&mut self, idx: usize, act: Act, reply: Reply) {
        if let Act::Run(action) = &act
            && let Err(why) = self.check_action(idx, action)
        {
            let _ = reply.send(Response::Error {
                kind: ErrorKind::BadRequest,
                message: why,
            });
            return;
        }
        self.request_task(idx, act.task(), Some(reply));
        if let Act::OffFor(length) = act {
            let fx = self.services[idx].open_window(length, &Now::read());
            self.apply(idx, fx);
            self.schedule.wake_at = self
                .schedule
                .wake_at
                .min(tokio::time::Instant::now() + length);
        }
    }

    /// Whether `action` can be run by hand on service `idx`.
    fn check_action(&self, idx: usize, action: &str) -> Result<(), String> {
        let cfg = self.services[idx].cfg();
        if action == "kill" || cfg.commands.contains_key(action) {
            return Ok(());
        }
        let mut known: Vec<&str> = vec!["kill"];
        known.extend(cfg.commands.keys().map(String::as_str));
        Err(format!(
            "{} has no action {action:?}; its actions are: {}",
            cfg.key,
            known.join(", ")
        ))
    }

    /// The same act on every monitored service, answered together. `restart-all` leaves out
    /// (and says so) services that are off by intent: turning one back on is `on`'s to do, or
    /// `start-all`'s. A `run --all` of an action no service has is refused, naming those there are.
    fn bulk(&mut self, act: Act, reply: Reply) {
        if let Act::Run(action) = &act {
            let has = |idx: usize| self.check_action(idx, action).is_ok();
            if !(0..self.services.len()).any(|i| self.services[i].is_monitored() && has(i)) {
                let _ = reply.send(Response::Error {
                    kind: ErrorKind::BadRequest,
                    message: format!(
                        "no monitored service has an action {action:?}; the actions there are: {}",
                        self.all_actions().join(", ")
                    ),
                });
                return;
            }
        }
        let mut answers = Vec::new();
        let mut skipped = Vec::new();
        for idx in 0..self.services.len() {
            if !self.services[idx].is_monitored() {
                continue;
            }
            let key = self.services[idx].key().to_owned();
            match &act {
                Act::Run(action) if self.check_action(idx, action).is_err() => {
                    // Services without that action are left out of a `run --all`.
                    continue;
                }
                Act::Restart if self.services[idx].is_off_by_intent() => {
                    let mut report = failed_report(
                        &key,
                        format!(
                            "off by intent: not restarted (`watchdogctl on {key}` turns it on)"
                        ),
                    );
                    report.result = protocol::PipelineResult::Skipped;
                    skipped.push(report);
                    continue;
                }
                _ => {}
            }
            let (tx, rx) = oneshot::channel();
            self.act(idx, act.clone(), tx);
            answers.push((key, rx));
        }
        tokio::spawn(async move {
            let mut reports = Vec::with_capacity(answers.len() + skipped.len());
            for (key, rx) in answers {
                reports.push(match rx.await {
                    Ok(Response::Action(report)) => report,
                    Ok(Response::Error { message, .. }) => failed_report(&key, message),
                    _ => failed_report(&key, "no answer (daemon shutting down)".into()),
                });
            }
            reports.extend(skipped);
            let _ = reply.send(Response::Bulk(reports));
        });
    }

    /// Every action any monitored service can run by hand, sorted, once each.
    fn all_actions(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .services
            .iter()
            .filter(|s| s.is_monitored())
            .flat_map(|s| s.cfg().commands.keys().cloned())
            .chain(["kill".to_owned()])
            .collect();
        all.sort();
        all.dedup();
        all
    }

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
        if let Some(waiting) = self.slots.entry(&key) {
            match super::service::admit::admit(Some(&waiting.task), false, &task) {
                Admission::Join => waiting.replies.push(reply),
                Admission::Supersede => {
                    let old = std::mem::replace(&mut waiting.task, task.clone());
                    let superseded = std::mem::replace(&mut waiting.replies, vec![reply]);
                    for r in superseded {
                        let message = format!("{} superseded by {}", old.name(), task.name());
                        let _ = r.send(Response::Action(failed_report(&key, message)));
                    }
                }
                _ => {
                    let fx = self.services[idx].enqueue(task, reply, false);
                    self.apply(idx, fx);
                }
            }
            return;
        }
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
        let key = self.services[idx].key().to_owned();
        if self.slots.running >= self.slots.limit {
            self.services[idx].set_waiting_slot(true);
            let manual = task.trigger != Trigger::Automatic;
            let queue = if manual {
                &mut self.slots.manual
            } else {
                &mut self.slots.automatic
            };
            queue.push_back(Waiting { key, task, replies });
            self.dirty = true;
            return;
        }
        self.launch(idx, task, replies);
    }

    fn launch(&mut self, idx: usize, task: Task, replies: Vec<Reply>) {
        let id = self.next_pipeline_id;
        self.next_pipeline_id += 1;
        self.slots.running += 1;
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
        self.slots.running = self.slots.running.saturating_sub(1);
        let now = Now::read();
        let run_id = format!("{}-{id}", self.run_prefix);
        let child = outcome.started.as_mut().and_then(|s| s.child.take());
        let started: Option<Started> = outcome.started.as_ref().map(|s| s.session);
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
        started: Option<Started>,
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

    /// Runs the `on_give_up` hook of service `idx`, once, outside any pipeline.
    fn run_give_up_hook(&self, idx: usize) {
        let svc = &self.services[idx];
        let Some(hook) = svc.cfg().on_give_up.clone() else {
            return;
        };
        let process = svc.cfg().clone();
        let reason = svc.reason();
        let timeout = self.config.cleanup_timeout;
        let store = self.store.clone();
        let live = self.live.clone();
        let readers = self.readers.clone();
        tokio::spawn(async move {
            let result = pipeline::run_hook(&readers, &process, &hook, &reason, timeout).await;
            let (kind, message) = match result {
                Ok(m) => (
                    protocol::EventKind::GiveUpHook,
                    format!("on_give_up ran: {m}"),
                ),
                Err(m) => (
                    protocol::EventKind::GiveUpHookFailed,
                    format!("on_give_up failed: {m}"),
                ),
            };
            if kind == protocol::EventKind::GiveUpHook {
                tracing::info!(target: "supervisor", "{}: {message}", process.key);
            } else {
                tracing::warn!(target: "supervisor", "{}: {message}", process.key);
            }
            let at_ms = protocol::time::now_millis();
            if live.receiver_count() > 0 {
                let _ = live.send(protocol::EventRecord {
                    at_ms,
                    key: process.key.clone(),
                    kind,
                    health: None,
                    state: None,
                    message: message.clone(),
                });
            }
            store.write(vec![Record::event(&process.key, kind, message, at_ms)]);
        });
    }

    fn set_monitoring(&mut self, key: &str, enabled: bool, reply: Reply) {
        let Some(&idx) = self.index.get(key) else {
            let _ = reply.send(unknown_key(key));
            return;
        };
        let now = Now::read();
        let fx = self.services[idx].set_monitoring(enabled, &now);
        self.apply(idx, fx);
        let status = self.services[idx].status(&now);
        let answer = self.snapshot.borrow().status_reply(vec![status]);
        self.durable.push((reply, Response::Status(answer)));
        self.check_now(idx);
    }

    fn toggle_action(&mut self, key: &str, action: &str, enabled: bool, reply: Reply) {
        let Some(&idx) = self.index.get(key) else {
            let _ = reply.send(unknown_key(key));
            return;
        };
        let now = Now::read();
        match self.services[idx].set_action(action, enabled, &now) {
            Ok(fx) => {
                self.apply(idx, fx);
                let status = self.services[idx].status(&now);
                let answer = self.snapshot.borrow().status_reply(vec![status]);
                self.durable.push((reply, Response::Status(answer)));
            }
            Err(why) => {
                let _ = reply.send(Response::Error {
                    kind: ErrorKind::BadRequest,
                    message: why,
                });
            }
        }
    }
}

fn failed_report(key: &str, message: String) -> ActionReport {
    super::service::failed_report(key, message)
}
