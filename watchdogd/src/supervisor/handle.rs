//! The cloneable handle connections use to reach the supervisor.
//!
//! Reads (`status`) are answered from the last published snapshot without a round trip to the
//! owner, so a busy owner never slows `watchdogctl status`. Everything else is a [`Command`]
//! with a oneshot reply, answered after the action happened.

use std::sync::Arc;

use protocol::{ErrorKind, Response, ServiceStatus, StatusReply};
use tokio::sync::{mpsc, oneshot, watch};

use super::command::Command;
use super::effects::Reply;
use super::service::ServiceCounters;
use crate::reader::Readers;

/// What the owner publishes after each change.
#[derive(Debug)]
pub struct Snapshot {
    /// Sorted by key. Shared with the owner's cache: unchanged services cost a refcount.
    pub services: Vec<Arc<ServiceStatus>>,
    /// Counters per service, in the same order.
    pub counters: Vec<ServiceCounters>,
    /// How each service's heartbeat is noticed, in the same order.
    pub modes: Vec<crate::changes::Mode>,
    /// Audit rows that could not be written.
    pub dropped_rows: u64,
    /// The config in force.
    pub config: Arc<crate::config::Config>,
    pub daemon: DaemonFacts,
}

impl Snapshot {
    /// The status of `key`, if the config has it.
    pub fn service(&self, key: &str) -> Option<&Arc<ServiceStatus>> {
        self.services
            .binary_search_by(|s| s.key.as_str().cmp(key))
            .ok()
            .map(|i| &self.services[i])
    }

    /// How service `key`'s heartbeat is noticed.
    pub fn mode(&self, key: &str) -> Option<crate::changes::Mode> {
        let i = self
            .services
            .binary_search_by(|s| s.key.as_str().cmp(key))
            .ok()?;
        self.modes.get(i).copied()
    }

    /// The reply to `status`.
    pub fn status_reply(&self, services: Vec<ServiceStatus>) -> StatusReply {
        StatusReply {
            daemon_version: protocol::VERSION.to_owned(),
            daemon_pid: std::process::id(),
            services,
            audit_rows_dropped: self.dropped_rows,
            daemon_started_ms: self.daemon.started_ms,
        }
    }
}

/// Facts about the daemon itself (for metrics and `--version`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DaemonFacts {
    pub started_ms: i64,
    /// Duration of the last check (read + judge), and the longest so far.
    pub last_tick_ms: f64,
    pub max_tick_ms: f64,
    pub checks_total: u64,
    /// Pipelines running now, and waiting for a slot.
    pub pipelines_running: usize,
    pub pipelines_waiting: usize,
    /// Reader threads now, and how many of them are stuck (a hung file system).
    pub reader_threads: usize,
    pub reader_threads_stuck: usize,
}

#[derive(Clone)]
pub struct SupervisorHandle {
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) snapshot: watch::Receiver<Arc<Snapshot>>,
    /// For audit rows about connections (refusals), which touch no service state.
    pub(super) store: crate::store::Store,
    pub(super) live: tokio::sync::broadcast::Sender<protocol::EventRecord>,
    pub(super) readers: Readers,
    pub(super) notify: crate::notify_socket::Registry,
}

fn unavailable() -> Response {
    Response::Error {
        kind: ErrorKind::Unavailable,
        message: "watchdogd is shutting down".into(),
    }
}

impl SupervisorHandle {
    /// Sends the command `make` builds around a reply channel, and waits for its answer.
    pub async fn ask(&self, make: impl FnOnce(Reply) -> Command) -> Response {
        let (reply, answer) = oneshot::channel();
        if self.commands.send(make(reply)).await.is_err() {
            return unavailable();
        }
        answer.await.unwrap_or_else(|_| unavailable())
    }

    /// The latest published snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.borrow().clone()
    }

    /// A receiver that sees each new snapshot.
    pub fn watch(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshot.clone()
    }

    /// A receiver of every live event from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<protocol::EventRecord> {
        self.live.subscribe()
    }

    /// The notify sockets (for the detail view).
    pub fn notify(&self) -> &crate::notify_socket::Registry {
        &self.notify
    }

    /// The reader threads (for one-off heartbeat reads).
    pub fn readers(&self) -> &Readers {
        &self.readers
    }

    /// Records a daemon-level event (no service key) in the audit log, and tells followers.
    pub fn audit(&self, kind: protocol::EventKind, message: String) {
        let at_ms = protocol::time::now_millis();
        if self.live.receiver_count() > 0 {
            let _ = self.live.send(protocol::EventRecord {
                at_ms,
                key: String::new(),
                kind,
                health: None,
                state: None,
                message: message.clone(),
            });
        }
        self.store
            .write(vec![crate::store::Record::event("", kind, message, at_ms)]);
    }

    /// The status of all services, or of one, from the latest snapshot.
    pub fn status(&self, key: Option<&str>) -> Response {
        let snap = self.snapshot.borrow().clone();
        let services = match key {
            None => snap
                .services
                .iter()
                .map(|s| ServiceStatus::clone(s))
                .collect(),
            Some(k) => match snap.service(k) {
                Some(s) => vec![ServiceStatus::clone(s)],
                None => return unknown_key(k),
            },
        };
        Response::Status(snap.status_reply(services))
    }
}

pub fn unknown_key(key: &str) -> Response {
    Response::Error {
        kind: ErrorKind::UnknownKey,
        message: format!("unknown process key {key:?}"),
    }
}
