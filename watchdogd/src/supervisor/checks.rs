//! The check side of the owner: when to check, dispatching reads, and what a verdict changes.
//!
//! Checks are dispatched in batches to the blocking pool (heartbeat reads are file I/O). Each
//! service is checked every `check_interval`; after the first round the due times are spread
//! over the interval so that thousands of services do not all read at the same instant. A
//! service someone waits for is checked every [`WAIT_CADENCE`].

use std::time::Duration;

use protocol::{Response, WaitOutcome, WaitReply};
use tokio::time::Instant;

use super::state::Reply;
use super::{Event, Supervisor, flap};
use crate::probe::{self, Job, Probe};
use crate::store::{Intent, Record};

/// How often a service with a waiter (`wait`, `restart --wait`) is checked.
pub(super) const WAIT_CADENCE: Duration = Duration::from_millis(200);
/// How long after a heartbeat's timeout the check that catches it runs.
const TIMEOUT_MARGIN: Duration = Duration::from_millis(20);
/// Checks due within this slack of each other go in one batch.
const BATCH_SLACK: Duration = Duration::from_millis(50);
/// Longest sleep of the owner when nothing is due (it also wakes on any message). Short, so
/// that the turn heartbeat the systemd watchdog relies on keeps moving.
const IDLE: Duration = Duration::from_secs(1);

impl Supervisor {
    /// The next instant the owner has timed work (computed by the last [`Self::on_timer`]
    /// scan), or when a throttled snapshot is due.
    pub(super) fn next_wake(&self) -> Instant {
        let mut wake = self.wake_at.min(Instant::now() + IDLE);
        if self.dirty
            && let Some(t) = self.published
        {
            wake = wake.min(t + super::PUBLISH_EVERY);
        }
        wake
    }

    /// One pass over the services after every turn: dispatches due checks, expires waiters,
    /// ends maintenance windows, and notes when the next of these is due. One pass, because at
    /// thousands of services the scans, not the checks, would dominate the owner's time.
    pub(super) fn on_timer(&mut self) {
        let now = Instant::now();
        // Nothing is due before `wake_at` (every change that makes something due sooner lowers
        // it): most turns, woken by a message, skip the pass altogether. Scanning on every turn
        // with a sliding horizon would also chop the checks into slivers of one or two.
        if now < self.wake_at {
            return;
        }
        let now_ms = protocol::time::now_millis();
        let mut wake = now + IDLE;
        let mut due = Vec::new();
        let mut windows_over = Vec::new();
        let n = self.services.len().max(1) as u32;
        let origin = self.origin;
        for (idx, svc) in self.services.iter_mut().enumerate() {
            if svc.cfg.enabled
                && !svc.checking
                && svc.next_check <= now + slack(svc.cfg.check_interval)
            {
                svc.checking = true;
                due.push(idx);
                svc.next_check = slot_after(origin, now, svc.cfg.check_interval, idx, n);
                if !svc.waiters.is_empty() {
                    svc.next_check = svc.next_check.min(now + WAIT_CADENCE);
                }
            } else if svc.cfg.enabled && !svc.checking {
                wake = wake.min(svc.next_check);
            }
            if !svc.waiters.is_empty() {
                if svc.waiters.iter().any(|w| w.deadline <= now) {
                    let (expired, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut svc.waiters)
                        .into_iter()
                        .partition(|w| w.deadline <= now);
                    svc.waiters = kept;
                    let status = svc.status(protocol::time::now_micros());
                    for w in expired {
                        let _ = w.reply.send(Response::Wait(WaitReply {
                            outcome: WaitOutcome::TimedOut,
                            status: status.clone(),
                        }));
                    }
                }
                for w in &svc.waiters {
                    wake = wake.min(w.deadline);
                }
            }
            if let Some(until) = svc.off_until_ms {
                if until <= now_ms {
                    windows_over.push(idx);
                } else {
                    wake = wake.min(now + Duration::from_millis((until - now_ms) as u64));
                }
            }
        }
        self.wake_at = wake;
        if !due.is_empty() {
            self.dispatch_checks(due, None);
        }
        for idx in windows_over {
            self.end_maintenance(idx);
        }
    }

    /// Turns a service back on whose maintenance window (`off --for`) has passed.
    fn end_maintenance(&mut self, idx: usize) {
        self.services[idx].off_until_ms = None;
        self.pending.push(Record::Event {
            key: self.services[idx].cfg.key.clone(),
            kind: "maintenance_over",
            message: "maintenance window over: turned back on".into(),
            at_ms: protocol::time::now_millis(),
        });
        tracing::info!(target: "supervisor", "{}: maintenance window over; turning it back on", self.services[idx].cfg.key);
        // Nobody waits for this answer; the outcome is in the log and the audit log.
        let (reply, _) = tokio::sync::oneshot::channel();
        self.request_action(idx, protocol::Trigger::On, reply);
    }

    /// Reads and classifies the given services on the blocking pool; the results come back as
    /// [`Event::Checked`].
    pub(super) fn dispatch_checks(&mut self, idxs: Vec<usize>, reply: Option<Reply>) {
        let jobs: Vec<Job> = idxs
            .into_iter()
            .map(|i| {
                let svc = &mut self.services[i];
                Job {
                    idx: i,
                    cfg: svc.cfg.clone(),
                    owner: svc.heartbeat_owner,
                    cache: svc.beat_cache.take(),
                    watched_pid: svc.exit_watch.as_ref().map(|(pid, _)| *pid),
                }
            })
            .collect();
        let events = self.events_tx.clone();
        let epoch = self.epoch;
        tokio::spawn(async move {
            let (results, tick_ms) = tokio::task::spawn_blocking(move || probe::check_batch(jobs))
                .await
                .unwrap_or_default();
            let _ = events
                .send(Event::Checked {
                    epoch,
                    results,
                    tick_ms,
                    reply,
                })
                .await;
        });
    }

    /// Applies a batch of verdicts: counts failures, starts recoveries, answers waiters.
    pub(super) fn on_checked(
        &mut self,
        epoch: u64,
        mut results: Vec<Probe>,
        tick_ms: f64,
        reply: Option<Reply>,
    ) {
        self.facts.last_tick_ms = tick_ms;
        self.facts.max_tick_ms = self.facts.max_tick_ms.max(tick_ms);
        self.facts.checks_total += results.len() as u64;
        if epoch != self.epoch {
            // Dispatched before a reload renumbered the services: already re-dispatched.
            results.clear();
        }
        let now_ms = protocol::time::now_millis();
        let now_us = now_ms * 1000;
        let sample_ms = i64::try_from(self.config.healthy_sample.as_millis()).unwrap_or(i64::MAX);
        let mut to_recover = Vec::new();
        for Probe {
            idx,
            mut verdict,
            cache,
        } in results
        {
            let Some(svc) = self.services.get_mut(idx) else {
                continue;
            };
            svc.checking = false;
            svc.beat_cache = cache;
            detect_stall(svc, &mut verdict, now_us);
            let previous = svc.verdict.as_ref().map(|v| v.health);
            let healthy = verdict.health.is_healthy();
            let counted =
                svc.is_supervised() && !healthy && !svc.in_grace(now_us, verdict.heartbeat_us);
            if svc.is_supervised() {
                if healthy {
                    svc.failures = 0;
                    svc.grace_until_us = None;
                } else if counted {
                    svc.failures = svc.failures.saturating_add(1);
                }
            }
            if healthy {
                let since = *svc.healthy_since_ms.get_or_insert(now_ms);
                if flap::forgive(
                    &svc.cfg.flap,
                    since,
                    &mut svc.restarts,
                    &mut svc.gave_up,
                    now_ms,
                ) {
                    let message = format!(
                        "healthy for {}s: restart budget refilled",
                        svc.cfg.flap.window.as_secs_f64()
                    );
                    tracing::info!(target: "supervisor", "{}: {message}", svc.cfg.key);
                    self.pending.push(Record::Event {
                        key: svc.cfg.key.clone(),
                        kind: "flap_reset",
                        message,
                        at_ms: now_ms,
                    });
                }
            } else {
                svc.healthy_since_ms = None;
            }
            if previous != Some(verdict.health) {
                let level_warn = !healthy && svc.intent == Intent::On;
                if level_warn {
                    tracing::warn!(target: "check", "{}: {} ({})", svc.cfg.key, verdict.health.as_str(), verdict.detail);
                } else {
                    tracing::info!(target: "check", "{}: {} ({})", svc.cfg.key, verdict.health.as_str(), verdict.detail);
                }
            }
            if counted && svc.failures >= svc.cfg.failure_threshold {
                to_recover.push(idx);
            }
            // The audit log keeps every state change and every unhealthy check, and samples
            // healthy ones (`healthy_sample_seconds`): thousands of services at 1 s would
            // otherwise write most of a billion rows a day that nobody reads.
            let sample_due = svc.last_sampled_ms.is_none_or(|t| now_ms - t >= sample_ms);
            let changed = previous != Some(verdict.health);
            if changed || !healthy || sample_due {
                svc.last_sampled_ms = Some(now_ms);
                self.pending.push(Record::Check {
                    key: svc.cfg.key.clone(),
                    health: verdict.health,
                    pid: verdict.pid,
                    age_ms: verdict.age_ms,
                    failures: svc.failures,
                    detail: verdict.detail.clone(),
                    at_ms: now_ms,
                });
            }
            svc.verdict = Some(verdict);
            svc.last_check_ms = Some(now_ms);
            let fingerprint = svc.state_fingerprint();
            if fingerprint != svc.persisted || (sample_due && healthy) {
                svc.persisted = fingerprint;
                self.pending.push(Record::State(svc.saved()));
            }
            // A healthy service is next checked when its heartbeat would time out, if that comes
            // before its regular check: a hang is then seen within moments, not an interval.
            if let Some(v) = &svc.verdict
                && v.health.is_healthy()
                && let Some(age_ms) = v.age_ms
            {
                let left = svc
                    .cfg
                    .timeout
                    .saturating_sub(Duration::from_millis(age_ms.max(0) as u64));
                svc.next_check = svc.next_check.min(Instant::now() + left + TIMEOUT_MARGIN);
            }
            // Its check is back: its next one counts towards the owner's next wake again.
            self.wake_at = self.wake_at.min(svc.next_check);
            watch_exit(svc, &self.events_tx);
            answer_waiters(svc, now_us);
            self.dirty = true;
        }
        for idx in to_recover {
            self.recover_or_give_up(idx, now_ms);
        }
        if let Some(reply) = reply {
            self.publish();
            let _ = reply.send(self.status_response());
        }
    }

    /// A start shell watchdogd spawned exited: check the service now rather than at its next tick.
    pub(super) fn on_child_exited(&mut self, key: &str, pid: u32, status: &str) {
        let Some(svc) = self.index.get(key).and_then(|&i| self.services.get_mut(i)) else {
            return;
        };
        tracing::info!(target: "supervisor", "{}: started process {pid} exited ({status})", svc.cfg.key);
        if svc.started.is_some_and(|s| s.pid == pid) && svc.cfg.enabled {
            svc.next_check = Instant::now();
            self.wake_at = Instant::now();
        }
    }

    /// A watched process exited: check its service now rather than at its next tick.
    pub(super) fn on_process_exited(&mut self, key: &str, pid: u32) {
        let Some(svc) = self.index.get(key).and_then(|&i| self.services.get_mut(i)) else {
            return;
        };
        if svc.exit_watch.as_ref().is_some_and(|(p, _)| *p == pid) {
            svc.exit_watch = None;
            tracing::debug!(target: "supervisor", "{key}: pid {pid} exited; checking now");
            svc.next_check = Instant::now();
            self.wake_at = Instant::now();
        }
    }

    /// Every enabled service, checked now (`watchdogctl check`).
    /// A service whose check is already in flight is not checked twice (that would count one
    /// failure twice); its result lands about as soon.
    pub(super) fn check_all_now(&mut self, reply: Reply) {
        let idxs: Vec<usize> = (0..self.services.len())
            .filter(|&i| self.services[i].cfg.enabled && !self.services[i].checking)
            .collect();
        for &i in &idxs {
            self.services[i].checking = true;
        }
        self.dispatch_checks(idxs, Some(reply));
    }
}

/// How early a check may run to join a batch: [`BATCH_SLACK`], but never more than a quarter
/// of the service's interval.
fn slack(interval: Duration) -> Duration {
    BATCH_SLACK.min(interval / 4)
}

/// Services per check batch the spreading aims at: fewer, and a batch costs more in dispatch
/// than in reading; many more, and one batch is a burst.
const SLOT_SIZE: u32 = 512;

/// The next check time of service `idx` of `n`. The services are dealt into
/// `ceil(n / SLOT_SIZE)` slots spread evenly over the interval, counted from `origin`: a few
/// services are checked together once per interval, thousands in even batches, and they stay
/// spread even after something (a `start-all`, a reload) checked them all at once.
fn slot_after(origin: Instant, now: Instant, interval: Duration, idx: usize, n: u32) -> Instant {
    let period = interval.as_secs_f64().max(0.001);
    let slots = n.max(1).div_ceil(SLOT_SIZE);
    let phase = period * f64::from(idx as u32 % slots) / f64::from(slots);
    // A check may run up to BATCH_SLACK before its slot: count from the end of that window, or
    // an early check would land in its own slot again.
    let since = (now + slack(interval))
        .saturating_duration_since(origin)
        .as_secs_f64();
    let k = ((since - phase) / period).floor() + 1.0;
    let next = origin + Duration::from_secs_f64((phase + k.max(0.0) * period).max(0.0));
    // Never sooner than a tenth of the interval: a service checked early waits a while.
    next.max(now + interval / 10)
}

/// Watches the exit of the PID a healthy check names, replacing the watch of an older PID.
fn watch_exit(svc: &mut super::state::Service, events: &tokio::sync::mpsc::Sender<super::Event>) {
    let Some(v) = &svc.verdict else { return };
    let (true, Some(pid)) = (v.health.is_healthy() && svc.cfg.enabled, v.pid) else {
        return;
    };
    if svc.exit_watch.as_ref().is_some_and(|(p, _)| *p == pid) {
        return;
    }
    if let Some((_, old)) = svc.exit_watch.take() {
        old.cancel();
    }
    let Ok(exited) = crate::exitwatch::exited(pid as i32) else {
        return;
    };
    let stop = tokio_util::sync::CancellationToken::new();
    svc.exit_watch = Some((pid, stop.clone()));
    let events = events.clone();
    let key = svc.cfg.key.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = stop.cancelled() => {}
            () = exited => {
                let _ = events.send(super::Event::ProcessExited { key, pid }).await;
            }
        }
    });
}

/// With `stall_seconds`, a healthy verdict whose `iteration` has not grown for that long is
/// `stalled`. A heartbeat without `iteration` cannot stall.
fn detect_stall(
    svc: &mut super::state::Service,
    verdict: &mut crate::health::Verdict,
    now_us: i64,
) {
    let (Some(stall), Some(iteration)) = (svc.cfg.stall, verdict.iteration) else {
        return;
    };
    let since = match svc.stall_mark {
        Some((seen, since)) if seen == iteration => since,
        _ => {
            svc.stall_mark = Some((iteration, now_us));
            return;
        }
    };
    let still_us = now_us.saturating_sub(since);
    if verdict.health.is_healthy() && still_us > stall.as_micros() as i64 {
        verdict.health = protocol::Health::Stalled;
        verdict.detail = format!(
            "iteration {iteration} has not grown for {:.1}s (stall_seconds {})",
            still_us as f64 / 1e6,
            stall.as_secs_f64()
        );
    }
}

/// A waiter is answered by the first healthy check naming an acceptable PID.
fn answer_waiters(svc: &mut super::state::Service, now_us: i64) {
    if svc.waiters.is_empty() {
        return;
    }
    let Some(v) = &svc.verdict else { return };
    if !v.health.is_healthy() || svc.in_grace(now_us, v.heartbeat_us) {
        return;
    }
    let pid = v.pid;
    let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut svc.waiters)
        .into_iter()
        .partition(|w| w.not_pid.is_none() || w.not_pid != pid);
    svc.waiters = waiting;
    if !done.is_empty() {
        let status = svc.status(now_us);
        for w in done {
            let _ = w.reply.send(Response::Wait(WaitReply {
                outcome: WaitOutcome::Healthy,
                status: status.clone(),
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_spread_services_over_the_interval_and_stay_ahead() {
        let origin = Instant::now();
        let interval = Duration::from_secs(1);
        // 1024 services make four slots. All checked at the same moment (a burst): their next
        // checks spread out again, a quarter of the interval apart.
        let now = origin + Duration::from_millis(5_300);
        let next: Vec<Duration> = (0..4)
            .map(|i| slot_after(origin, now, interval, i, 4 * SLOT_SIZE) - origin)
            .collect();
        assert_eq!(
            next.iter().map(Duration::as_millis).collect::<Vec<_>>(),
            [6000, 6250, 5500, 5750]
                .iter()
                .map(|&m| m as u128)
                .collect::<Vec<_>>()
        );
        for n in next {
            let after = (origin + n).saturating_duration_since(now);
            assert!(after >= interval / 10 && after <= interval, "{after:?}");
        }
        // A handful of services share one slot: one batch per interval.
        let few: Vec<Instant> = (0..10)
            .map(|i| slot_after(origin, now, interval, i, 10))
            .collect();
        assert!(few.iter().all(|t| *t == few[0]));
    }
}
