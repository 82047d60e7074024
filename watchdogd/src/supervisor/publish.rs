//! The end of each turn: the turn's rows to the store, the snapshot, then the replies; and the
//! wind-down at shutdown.
//!
//! The order is the point. Replies go out after the snapshot that shows their effect is
//! published, so a client that was answered and then asks `status` (or any other client that
//! asks after it) sees at least that state. Replies that acknowledge an intent change (`on`,
//! `off`, `off --for`, `restart` and the pipelines they ran) go out only once their batch is
//! committed with `synchronous=FULL`: an acknowledged `off` survives a power cut, and a batch
//! the store could not write is answered as a failure, never as a success.

use std::sync::Arc;
use std::time::Duration;

use protocol::{ErrorKind, EventKind, EventRecord, Response};
use tokio::time::Instant;

use super::{PUBLISH_EVERY, SHUTDOWN_GRACE, Snapshot, Supervisor};
use crate::clock::Now;

impl Supervisor {
    /// When the owner next has timed work, or a throttled snapshot is due.
    /// The shortest gap between two snapshots published for check results alone:
    /// [`PUBLISH_EVERY`], longer with many services (a snapshot is a pass over all of them).
    fn publish_every(&self) -> std::time::Duration {
        PUBLISH_EVERY.max(std::time::Duration::from_micros(30) * self.services.len() as u32)
    }

    pub(super) fn next_wake(&self) -> Instant {
        let mut wake = self.schedule.next_wake();
        if self.dirty
            && let Some(t) = self.published
        {
            wake = wake.min(t + self.publish_every());
        }
        wake
    }

    /// Writes the turn's rows, publishes the snapshot if anything changed, answers.
    pub(super) fn end_turn(&mut self) {
        let durable = std::mem::take(&mut self.durable);
        let batch = std::mem::take(&mut self.pending);
        let committed = if durable.is_empty() {
            self.store.write(batch);
            None
        } else {
            Some(self.store.write_acked(batch, true))
        };
        // Check results alone publish at most every PUBLISH_EVERY (thousands of services report
        // in many small batches); anything that is answered, or an operator asked for, now.
        let due = self
            .published
            .is_none_or(|t| t.elapsed() >= self.publish_every());
        let answering = !self.replies.is_empty() || committed.is_some();
        if self.dirty && (self.publish_now || due || answering) {
            self.publish();
        }
        self.publish_now = false;
        for (reply, response) in std::mem::take(&mut self.replies) {
            let _ = reply.send(response);
        }
        if let Some(committed) = committed {
            tokio::spawn(async move {
                let saved = committed
                    .await
                    .unwrap_or_else(|_| Err(crate::store::WriteError::Stopped));
                for (reply, response) in durable {
                    let _ = reply.send(match &saved {
                        Ok(()) => response,
                        Err(why) => unsaved(&response, &why.to_string()),
                    });
                }
            });
        }
    }

    pub(super) fn publish(&mut self) {
        let now = Now::read();
        self.facts.pipelines_running = self.slots.running();
        self.facts.pipelines_waiting = self.slots.waiting();
        (self.facts.reader_threads, self.facts.reader_threads_stuck) = self.readers.threads();
        let snap = Arc::new(Snapshot {
            services: self
                .services
                .iter_mut()
                .map(|s| s.cached_status(&now))
                .collect(),
            counters: self.services.iter().map(|s| self.counters_of(s)).collect(),
            modes: self.services.iter().map(|s| s.probe.mode).collect(),
            dropped_rows: self.store.dropped(),
            config: self.config.clone(),
            daemon: self.facts,
        });
        let before = self.snapshot.send_replace(snap.clone());
        self.dirty = false;
        self.published = Some(Instant::now());
        if self.live.receiver_count() > 0 {
            self.emit_changes(&before, &snap, now.wall_ms());
        }
    }

    /// Live events for what changed between two snapshots: health and lifecycle state.
    fn emit_changes(&self, before: &Snapshot, after: &Snapshot, at_ms: i64) {
        for (i, now) in after.services.iter().enumerate() {
            if before.services.get(i).is_some_and(|b| Arc::ptr_eq(b, now)) {
                continue;
            }
            let was = before.service(&now.key);
            if was.map(|w| w.health) != Some(now.health) && now.health.is_some() {
                self.emit(EventRecord {
                    at_ms,
                    key: now.key.clone(),
                    kind: EventKind::HealthChanged,
                    health: now.health,
                    state: Some(now.state),
                    message: now.detail.clone(),
                });
            }
            if was.map(|w| w.state) != Some(now.state) {
                self.emit(EventRecord {
                    at_ms,
                    key: now.key.clone(),
                    kind: EventKind::StateChanged,
                    health: now.health,
                    state: Some(now.state),
                    message: format!(
                        "{} → {}",
                        was.map_or("-", |w| w.state.as_str()),
                        now.state.as_str()
                    ),
                });
            }
        }
    }

    /// Shutdown: no more commands; running pipelines finish (then are cancelled); everyone
    /// still waiting is told; the last rows are written.
    pub(super) async fn wind_down(mut self) {
        self.stopping = true;
        self.commands.close();
        let gone = Response::Error {
            kind: ErrorKind::Unavailable,
            message: "watchdogd is shutting down".into(),
        };
        for idx in 0..self.services.len() {
            let fx = self.services[idx].drop_callers(&gone);
            self.apply(idx, fx);
        }
        for (reply, _) in self.slots.drain() {
            let _ = reply.send(gone.clone());
        }
        let running = |s: &Self| {
            s.services.iter().any(|s| s.has_pipeline())
                || s.retiring.values().any(|s| s.has_pipeline())
        };
        if running(&self) {
            tracing::info!(target: "supervisor", "shutting down: waiting for running pipelines");
        }
        for (grace, cancel) in [(SHUTDOWN_GRACE, false), (Duration::from_secs(5), true)] {
            if cancel {
                for s in self.services.iter().chain(self.retiring.values()) {
                    s.cancel_pipeline();
                }
            }
            let deadline = Instant::now() + grace;
            while running(&self) {
                match tokio::time::timeout_at(deadline, self.events.recv()).await {
                    Ok(Some(super::Event::PipelineDone { key, id, outcome })) => {
                        self.on_pipeline_done(&key, id, *outcome);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        }
        if running(&self) {
            tracing::warn!(target: "supervisor", "pipelines still running at shutdown were abandoned");
        }
        self.notify.close();
        self.end_turn();
    }
}

/// The answer to a request whose effect was made but could not be saved.
fn unsaved(response: &Response, why: &str) -> Response {
    let what = match response {
        Response::Action(r) => format!("{} {}", r.key, r.result.as_str()),
        _ => "the change".to_owned(),
    };
    Response::Error {
        kind: ErrorKind::Internal,
        message: format!(
            "{what}, but the change could not be saved to the database ({why}): it would be lost if watchdogd restarted"
        ),
    }
}
