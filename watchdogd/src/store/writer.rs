//! The store thread: batches in, transactions out, and the database's faults absorbed.
//!
//! A failed write is counted and logged once per failing spell; a database that is not open
//! (it could not be opened, or its file was deleted or replaced under us) is reopened every few
//! seconds; old rows are pruned hourly. What it is sent ([`Msg`], with an [`Ack`] for a
//! batch someone waits for) and why a write failed ([`WriteError`]) are defined here too.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode};
use tokio::sync::oneshot;

use super::layout::{self, LayoutError, UpgradeError};
use super::model::Record;
use super::{rows, schema};

/// Why a batch someone waits for was not written (its rows are counted as dropped too).
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    #[error("the audit queue is full (database slow or locked)")]
    QueueFull,
    #[error("the store is closed")]
    Closed,
    /// It could not be opened, and has not been reopened since.
    #[error("the database is not open")]
    NotOpen,
    #[error("{0}")]
    Sqlite(Arc<rusqlite::Error>),
    /// The store thread ended before it answered.
    #[error("the store thread stopped")]
    Stopped,
}

/// Someone waiting for a batch's commit; `durable`: committed with `synchronous=FULL`.
pub(super) struct Ack {
    pub(super) tx: oneshot::Sender<Result<(), WriteError>>,
    pub(super) durable: bool,
}

/// What the store thread is sent.
pub(super) enum Msg {
    Batch(Vec<Record>, Option<Ack>),
}

/// How often a failing database is reopened.
const REOPEN_EVERY: Duration = Duration::from_secs(5);
/// How often old rows are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Why the database could not be opened for writing.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A file that must not be written to (newer, or not ours).
    #[error(transparent)]
    Refused(#[from] LayoutError),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Opens the database read-write and brings it to the current layout. A file that is not a
/// database is moved aside (`NAME.corrupt-TIMESTAMP`) and a new one created in its place; one
/// that is a database but not ours (or newer) is refused and left alone.
pub(super) fn open_rw(path: &Path) -> Result<Connection, OpenError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    let attempt = || -> Result<Connection, OpenError> {
        let mut conn = Connection::open(path)?;
        schema::init(&conn)?;
        layout::upgrade(&mut conn, path).map_err(|e| match e {
            UpgradeError::Refused(r) => OpenError::Refused(r),
            UpgradeError::Sqlite(e) => OpenError::Sqlite(e),
        })?;
        Ok(conn)
    };
    match attempt() {
        Err(OpenError::Sqlite(e)) if is_corrupt(&e) => {
            let aside = PathBuf::from(format!(
                "{}.corrupt-{}",
                path.display(),
                protocol::time::now_millis()
            ));
            tracing::error!(
                target: "store",
                "database {} is corrupt ({e}); moving it to {} and starting a new one",
                path.display(),
                aside.display()
            );
            let _ = std::fs::rename(path, &aside);
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            attempt()
        }
        other => other,
    }
}

fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

pub(super) fn inode(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// The store thread's state.
pub(super) struct Writer {
    path: PathBuf,
    conn: Option<Connection>,
    /// The database file's inode when opened: a different one (or none) means it was deleted
    /// or replaced under us, and SQLite would go on writing to the unlinked file.
    inode: Option<u64>,
    dropped: Arc<AtomicU64>,
    /// The last write failed (logged once per failing spell, not per batch).
    failing: bool,
    last_reopen: Instant,
    retention: Duration,
    last_prune: Option<Instant>,
}

impl Writer {
    pub(super) fn new(
        path: &Path,
        conn: Option<Connection>,
        dropped: Arc<AtomicU64>,
        retention: Duration,
    ) -> Writer {
        Writer {
            path: path.to_path_buf(),
            inode: conn.as_ref().and_then(|_| inode(path)),
            conn,
            dropped,
            failing: false,
            last_reopen: Instant::now(),
            retention,
            last_prune: None,
        }
    }

    pub(super) fn run(&mut self, rx: Receiver<Msg>) {
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(Msg::Batch(mut batch, ack)) => {
                    // Take whatever else is queued: one transaction for all of it.
                    let mut acks: Vec<Ack> = ack.into_iter().collect();
                    while batch.len() < 50_000 {
                        match rx.try_recv() {
                            Ok(Msg::Batch(more, ack)) => {
                                batch.extend(more);
                                acks.extend(ack);
                            }
                            Err(_) => break,
                        }
                    }
                    let durable = acks.iter().any(|a| a.durable);
                    let result = self.write(&batch, durable);
                    for ack in acks {
                        let _ = ack.tx.send(result.clone());
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            self.prune_if_due();
        }
    }

    /// Writes one batch in one transaction; `durable` syncs it to disk before returning
    /// (`synchronous=FULL` for this commit; others stay `NORMAL`).
    fn write(&mut self, batch: &[Record], durable: bool) -> Result<(), WriteError> {
        self.check_file();
        let result = match self.conn.as_mut() {
            Some(conn) => {
                rows::write_batch(conn, batch, durable).map_err(|e| WriteError::Sqlite(e.into()))
            }
            None => Err(WriteError::NotOpen),
        };
        let outcome = result.clone();
        match result {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::info!(target: "store", "writing audit rows to {} again", self.path.display());
            }
            Ok(()) => {}
            Err(e) => {
                let total = self
                    .dropped
                    .fetch_add(batch.len() as u64, Ordering::Relaxed)
                    + batch.len() as u64;
                if !self.failing {
                    tracing::error!(
                        target: "store",
                        "cannot write audit rows to {}: {e}; counting dropped rows ({total} so far) and retrying",
                        self.path.display()
                    );
                }
                self.failing = true;
            }
        }
        outcome
    }

    /// Reopens the database when it is not open (after a delay) or when its file was deleted or
    /// replaced.
    fn check_file(&mut self) {
        let replaced = self.conn.is_some() && inode(&self.path) != self.inode;
        if replaced {
            tracing::error!(target: "store", "database {} was deleted or replaced; opening a new one", self.path.display());
            self.conn = None;
        }
        if self.conn.is_none() && (replaced || self.last_reopen.elapsed() >= REOPEN_EVERY) {
            self.last_reopen = Instant::now();
            if let Ok(conn) = open_rw(&self.path) {
                self.inode = inode(&self.path);
                self.conn = Some(conn);
            }
        }
    }

    fn prune_if_due(&mut self) {
        if self.last_prune.is_some_and(|t| t.elapsed() < PRUNE_EVERY) {
            return;
        }
        self.last_prune = Some(Instant::now());
        let Some(conn) = self.conn.as_ref() else {
            return;
        };
        let cutoff = protocol::time::now_millis()
            - i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX);
        match schema::prune(conn, cutoff) {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(target: "store", "pruned {n} audit rows older than the retention")
            }
            Err(e) => tracing::warn!(target: "store", "cannot prune old audit rows: {e}"),
        }
    }
}
