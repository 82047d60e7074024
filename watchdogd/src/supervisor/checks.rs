//! The check side of the owner: when to check, sending reads to the reader threads, applying
//! what comes back, and noticing reads that do not come back.
//!
//! A read still in flight after `probing::stuck_after` makes its service `unreadable` (shown, not
//! counted as a failure, again every such period while it lasts). The reader threads keep a
//! hung file system from holding more than a few threads, and answer further reads there at
//! once as `unreadable` too (see [`crate::reader`]); everyone else is checked on time.

use std::collections::HashSet;

use protocol::{CheckReport, Response};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Supervisor;
use super::effects::Reply;
use super::probing::{Look, stuck_after};
use super::rounds::Round;
use super::schedule::{self, IDLE, WAIT_CADENCE};
use crate::clock::Now;
use crate::probe::Job;

impl Supervisor {
    /// One pass over the services after every turn that is due: dispatches due checks, reports
    /// stuck reads, expires waiters, ends maintenance windows, and notes when the next of these
    /// is due. One pass, because at thousands of services the scans, not the checks, would
    /// dominate the owner's time.
    pub(super) fn on_timer(&mut self) {
        let now = Now::read();
        // Nothing is due before `wake_at` (every change that makes something due sooner lowers
        // it): most turns, woken by a message, skip the pass altogether.
        if now.mono < self.schedule.wake_at {
            return;
        }
        let mut wake = now.mono + IDLE;
        let real = std::time::Instant::now();
        let (mut due, mut stuck, mut expired, mut windows) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (idx, svc) in self.services.iter().enumerate() {
            let interval = svc.cfg().check_interval;
            let slack = schedule::slack(interval);
            match svc
                .probe
                .look(svc.is_monitored(), interval, slack, now.mono, real)
            {
                Look::Stuck => stuck.push(idx),
                Look::Due => due.push(idx),
                Look::Until(at) => wake = wake.min(at),
                Look::Idle => {}
            }
            if let Some(deadline) = svc.next_deadline() {
                if deadline <= now.mono {
                    if svc.window_over(&now) {
                        windows.push(idx);
                    } else {
                        expired.push(idx);
                    }
                } else {
                    wake = wake.min(deadline);
                }
            }
        }
        self.schedule.wake_at = wake;
        for idx in stuck {
            self.report_stuck(idx, &now);
        }
        if !due.is_empty() {
            self.dispatch(&due, &now);
        }
        for idx in expired {
            let fx = self.services[idx].expire_waiters(&now);
            self.apply(idx, fx);
        }
        for idx in windows {
            let fx = self.services[idx].close_window(&now);
            self.apply(idx, fx);
            self.request_task(idx, super::service::Task::new(protocol::Trigger::On), None);
        }
    }

    /// A read of service `idx` has not returned: `unreadable`, for now and every period on.
    fn report_stuck(&mut self, idx: usize, now: &Now) {
        let sample = self.config.healthy_sample;
        let svc = &mut self.services[idx];
        let Some(since) = svc.probe.in_flight else {
            return;
        };
        svc.probe.stuck_noted = Some(std::time::Instant::now());
        let detail = format!(
            "reading {} has not returned for {:.1}s (is its file system hung?)",
            svc.cfg()
                .heartbeat_path
                .as_deref()
                .unwrap_or(std::path::Path::new("its heartbeat"))
                .display(),
            since.elapsed().as_secs_f64()
        );
        let fx = svc.unreadable(detail, now, sample);
        self.apply(idx, fx);
        self.wake_for(now.mono + stuck_after(self.services[idx].cfg().check_interval));
        self.settle_rounds(idx);
    }

    /// Sends the due services' checks to the readers (which answer at once, as `unreadable`,
    /// for a file system that hangs).
    fn dispatch(&mut self, due: &[usize], now: &Now) {
        let n = self.services.len().max(1) as u32;
        let origin = self.schedule.origin;
        let epoch = self.epoch;
        let real = std::time::Instant::now();
        let mut batch = Vec::with_capacity(due.len());
        for &idx in due {
            let svc = &mut self.services[idx];
            let slot = schedule::slot_after(origin, now.mono, svc.cfg().check_interval, idx, n);
            let (healthy, waiters) = (svc.is_healthy(), svc.has_waiters().then_some(WAIT_CADENCE));
            let next = svc.probe.sent(now.mono, real, healthy, slot, waiters);
            self.schedule.wake_at = self.schedule.wake_at.min(next);
            if let Some(probe) = self.notify_probe(idx, now) {
                // Judged already: applied with the readers' results, next turn (now).
                self.checks.results.push(probe);
                self.schedule.wake_at = now.mono;
                continue;
            }
            let svc = &mut self.services[idx];
            batch.push(Job {
                idx,
                epoch,
                cfg: svc.cfg().clone(),
                known: svc.known(),
                cache: svc.probe.cache.take(),
                // A changed file is read at once; an unchanged one is stat'ed first.
                changed: std::mem::take(&mut svc.probe.changed),
            });
        }
        self.readers.check(batch);
    }

    /// Applies the check results the readers have handed back.
    pub(super) fn on_probes(&mut self) {
        let mut results = std::mem::take(&mut self.checks.results);
        self.readers.take_results(&mut results);
        if results.is_empty() {
            self.checks.results = results;
            return;
        }
        let now = Now::read();
        let sample = self.config.healthy_sample;
        for probe in results.drain(..) {
            self.facts.last_tick_ms = probe.took_ms;
            self.facts.max_tick_ms = self.facts.max_tick_ms.max(probe.took_ms);
            self.facts.checks_total += 1;
            // Results of an older epoch (a reload renumbered the services) are found by key,
            // and only kept when the settings they were read with are still those in force.
            let idx = if probe.epoch == self.epoch {
                Some(probe.idx)
            } else {
                self.index.get(&probe.cfg.key).copied()
            };
            let Some(idx) = idx.filter(|&i| i < self.services.len()) else {
                continue;
            };
            let svc = &mut self.services[idx];
            if !svc.probe.returned(now.mono) {
                // Read before a pipeline stopped or replaced the process: what it saw is gone.
                self.schedule.wake_at = now.mono;
                continue;
            }
            if probe.epoch != self.epoch && !std::sync::Arc::ptr_eq(svc.cfg(), &probe.cfg) {
                svc.probe.next = now.mono;
                self.schedule.wake_at = now.mono;
                continue;
            }
            let (via_link, found) = match &probe.cache {
                Some(b) => (b.via_link, true),
                None => (false, false),
            };
            svc.probe.cache = probe.cache;
            let verdict = super::notify::combine(&self.notify, svc, probe.verdict, &now);
            let fx = svc.apply_verdict(verdict, &now, sample);
            self.apply(idx, fx);
            self.after_read(idx, via_link, found, &now);
            self.watch_exit(idx);
            // Recover first: a `check` joins the recovery its verdict started.
            self.recover_due();
            self.settle_rounds(idx);
        }
        self.checks.results = results;
    }

    fn wake_for(&mut self, at: Instant) {
        self.schedule.wake_at = self.schedule.wake_at.min(at);
    }

    /// A start shell watchdogd spawned exited: check the service now rather than at its next
    /// tick.
    pub(super) fn on_child_exited(&mut self, key: &str, pid: u32, success: bool, status: &str) {
        let Some(&idx) = self.index.get(key) else {
            return;
        };
        tracing::info!(target: "supervisor", "{key}: started process {pid} exited ({status})");
        if self.services[idx].start_exited(pid, success) {
            self.check_now(idx);
        }
    }

    /// A watched process exited: its services are checked now rather than at their next tick.
    pub(super) fn on_process_exited(&mut self, pid: u32) {
        let Some(w) = self.exits.as_mut() else {
            return;
        };
        for key in w.take(pid) {
            let Some(&idx) = self.index.get(&*key) else {
                continue;
            };
            let svc = &mut self.services[idx];
            if svc.exit_watch == Some(pid) {
                svc.exit_watch = None;
                tracing::debug!(target: "supervisor", "{key}: pid {pid} exited; checking now");
                self.check_now(idx);
            }
        }
    }

    /// Stops watching the exit of the PID service `idx` watches, if any.
    pub(super) fn unwatch_exit(&mut self, idx: usize) {
        let svc = &mut self.services[idx];
        if let (Some(pid), Some(w)) = (svc.exit_watch.take(), self.exits.as_mut()) {
            w.unwatch(pid, svc.key());
        }
    }

    /// Makes service `idx` due now, because something happened to it (its process exited, a
    /// waiter arrived). Not while its own pipeline runs (its end is checked anyway). A read
    /// already in flight may have seen what was before: its result is dropped and the service
    /// read again at once (one event, one check, one history row).
    pub(super) fn check_now(&mut self, idx: usize) {
        let svc = &mut self.services[idx];
        if svc.has_pipeline() {
            return;
        }
        if svc.probe.in_flight.is_some() {
            svc.probe.superseded = true;
            return;
        }
        let now = Instant::now();
        svc.probe.next = now;
        self.wake_for(now);
    }

    /// Watches the exit of the PID a healthy check names, replacing the watch of an older PID.
    fn watch_exit(&mut self, idx: usize) {
        let Some(pid) = self.services[idx].watch_target() else {
            return;
        };
        if self.services[idx].exit_watch == Some(pid) {
            return;
        }
        self.unwatch_exit(idx);
        let svc = &mut self.services[idx];
        if let Some(w) = self.exits.as_mut()
            && w.watch(pid, svc.key())
        {
            svc.exit_watch = Some(pid);
        }
    }

    /// `watchdogctl check`: every monitored service checked now; answered when all have a
    /// fresh verdict and the recoveries those started have ended. A service whose check is
    /// already in flight is not checked twice (that would count one failure twice).
    pub(super) fn start_round(&mut self, reply: Reply) {
        let now = Now::read();
        let mut waiting = HashSet::new();
        let mut due = Vec::new();
        for (idx, svc) in self.services.iter().enumerate() {
            if !svc.is_monitored() {
                continue;
            }
            waiting.insert(svc.key().to_owned());
            if svc.probe.in_flight.is_none() {
                due.push(idx);
            }
        }
        self.checks.rounds.push(Round {
            waiting,
            joined: Vec::new(),
            reply,
        });
        if due.is_empty() {
            self.finish_rounds();
        } else {
            self.dispatch(&due, &now);
        }
    }

    /// Service `idx` has a fresh verdict: rounds waiting for it move on (joining the pipeline
    /// it runs, if any).
    fn settle_rounds(&mut self, idx: usize) {
        if self.checks.rounds.is_empty() {
            return;
        }
        let key = self.services[idx].key().to_owned();
        for round in &mut self.checks.rounds {
            if round.waiting.remove(&key) && self.services[idx].has_pipeline() {
                let (tx, rx) = oneshot::channel();
                if self.services[idx].join_pipeline(tx).is_ok() {
                    round.joined.push(rx);
                }
            }
        }
        self.finish_rounds();
    }

    /// Answers the rounds that wait for nothing more (after their recoveries end), and those
    /// whose services a reload took away.
    pub(super) fn finish_rounds(&mut self) {
        let index = &self.index;
        for round in &mut self.checks.rounds {
            round.waiting.retain(|k| index.contains_key(k));
        }
        let (done, pending): (Vec<_>, Vec<_>) = std::mem::take(&mut self.checks.rounds)
            .into_iter()
            .partition(|r| r.waiting.is_empty());
        self.checks.rounds = pending;
        for round in done {
            let snapshots = self.snapshot.subscribe();
            tokio::spawn(async move {
                let mut recoveries = Vec::new();
                for rx in round.joined {
                    if let Ok(Response::Action(report)) = rx.await {
                        recoveries.push(report);
                    }
                }
                let snap = snapshots.borrow().clone();
                let services = snap
                    .services
                    .iter()
                    .map(|s| protocol::ServiceStatus::clone(s))
                    .collect();
                let _ = round.reply.send(Response::Check(CheckReport {
                    status: snap.status_reply(services),
                    recoveries,
                }));
            });
        }
    }
}
