//! The supervisor: the one owner of all service state.
//!
//! One task owns every mutable fact about the services. It `select!`s over commands (each with
//! a oneshot reply), events from the work it spawned (pipelines, child exits, reloads), check
//! results from the reader threads, its timer and the shutdown token. It never awaits slow
//! work: heartbeat reads run on the reader threads, pipelines in tasks of their own, store
//! writes on the store's thread.
//!
//! The rules live in `service` as methods that return `effects::Effects`; the owner only
//! carries effects out: spawning, channels, store batches, broadcasts, publishing. One turn of
//! the loop takes whatever arrived, applies it, writes the turn's rows as one batch, publishes
//! a status snapshot if anything changed, and only then sends the turn's replies, so whatever a
//! command answered, every later `status` shows too. Replies that acknowledge an intent change
//! wait for their batch to be durable.
//!
//! Shutdown: the owner lets running pipelines finish (bounded; then cancels them, and they stop
//! at a safe point), so their outcome is recorded and their callers answered, flushes the store
//! and returns. Services it started keep running: they live in their own sessions.

mod actions;
mod bulk;
mod changes;
mod checks;
pub mod command;
mod dispatch;
mod effects;
mod event;
mod give_up;
mod handle;
mod notify;
mod probing;
mod publish;
mod reload;
mod rounds;
mod schedule;
mod service;
mod slots;
mod turns;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use protocol::{EventKind, EventRecord, Response};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use command::{Act, Command};
pub use effects::Reply;
pub use handle::{DaemonFacts, Snapshot, SupervisorHandle, unknown_key};
pub use service::ServiceCounters;
pub use service::lifecycle;
pub use turns::Turns;

use crate::clock::Now;
use crate::config::Config;
use crate::reader::Readers;
use crate::store::{Record, SavedState, Store};
use effects::Effects;
pub(crate) use event::Event;
use service::Service;

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

pub struct Supervisor {
    config: Arc<Config>,
    services: Vec<Service>,
    index: HashMap<String, usize>,
    /// Services a reload removed while their pipeline ran: kept until it has ended, so its row
    /// is closed and its callers answered (and a key added back takes its pipeline over).
    retiring: HashMap<String, Service>,
    store: Store,
    readers: Readers,
    commands: mpsc::Receiver<Command>,
    events_tx: mpsc::Sender<Event>,
    events: mpsc::Receiver<Event>,
    snapshot: watch::Sender<Arc<Snapshot>>,
    /// Rows gathered during this turn, written as one batch at its end.
    pending: Vec<Record>,
    /// Replies to send at the end of this turn, after the snapshot is published.
    replies: Vec<(Reply, Response)>,
    /// Replies to send once this turn's batch is durable.
    durable: Vec<(Reply, Response)>,
    schedule: schedule::Schedule,
    checks: rounds::Checks,
    slots: slots::Slots,
    next_pipeline_id: u64,
    /// Something visible changed: publish a new snapshot.
    dirty: bool,
    /// This turn handled a command or an outcome: publish at its end, unthrottled.
    publish_now: bool,
    published: Option<Instant>,
    /// Bumped by every reload: service indexes of an older epoch are stale.
    epoch: u64,
    /// Prefix of this daemon's pipeline run ids (its start time), unique across restarts.
    run_prefix: String,
    /// Live events for `watchdogctl events` followers.
    live: broadcast::Sender<EventRecord>,
    facts: DaemonFacts,
    pub(crate) turns: Arc<Turns>,
    /// Services whose failure threshold was reached this turn.
    to_recover: Vec<usize>,
    /// Shutting down: no new pipelines start.
    stopping: bool,
    /// Heartbeat folders watched for changes (`None`: no inotify; everything is polled).
    watcher: Option<crate::changes::Watcher>,
    /// Exits of the processes healthy heartbeats name (`None`: no pidfds; checks find them).
    exits: Option<crate::exitwatch::ExitWatcher>,
    /// The events of one burst, reused.
    drained: crate::changes::Drained,
    /// The notify sockets of the services that speak notify.
    notify: crate::notify_socket::Registry,
}

impl Supervisor {
    /// Builds the owner and its handle; `saved` is what the store remembered.
    pub fn new(
        config: Arc<Config>,
        store: Store,
        readers: Readers,
        saved: &HashMap<String, SavedState>,
    ) -> (Supervisor, SupervisorHandle) {
        let now = Now::read();
        let services: Vec<Service> = config
            .processes
            .values()
            .map(|p| Service::new(p.clone(), saved.get(&p.key), &now))
            .collect();
        let index = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.key().to_owned(), i))
            .collect();
        let (commands_tx, commands) = mpsc::channel(CHANNEL);
        let (events_tx, events) = mpsc::channel(CHANNEL);
        let facts = DaemonFacts {
            started_ms: now.wall_ms(),
            ..DaemonFacts::default()
        };
        let (snapshot, snapshot_rx) = watch::channel(Arc::new(Snapshot {
            services: Vec::new(),
            counters: Vec::new(),
            modes: Vec::new(),
            dropped_rows: 0,
            config: config.clone(),
            daemon: facts,
        }));
        let (live, _) = broadcast::channel(LIVE_EVENTS);
        let notify = event::notify_registry(&config, &events_tx);
        let mut sup = Supervisor {
            slots: slots::Slots::new(config.max_parallel_recoveries),
            config,
            services,
            index,
            retiring: HashMap::new(),
            store,
            readers: readers.clone(),
            commands,
            events_tx,
            events,
            snapshot,
            pending: Vec::new(),
            replies: Vec::new(),
            durable: Vec::new(),
            schedule: schedule::Schedule::new(now.mono),
            checks: rounds::Checks::default(),
            next_pipeline_id: 1,
            dirty: true,
            publish_now: false,
            published: None,
            epoch: 0,
            run_prefix: format!("{}-{}", now.wall_ms(), std::process::id()),
            live: live.clone(),
            facts,
            turns: Arc::new(Turns::new()),
            to_recover: Vec::new(),
            stopping: false,
            watcher: crate::changes::Watcher::new(),
            exits: crate::exitwatch::ExitWatcher::new(),
            drained: crate::changes::Drained::default(),
            notify: notify.clone(),
        };
        sup.sync_notify();
        sup.publish();
        let handle = SupervisorHandle {
            commands: commands_tx,
            snapshot: snapshot_rx,
            store: sup.store.clone(),
            live,
            readers,
            notify,
        };
        (sup, handle)
    }

    /// Runs until `shutdown` is cancelled, then winds down as described in the module note.
    pub async fn run(mut self, shutdown: CancellationToken) {
        tracing::info!(target: "supervisor", "supervising {} services", self.services.len());
        // The command to turn it on names this daemon's socket unless watchdogctl finds it by
        // default: a newcomer copies it from the log as it is.
        let ctl = if self.config.socket_path == protocol::paths::default_socket_path() {
            "watchdogctl".to_owned()
        } else {
            format!("watchdogctl --socket {}", self.config.socket_path.display())
        };
        for svc in &self.services {
            if svc.is_off_by_intent() {
                tracing::info!(
                    target: "supervisor",
                    "{0}: off by intent (`watchdogctl off {0}` earlier); not started or recovered until `{ctl} on {0}`",
                    svc.key()
                );
            }
        }
        let readers = self.readers.clone();
        self.place_all();
        loop {
            let wake = self.next_wake();
            tokio::select! {
                () = shutdown.cancelled() => break,
                Some(cmd) = self.commands.recv() => {
                    self.publish_now = true;
                    self.on_command(cmd);
                }
                Some(event) = self.events.recv() => {
                    self.publish_now = true;
                    self.on_event(event);
                }
                () = readers.ready() => {}
                Some(batch) = next_changes(&mut self.watcher) => self.on_changes(&batch),
                Some(pid) = next_exit(&mut self.exits) => self.on_process_exited(pid),
                () = tokio::time::sleep_until(wake) => {}
            }
            // A burst (thousands of pipelines ending after `start-all`) is taken in one turn:
            // one pass over the services and one store batch for all of it.
            for _ in 0..TURN_EVENTS {
                let Ok(event) = self.events.try_recv() else {
                    break;
                };
                self.on_event(event);
            }
            self.on_probes();
            readers.nudge();
            self.turns.mark();
            self.on_timer();
            self.recover_due();
            self.end_turn();
        }
        self.wind_down().await;
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::PipelineDone { key, id, outcome } => self.on_pipeline_done(&key, id, *outcome),
            Event::ChildExited {
                key,
                pid,
                success,
                status,
            } => self.on_child_exited(&key, pid, success, &status),
            Event::Notified(slot) => self.on_notified(&slot),
            Event::ConfigLoaded { result, reply } => self.on_config_loaded(*result, reply),
            Event::Watched { dir, result } => self.on_watched(dir, result),
        }
    }

    /// Carries out a rule's effects for service `idx`.
    fn apply(&mut self, idx: usize, fx: Effects) {
        if fx.recover {
            self.to_recover.push(idx);
        }
        if let Some(by) = fx.check_by {
            let svc = &mut self.services[idx];
            if by < svc.probe.next {
                svc.probe.next = by;
            }
            self.schedule.wake_at = self.schedule.wake_at.min(by);
        }
        let key = self.services[idx].key().to_owned();
        self.carry_out(&key, fx);
    }

    /// Carries out effects that concern `key` (or the daemon, for an empty key), whatever
    /// service list it is in.
    fn carry_out(&mut self, key: &str, fx: Effects) {
        for note in fx.notes {
            log(note.level, key, &note.text);
        }
        for record in fx.records {
            if let Record::Event {
                key,
                kind,
                message,
                at_ms,
            } = &record
            {
                self.emit(EventRecord {
                    at_ms: *at_ms,
                    key: key.clone(),
                    kind: *kind,
                    health: None,
                    state: None,
                    message: message.clone(),
                });
            }
            self.pending.push(record);
        }
        for event in fx.events {
            self.emit(event);
        }
        self.replies.extend(fx.replies);
        self.dirty = true;
    }

    /// Sends a live event to the followers, if there are any.
    fn emit(&self, event: EventRecord) {
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(event);
        }
    }

    /// A daemon-level audit event.
    fn audit(&mut self, kind: EventKind, message: String) {
        let mut fx = Effects::default();
        fx.records.push(Record::event(
            "",
            kind,
            message,
            protocol::time::now_millis(),
        ));
        self.carry_out("", fx);
    }
}

/// The next watched process that exited (never, without a watcher).
async fn next_exit(exits: &mut Option<crate::exitwatch::ExitWatcher>) -> Option<u32> {
    match exits {
        Some(w) => w.next_exit().await,
        None => std::future::pending().await,
    }
}

/// The next burst of change events (never, without a watcher).
async fn next_changes(watcher: &mut Option<crate::changes::Watcher>) -> Option<Vec<u8>> {
    match watcher {
        Some(w) => w.next_batch().await,
        None => std::future::pending().await,
    }
}

/// A rule's log line, at its level, prefixed with the service's key.
fn log(level: tracing::Level, key: &str, text: &str) {
    let sep = if key.is_empty() { "" } else { ": " };
    match level {
        tracing::Level::ERROR => tracing::error!(target: "supervisor", "{key}{sep}{text}"),
        tracing::Level::WARN => tracing::warn!(target: "supervisor", "{key}{sep}{text}"),
        tracing::Level::INFO => tracing::info!(target: "supervisor", "{key}{sep}{text}"),
        _ => tracing::debug!(target: "supervisor", "{key}{sep}{text}"),
    }
}
