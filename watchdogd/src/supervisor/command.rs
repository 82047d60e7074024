//! The owner's commands: what connections and signals ask of the supervisor.
//!
//! Built at the edge (`connection.rs` from a wire request, `lib.rs` from SIGHUP): the wire
//! types stop there, so the owner matches on what it can do, not on what can be sent. Each
//! command carries where its answer goes; answers are sent only after the state they describe
//! is published, and for intent changes only after that intent is durable.

use std::time::Duration;

use super::effects::Reply;
use super::service::Task;
use protocol::Trigger;

/// What to do to one service (or, in [`Command::Bulk`], to each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    On,
    Off,
    /// `off` for a maintenance window: turned back on by itself after it.
    OffFor(Duration),
    Restart,
    /// One configured action by hand.
    Run(String),
}

impl Act {
    pub fn task(&self) -> Task {
        match self {
            Act::On => Task::new(Trigger::On),
            Act::Off | Act::OffFor(_) => Task::new(Trigger::Off),
            Act::Restart => Task::new(Trigger::Restart),
            Act::Run(action) => Task::run(action),
        }
    }
}

/// A request for the owner, with where to send the answer.
#[derive(Debug)]
pub enum Command {
    /// `on`, `off`, `off --for`, `restart`, `run KEY ACTION`.
    Act { key: String, act: Act, reply: Reply },
    /// The same for every monitored service, answered together (`start-all`, `stop-all`,
    /// `restart-all`, `run --all ACTION`).
    Bulk { act: Act, reply: Reply },
    /// Answer once the service is healthy (with a PID other than `not_pid`), or at `timeout`.
    Wait {
        key: String,
        timeout: Duration,
        not_pid: Option<u32>,
        reply: Reply,
    },
    /// Check every monitored service now, recover those past their threshold, then answer.
    Check { reply: Reply },
    /// Re-read the config file and apply it as a diff (SIGHUP has nobody to answer).
    Reload { reply: Option<Reply> },
    /// A runtime override of monitoring.
    Monitor {
        key: String,
        enabled: bool,
        reply: Reply,
    },
    /// A runtime override of one recovery action.
    ToggleAction {
        key: String,
        action: String,
        enabled: bool,
        reply: Reply,
    },
}
