//! Unix signals: the first SIGTERM or SIGINT asks for a clean shutdown, a second one forces it;
//! SIGHUP asks for a config reload.

use tokio::signal::unix::{SignalKind, signal};

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    Shutdown,
    Reload,
}

/// Listens for the daemon's signals.
pub struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers (inside a runtime). Fails only if the runtime cannot register them.
    pub fn new() -> std::io::Result<Self> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The next signal's meaning.
    pub async fn next(&mut self) -> Ask {
        tokio::select! {
            _ = self.term.recv() => Ask::Shutdown,
            _ = self.int.recv() => Ask::Shutdown,
            _ = self.hup.recv() => Ask::Reload,
        }
    }
}
