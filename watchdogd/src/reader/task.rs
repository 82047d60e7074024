//! What the reader threads are asked to do: a check, one heartbeat read, or any other look at
//! the file system. Each names the path it touches and the user it is done for, which decide
//! the bucket it waits in (see `queue`); work not started is answered with why ([`Blocked`]).

use std::path::{Path, PathBuf};

use tokio::sync::oneshot;

use crate::heartbeat::{Beat, Reading};
use crate::probe::Job;

/// Work that was not started because the file system it needs does not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Blocked(pub String);

/// Work to run on a reader thread: called with `Ok(())` to do it, or with why it was not
/// started.
pub(super) type Work = Box<dyn FnOnce(Result<(), Blocked>) + Send>;

// Checks are nearly every task: boxing them would cost an allocation per check.
#[allow(clippy::large_enum_variant)]
pub(super) enum Task {
    Check(Job),
    Read {
        path: PathBuf,
        /// The user it is read for (the service's `user`), also the uid the file must belong
        /// to.
        owner: Option<u32>,
        /// The content read before (see [`crate::heartbeat::read_unless_unchanged`]).
        previous: Option<Box<Beat>>,
        reply: oneshot::Sender<Reading>,
    },
    Run {
        path: PathBuf,
        user: Option<u32>,
        work: Work,
    },
}

impl Task {
    /// The path it touches.
    pub(super) fn path(&self) -> &Path {
        match self {
            Task::Check(job) => job.cfg.heartbeat_path.as_deref().unwrap_or(Path::new("/")),
            Task::Read { path, .. } | Task::Run { path, .. } => path,
        }
    }

    /// The user the work is done for.
    pub(super) fn user(&self) -> Option<u32> {
        match self {
            Task::Check(job) => job.known.owner,
            Task::Read { owner, .. } => *owner,
            Task::Run { user, .. } => *user,
        }
    }
}
