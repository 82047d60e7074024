//! The owner's check bookkeeping beyond each service's own: `watchdogctl check` rounds in
//! progress, and the results taken from the readers (reused between turns).

use std::collections::HashSet;

use protocol::Response;
use tokio::sync::oneshot;

use super::effects::Reply;
use crate::probe::Probe;

/// A `watchdogctl check` in progress: answered once every service has a fresh verdict and the
/// recoveries those verdicts started have ended.
pub(super) struct Round {
    pub waiting: HashSet<String>,
    pub joined: Vec<oneshot::Receiver<Response>>,
    pub reply: Reply,
}

/// The owner's check bookkeeping beyond each service's own.
#[derive(Default)]
pub(super) struct Checks {
    pub rounds: Vec<Round>,
    /// Results taken from the readers, reused between turns.
    pub results: Vec<Probe>,
}
