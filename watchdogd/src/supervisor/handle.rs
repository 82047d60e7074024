//! The cloneable handle connections use to reach the supervisor.
//!
//! Reads (`status`) are answered from the last published snapshot without a round trip to the
//! owner, so a busy owner never slows `watchdogctl status`. Everything else is a message with a
//! oneshot reply, answered after the action happened.

use std::sync::Arc;

use protocol::{ErrorKind, Request, Response, ServiceStatus, StatusReply};
use tokio::sync::{mpsc, oneshot, watch};

/// What the owner publishes after each change.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Sorted by key.
    pub services: Vec<ServiceStatus>,
    /// Audit rows that could not be written.
    pub dropped_rows: u64,
}

/// A request for the owner, with where to send the answer.
pub struct Command {
    pub request: Request,
    pub reply: oneshot::Sender<Response>,
}

#[derive(Clone)]
pub struct SupervisorHandle {
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) snapshot: watch::Receiver<Arc<Snapshot>>,
    /// For audit rows about connections (refusals), which touch no service state.
    pub(super) store: crate::store::Store,
}

fn unavailable() -> Response {
    Response::Error {
        kind: ErrorKind::Unavailable,
        message: "watchdogd is shutting down".into(),
    }
}

impl SupervisorHandle {
    /// Answers one request.
    pub async fn request(&self, request: Request) -> Response {
        if let Request::Status { key } = &request {
            return self.status(key.as_deref());
        }
        let (reply, answer) = oneshot::channel();
        if self
            .commands
            .send(Command { request, reply })
            .await
            .is_err()
        {
            return unavailable();
        }
        answer.await.unwrap_or_else(|_| unavailable())
    }

    /// Records a daemon-level event (no service key) in the audit log.
    pub fn audit(&self, kind: &'static str, message: String) {
        self.store.write(vec![crate::store::Record::Event {
            key: String::new(),
            kind,
            message,
            at_ms: protocol::time::now_millis(),
        }]);
    }

    /// The status of all services, or of one, from the latest snapshot.
    pub fn status(&self, key: Option<&str>) -> Response {
        let snap = self.snapshot.borrow().clone();
        let services = match key {
            None => snap.services.clone(),
            Some(k) => match snap.services.binary_search_by(|s| s.key.as_str().cmp(k)) {
                Ok(i) => vec![snap.services[i].clone()],
                Err(_) => return unknown_key(k),
            },
        };
        Response::Status(StatusReply {
            daemon_version: protocol::VERSION.to_owned(),
            daemon_pid: std::process::id(),
            services,
            audit_rows_dropped: snap.dropped_rows,
        })
    }
}

pub fn unknown_key(key: &str) -> Response {
    Response::Error {
        kind: ErrorKind::UnknownKey,
        message: format!("unknown process key {key:?}"),
    }
}
