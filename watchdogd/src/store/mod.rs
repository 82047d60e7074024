//! The SQLite audit log and the state that must survive a restart, on a thread of its own.
//!
//! rusqlite is blocking, so the connection lives on a dedicated thread fed by a bounded channel:
//! the supervisor hands over a whole tick's records at once and they are written in one
//! transaction (WAL, `synchronous=NORMAL`). The supervisor never waits on the disk: when the
//! channel is full the batch is dropped and counted. Writes that a reply depends on (intent set
//! by `off`) carry an acknowledgement that fires after the commit.
//!
//! Faults cost audit rows, never supervision: a locked, read-only, full or deleted database
//! makes writes fail, and the rows are counted (`status` shows the count) while the thread
//! keeps trying to reopen it. A database that is not a database at start is moved aside and a
//! new one created, loudly. Old rows are pruned after `history_retention_days`.
//!
//! Tables: `process_state` (one row per service: failures, intent, last check and recovery) and
//! `check_history` (one row per check) as the seed had them, plus `recovery_runs` (one row per
//! pipeline, with each action's outcome as JSON) and `audit_events` (refusals and other notable
//! happenings).

pub mod history;
pub mod layout;
mod model;
pub mod orphans;
mod rows;
mod schema;
mod writer;

pub use model::{GaveUp, Intent, Interrupted, Record, SavedState};
pub use writer::WriteError;
use writer::{Ack, Msg, Writer, open_rw};

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

/// Batches that may wait for the disk before new ones are dropped.
const QUEUE: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot start the store thread: {0}")]
    Thread(std::io::Error),
    /// The database is not one this daemon may write to (see [`layout`]).
    #[error(transparent)]
    Refused(#[from] layout::LayoutError),
}

/// A freshly opened store: the handle, its writer thread, and what was saved per service.
pub struct Opened {
    pub store: Store,
    /// Ends once every [`Store`] handle is dropped and the queue is written.
    pub thread: std::thread::JoinHandle<()>,
    pub saved: HashMap<String, SavedState>,
    /// Pipelines cut off by the previous daemon's death (now recorded as interrupted).
    pub interrupted: Vec<Interrupted>,
}

/// The handle the supervisor writes through. Dropping every handle ends the thread after it
/// has written what was queued.
#[derive(Clone)]
pub struct Store {
    tx: SyncSender<Msg>,
    dropped: Arc<AtomicU64>,
}

impl Store {
    /// Opens (creating if needed) the database and starts the writer thread. Blocking: call
    /// before the runtime serves anyone. A database that cannot be opened for writing does not
    /// stop the daemon: its saved state is read if it can be, and writes are counted as dropped
    /// until it can be reopened.
    pub fn open(path: &Path, retention: Duration) -> Result<Opened, StoreError> {
        let mut interrupted = Vec::new();
        let (conn, saved) = match open_rw(path) {
            Ok(conn) => {
                let saved = schema::load(&conn).unwrap_or_else(|e| {
                    tracing::error!(target: "store", "cannot read saved state from {}: {e}", path.display());
                    HashMap::new()
                });
                interrupted = schema::mark_interrupted(&conn).unwrap_or_else(|e| {
                    tracing::error!(target: "store", "cannot mark interrupted pipelines in {}: {e}", path.display());
                    Vec::new()
                });
                (Some(conn), saved)
            }
            Err(writer::OpenError::Refused(e)) => return Err(StoreError::Refused(e)),
            Err(e) => {
                tracing::error!(
                    target: "store",
                    "cannot open the database {} for writing: {e}; supervising anyway, audit rows are dropped until it can be opened",
                    path.display()
                );
                let saved = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .and_then(|c| schema::load(&c))
                    .unwrap_or_default();
                (None, saved)
            }
        };
        let (tx, rx) = sync_channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let mut writer = Writer::new(path, conn, dropped.clone(), retention);
        let thread = std::thread::Builder::new()
            .name("store".into())
            .spawn(move || writer.run(rx))
            .map_err(StoreError::Thread)?;
        Ok(Opened {
            store: Store { tx, dropped },
            thread,
            saved,
            interrupted,
        })
    }

    /// Queues a batch; never waits. A full queue drops the batch and counts its rows.
    pub fn write(&self, batch: Vec<Record>) {
        if !batch.is_empty() {
            self.send(batch, None);
        }
    }

    /// Queues a batch whose commit someone waits for; the receiver gets `Ok` after the commit
    /// (synced to disk when `durable`), or why the rows could not be written (the queue was
    /// full, the database failed: logged and counted too).
    pub fn write_acked(
        &self,
        batch: Vec<Record>,
        durable: bool,
    ) -> oneshot::Receiver<Result<(), WriteError>> {
        let (tx, done) = oneshot::channel();
        self.send(batch, Some(Ack { tx, durable }));
        done
    }

    fn send(&self, batch: Vec<Record>, ack: Option<Ack>) {
        let n = batch.len() as u64;
        let refused = match self.tx.try_send(Msg::Batch(batch, ack)) {
            Ok(()) => return,
            Err(TrySendError::Full(msg)) => {
                tracing::warn!(target: "store", "audit queue full (database slow or locked): dropped {n} rows");
                (msg, WriteError::QueueFull)
            }
            Err(TrySendError::Disconnected(msg)) => (msg, WriteError::Closed),
        };
        self.dropped.fetch_add(n, Ordering::Relaxed);
        let (Msg::Batch(_, ack), why) = refused;
        if let Some(ack) = ack {
            let _ = ack.tx.send(Err(why));
        }
    }

    /// Rows that could not be written since the start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests;
