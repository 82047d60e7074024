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

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use handle::{Command, Snapshot, SupervisorHandle};
use state::Service;

use crate::config::Config;
use crate::health::Verdict;
use crate::pipeline::Outcome;
use crate::store::{Record, SavedState, Store};

/// Room in the command and event channels.
const CHANNEL: usize = 1024;
/// How long shutdown lets running pipelines finish before cancelling them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// Work the owner spawned, reporting back.
pub(crate) enum Event {
    /// A batch of checks finished; `reply` is set for `watchdogctl check`.
    /// Results name services by index in the `epoch` they were dispatched in (a reload
    /// starts a new one).
    Checked {
        epoch: u64,
        results: Vec<(usize, Verdict)>,
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
    next_pipeline_id: u64,
    /// Something visible changed this turn: publish a new snapshot.
    dirty: bool,
    /// Bumped by every reload: service indexes of an older epoch are stale.
    epoch: u64,
    /// Prefix of this daemon's pipeline run ids (its start time), unique across restarts.
    run_prefix: String,
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
            .map(|p| Service::new(Arc::new(p.clone()), saved.get(&p.key), now))
            .collect();
        let index = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.cfg.key.clone(), i))
            .collect();
        let (commands_tx, commands) = mpsc::channel(CHANNEL);
        let (events_tx, events) = mpsc::channel(CHANNEL);
        let (snapshot, snapshot_rx) = watch::channel(Arc::new(Snapshot::default()));
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
            next_pipeline_id: 1,
            dirty: true,
            epoch: 0,
            run_prefix: format!("{}-{}", protocol::time::now_millis(), std::process::id()),
        };
        sup.publish();
        let store = sup.store.clone();
        let handle = SupervisorHandle {
            commands: commands_tx,
            snapshot: snapshot_rx,
            store,
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
                Some(cmd) = self.commands.recv() => self.on_command(cmd),
                Some(event) = self.events.recv() => self.on_event(event),
                () = tokio::time::sleep_until(wake) => {}
            }
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
                reply,
            } => self.on_checked(epoch, results, reply),
            Event::PipelineDone { key, id, outcome } => self.on_pipeline_done(&key, id, *outcome),
            Event::ChildExited { key, pid, status } => self.on_child_exited(&key, pid, &status),
            Event::ConfigLoaded { result, reply } => self.on_config_loaded(*result, reply),
        }
    }

    /// Writes the turn's rows and publishes the snapshot if anything changed.
    fn end_turn(&mut self) {
        if !self.pending.is_empty() {
            self.store.write(std::mem::take(&mut self.pending));
        }
        if self.dirty {
            self.publish();
        }
    }

    fn publish(&mut self) {
        let now_us = protocol::time::now_micros();
        let snap = Snapshot {
            services: self.services.iter().map(|s| s.status(now_us)).collect(),
            dropped_rows: self.store.dropped(),
        };
        self.snapshot.send_replace(Arc::new(snap));
        self.dirty = false;
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
