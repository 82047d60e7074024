//! The supervisor: the one owner of all service state.
//!
//! One task owns every mutable fact about the services. It `select!`s over client commands
//! (each with a oneshot reply), events from the work it spawned (check batches, pipelines,
//! child exits), its check timer and the shutdown token. It never awaits slow work: heartbeat
//! reads run on the blocking pool, pipelines in tasks of their own, store writes on the store's
//! thread; each reports back with an [`Event`]. After each turn it publishes a status snapshot
//! that connections read without asking it.
//!
//! Shutdown: the owner lets running pipelines finish (bounded; then cancels them, and they stop
//! between actions), so their outcome is recorded and their callers answered, flushes the store
//! and returns. Services it started keep running: they live in their own sessions.

mod actions;
mod checks;
mod flap;
mod handle;
mod reload;
mod state;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::{AtomicI64, Ordering};

use protocol::{EventKind, EventRecord, Health, ServiceState};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use handle::{Command, DaemonFacts, ServiceCounters, Snapshot, SupervisorHandle, unknown_key};
use state::Service;

use crate::config::Config;
use crate::pipeline::Outcome;
use crate::store::{Record, SavedState, Store};

/// Room in the command and event channels.
const CHANNEL: usize = 1024;
/// Most events handled in one turn of the owner (after the one that woke it).
const TURN_EVENTS: usize = 255;
/// Shortest gap between two snapshots published for check results alone.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);
/// Live events a slow follower may fall behind by before it is told it lagged.
const LIVE_EVENTS: usize = 4096;
/// How long shutdown lets running pipelines finish before cancelling them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// Work the owner spawned, reporting back.
pub(crate) enum Event {
    /// A batch of checks finished; `reply` is set for `watchdogctl check`.
    /// Results name services by index in the `epoch` they were dispatched in (a reload
    /// starts a new one).
    Checked {
        epoch: u64,
        results: Vec<crate::probe::Probe>,
        /// How long the batch took to read and classify (ms).
        tick_ms: f64,
        reply: Option<state::Reply>,
    },
    PipelineDone {
        key: String,
        id: u64,
        outcome: Box<Outcome>,
    },
    /// A start shell watchdogd spawned has exited (and was reaped).
    ChildExited {
        key: String,
        pid: u32,
        status: String,
    },
    /// A process a heartbeat named has exited (seen through its pidfd).
    ProcessExited { key: String, pid: u32 },
    /// The config file was re-read for a reload.
    ConfigLoaded {
        result: Box<Result<crate::config::Loaded, String>>,
        reply: Option<state::Reply>,
    },
}

pub struct Supervisor {
    config: Arc<Config>,
    services: Vec<Service>,
    index: HashMap<String, usize>,
    store: Store,
    commands: mpsc::Receiver<Command>,
    events_tx: mpsc::Sender<Event>,
    events: mpsc::Receiver<Event>,
    snapshot: watch::Sender<Arc<Snapshot>>,
    /// Rows gathered during this turn, written as one batch at its end.
    pending: Vec<Record>,
    /// When timed work is next due (set by each `on_timer` scan).
    wake_at: Instant,
    /// The time check slots are counted from (see `checks::slot_after`).
    origin: Instant,
    /// Replies to send once this turn's rows are committed.
    after_commit: Vec<(state::Reply, protocol::Response)>,
    next_pipeline_id: u64,
    /// Something visible changed this turn: publish a new snapshot.
    dirty: bool,
    /// Bumped by every reload: service indexes of an older epoch are stale.
    epoch: u64,
    /// Prefix of this daemon's pipeline run ids (its start time), unique across restarts.
    run_prefix: String,
    /// Live events for `watchdogctl events` followers.
    live: broadcast::Sender<EventRecord>,
    facts: DaemonFacts,
    /// When the metrics text file was last written.
    metrics_written: Option<Instant>,
    /// When the last snapshot was published.
    published: Option<Instant>,
    /// This turn handled a command or an outcome: publish at its end, unthrottled.
    publish_now: bool,
    /// Set on every turn (ms since the epoch): the systemd watchdog pings only while it moves.
    pub(crate) heartbeat: Arc<AtomicI64>,
}

impl Supervisor {
    /// Builds the owner and its handle; `saved` is what the store remembered.
    pub fn new(
        config: Arc<Config>,
        store: Store,
        saved: &HashMap<String, SavedState>,
    ) -> (Supervisor, SupervisorHandle) {
        let now = Instant::now();
        let services: Vec<Service> = config
            .processes
            .values()
            .map(|p| Service::new(p.clone(), saved.get(&p.key), now))
            .collect();
        let index = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.cfg.key.clone(), i))
            .collect();
        let (commands_tx, commands) = mpsc::channel(CHANNEL);
        let (events_tx, events) = mpsc::channel(CHANNEL);
        let facts = DaemonFacts {
            started_ms: protocol::time::now_millis(),
            ..DaemonFacts::default()
        };
        let (snapshot, snapshot_rx) = watch::channel(Arc::new(Snapshot {
            services: Vec::new(),
            counters: Vec::new(),
            dropped_rows: 0,
            config: config.clone(),
            daemon: facts,
        }));
        let (live, _) = broadcast::channel(LIVE_EVENTS);
        let mut sup = Supervisor {
            config,
            services,
            index,
            store,
            commands,
            events_tx,
            events,
            snapshot,
            pending: Vec::new(),
            after_commit: Vec::new(),
            wake_at: now,
            origin: now,
            next_pipeline_id: 1,
            dirty: true,
            epoch: 0,
            run_prefix: format!("{}-{}", protocol::time::now_millis(), std::process::id()),
            live: live.clone(),
            facts,
            metrics_written: None,
            published: None,
            publish_now: false,
            heartbeat: Arc::new(AtomicI64::new(protocol::time::now_millis())),
        };
        sup.publish();
        let store = sup.store.clone();
        let handle = SupervisorHandle {
            commands: commands_tx,
            snapshot: snapshot_rx,
            store,
            live,
        };
        (sup, handle)
    }

    /// Runs until `shutdown` is cancelled, then winds down as described in the module note.
    pub async fn run(mut self, shutdown: CancellationToken) {
        tracing::info!(target: "supervisor", "supervising {} services", self.services.len());
        loop {
            let wake = self.next_wake();
            tokio::select! {
                () = shutdown.cancelled() => break,
                Some(cmd) = self.commands.recv() => {
                    self.publish_now = true;
                    self.on_command(cmd);
                }
                Some(event) = self.events.recv() => {
                    self.publish_now |= !matches!(event, Event::Checked { reply: None, .. });
                    self.on_event(event);
                }
                () = tokio::time::sleep_until(wake) => {}
            }
            // A burst (thousands of pipelines ending after `start-all`) is taken in one turn:
            // one pass over the services and one store batch for all of it.
            for _ in 0..TURN_EVENTS {
                let Ok(event) = self.events.try_recv() else {
                    break;
                };
                self.publish_now |= !matches!(event, Event::Checked { reply: None, .. });
                self.on_event(event);
            }
            self.heartbeat
                .store(protocol::time::now_millis(), Ordering::Relaxed);
            self.on_timer();
            self.end_turn();
        }
        self.wind_down().await;
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Checked {
                epoch,
                results,
                tick_ms,
                reply,
            } => self.on_checked(epoch, results, tick_ms, reply),
            Event::PipelineDone { key, id, outcome } => self.on_pipeline_done(&key, id, *outcome),
            Event::ChildExited { key, pid, status } => self.on_child_exited(&key, pid, &status),
            Event::ProcessExited { key, pid } => self.on_process_exited(&key, pid),
            Event::ConfigLoaded { result, reply } => self.on_config_loaded(*result, reply),
        }
    }

    /// Writes the turn's rows and publishes the snapshot if anything changed.
    fn end_turn(&mut self) {
        if !self.after_commit.is_empty() {
            let committed = self.store.write_acked(std::mem::take(&mut self.pending));
            let replies = std::mem::take(&mut self.after_commit);
            tokio::spawn(async move {
                // An error means the rows could not be written (counted and logged): the
                // action still happened, so the callers are answered either way.
                let _ = committed.await;
                for (reply, response) in replies {
                    let _ = reply.send(response);
                }
            });
        } else if !self.pending.is_empty() {
            self.store.write(std::mem::take(&mut self.pending));
        }
        // Check results alone publish at most every PUBLISH_EVERY (thousands of services
        // report in many small batches); anything an operator just asked for publishes now.
        let due = self.published.is_none_or(|t| t.elapsed() >= PUBLISH_EVERY);
        if self.dirty && (self.publish_now || due) {
            self.publish();
        }
        self.publish_now = false;
    }

    fn publish(&mut self) {
        let now_us = protocol::time::now_micros();
        let snap = Arc::new(Snapshot {
            services: self
                .services
                .iter_mut()
                .map(|s| s.cached_status(now_us))
                .collect(),
            counters: self.services.iter().map(|s| s.counters).collect(),
            dropped_rows: self.store.dropped(),
            config: self.config.clone(),
            daemon: self.facts,
        });
        let before = self.snapshot.send_replace(snap.clone());
        self.dirty = false;
        self.published = Some(Instant::now());
        if self.live.receiver_count() > 0 {
            self.emit_changes(&before, &snap);
        }
        self.write_metrics_file(&snap);
    }

    /// Live events for what changed between two snapshots: health and lifecycle state.
    fn emit_changes(&self, before: &Snapshot, after: &Snapshot) {
        let at_ms = protocol::time::now_millis();
        for (i, now) in after.services.iter().enumerate() {
            if before.services.get(i).is_some_and(|b| Arc::ptr_eq(b, now)) {
                continue;
            }
            let was = before
                .services
                .binary_search_by(|s| s.key.cmp(&now.key))
                .ok()
                .map(|i| &before.services[i]);
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

    /// Sends a live event to the followers, if there are any.
    pub(crate) fn emit(&self, event: EventRecord) {
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(event);
        }
    }

    /// A live event about one service.
    pub(crate) fn emit_for(
        &self,
        key: &str,
        kind: EventKind,
        health: Option<Health>,
        state: Option<ServiceState>,
        message: String,
    ) {
        self.emit(EventRecord {
            at_ms: protocol::time::now_millis(),
            key: key.to_owned(),
            kind,
            health,
            state,
            message,
        });
    }

    /// Rewrites `metrics_textfile` (atomically, off the runtime) at most once a second.
    fn write_metrics_file(&mut self, snap: &Arc<Snapshot>) {
        let Some(path) = self.config.metrics_textfile.clone() else {
            return;
        };
        if self
            .metrics_written
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.metrics_written = Some(Instant::now());
        let snap = snap.clone();
        tokio::task::spawn_blocking(move || {
            let text = crate::metrics::render(&snap, crate::metrics::Format::Prometheus);
            // Through a checked folder, an O_EXCL temp file of a random name and a rename:
            // never through a link someone planted beside it.
            if let Err(e) = crate::guard::file::replace(&path, text.as_bytes(), 0o644) {
                tracing::warn!(target: "metrics", "cannot write {}: {e}", path.display());
            }
        });
    }

    async fn wind_down(mut self) {
        self.commands.close();
        for svc in &mut self.services {
            svc.queued = None;
            svc.waiters.clear();
        }
        // Let running pipelines finish (a service half-recovered is worse than a late exit),
        // then cancel what is left and give it a moment to report.
        if self.services.iter().any(|s| s.pipeline.is_some()) {
            tracing::info!(target: "supervisor", "shutting down: waiting for running pipelines");
        }
        for (grace, cancel) in [(SHUTDOWN_GRACE, false), (Duration::from_secs(5), true)] {
            if cancel {
                for p in self.services.iter().filter_map(|s| s.pipeline.as_ref()) {
                    p.cancel.cancel();
                }
            }
            let deadline = Instant::now() + grace;
            while self.services.iter().any(|s| s.pipeline.is_some()) {
                match tokio::time::timeout_at(deadline, self.events.recv()).await {
                    Ok(Some(Event::PipelineDone { key, id, outcome })) => {
                        self.on_pipeline_done(&key, id, *outcome)
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        }
        if self.services.iter().any(|s| s.pipeline.is_some()) {
            tracing::warn!(target: "supervisor", "pipelines still running at shutdown were abandoned");
        }
        self.end_turn();
    }
}
