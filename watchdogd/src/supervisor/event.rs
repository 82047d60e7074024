//! What work the owner spawned reports back with (pipelines, child exits, folder watches,
//! notify sockets, a re-read config), and how the notify sockets are made to report.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::effects::Reply;
use crate::config::{self, Config};
use crate::notify_socket::{Registry, Slot};
use crate::pipeline::Outcome;

/// Work the owner spawned, reporting back.
pub(crate) enum Event {
    PipelineDone {
        key: String,
        id: u64,
        outcome: Box<Outcome>,
    },
    /// A start shell watchdogd spawned has exited (and was reaped).
    ChildExited {
        key: String,
        pid: u32,
        success: bool,
        status: String,
    },
    /// A watch on a heartbeat folder was added (or could not be).
    Watched {
        dir: std::path::PathBuf,
        result: Result<i32, &'static str>,
    },
    /// A service's notify socket has news (see [`crate::notify_socket::slot`]).
    Notified(Arc<crate::notify_socket::Slot>),
    /// The config file was re-read for a reload.
    ConfigLoaded {
        result: Box<Result<crate::config::Loaded, LoadFailed>>,
        reply: Option<Reply>,
    },
}

/// Why a reload's config could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadFailed {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("the config reader failed: {0}")]
    Reader(tokio::task::JoinError),
}

/// The registry of `config`'s notify sockets, waking the owner through `events`.
pub(super) fn notify_registry(config: &Config, events: &mpsc::Sender<Event>) -> Registry {
    let events = events.clone();
    Registry::new(
        config.notify_dir(),
        Arc::new(move |slot: Arc<Slot>| events.try_send(Event::Notified(slot)).is_ok()),
    )
}
