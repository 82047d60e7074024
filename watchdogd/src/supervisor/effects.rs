//! What a rule asks the owner to do: the rules decide, the owner carries out.

use protocol::{EventRecord, Response};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::store::Record;

/// Where a reply goes.
pub type Reply = oneshot::Sender<Response>;

/// A log line a rule wants written (rules do no I/O, logging included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub level: tracing::Level,
    pub text: String,
}

/// The effects of one rule application.
#[derive(Debug, Default)]
pub struct Effects {
    /// Rows for the store (audit events among them are also sent to live followers).
    pub records: Vec<Record>,
    /// Live-only events (health and state changes are derived from snapshots instead).
    pub events: Vec<EventRecord>,
    /// Replies to send once this turn's state is published.
    pub replies: Vec<(Reply, Response)>,
    pub notes: Vec<Note>,
    /// The failure threshold is reached: the owner asks flap protection and recovers.
    pub recover: bool,
    /// Check the service again no later than this.
    pub check_by: Option<Instant>,
}

impl Effects {
    pub fn note(&mut self, level: tracing::Level, text: impl Into<String>) {
        self.notes.push(Note {
            level,
            text: text.into(),
        });
    }

    pub fn reply(&mut self, to: Reply, response: Response) {
        self.replies.push((to, response));
    }
}
