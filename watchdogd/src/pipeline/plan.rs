//! What a pipeline run is given ([`Plan`]), what each of its actions sees (`Ctx`) and what
//! each hands back (`Step`), apart from the run itself (`pipeline::run`) so that the actions
//! and the run both build on them without importing each other.

use std::sync::Arc;

use protocol::Trigger;
use tokio_util::sync::CancellationToken;

use super::command;
use crate::config::{Config, ProcessConfig};
use crate::session::Session;

/// Everything a pipeline run needs, owned, so the task shares nothing with the supervisor.
#[derive(Debug, Clone)]
pub struct Plan {
    pub config: Arc<Config>,
    pub key: String,
    pub trigger: Trigger,
    pub actions: Vec<String>,
    /// The last session watchdogd started for this service: its process group is stopped by
    /// `kill`, unless its leader PID was reused since (a reboot, a long outage).
    pub started_group: Option<Session>,
    /// Do nothing when a fresh read finds the service healthy (`on`).
    pub skip_if_healthy: bool,
    /// What the owner knows of the service, for the judge (as the periodic check has it).
    pub known: crate::probe::Known,
    /// The heartbeat the last check read, if the owner holds it now.
    pub previous: Option<crate::heartbeat::Beat>,
    /// The health that triggered it (`None` for a manual action).
    pub health: Option<protocol::Health>,
    /// Consecutive failures when it was triggered.
    pub failures: u32,
    /// Where to announce each finished action (live `events` followers), if anyone listens.
    pub progress: Option<tokio::sync::broadcast::Sender<protocol::EventRecord>>,
    /// The reader threads, for the fresh read of the heartbeat.
    pub readers: crate::reader::Readers,
    /// The service's notify socket, when it speaks notify (the fresh look, READY for `start`).
    pub notify: Option<Arc<crate::notify_socket::Slot>>,
}

impl Plan {
    pub(super) fn process(&self) -> Option<&ProcessConfig> {
        self.config.processes.get(&self.key).map(|p| &**p)
    }
}

/// A service process watchdogd started and whose shell is still running.
#[derive(Debug)]
pub struct Started {
    pub session: Session,
    /// The start shell, still to be reaped; `None` when it already exited 0 (it detached).
    pub child: Option<tokio::process::Child>,
}

/// What every action of one run sees.
pub(super) struct Ctx<'a> {
    pub(super) plan: &'a Plan,
    pub(super) process: &'a ProcessConfig,
    /// The judge's verdict on the heartbeat as it was when the pipeline began.
    pub(super) verdict: crate::health::Verdict,
    pub(super) reason: command::Reason,
    pub(super) cancel: &'a CancellationToken,
}

impl Ctx<'_> {
    /// A command of this service, with the watchdog environment and credentials.
    pub(super) async fn command(
        &self,
        cmd: &str,
        args: &[String],
        output: command::Output,
        run: command::Run,
    ) -> Result<command::Prepared, command::CommandError> {
        command::build(
            &self.plan.readers,
            self.process,
            cmd,
            args,
            &self.reason,
            output,
            run,
        )
        .await
    }
}

/// The result of one action. Its outcome is the step's message either way (it goes to the
/// audit row and the reply as words), so it is text, not an error to handle.
pub(super) struct Step {
    pub(super) outcome: Result<String, String>,
    pub(super) started: Option<Started>,
    pub(super) refusals: Vec<String>,
}

impl Step {
    pub(super) fn ok(msg: impl Into<String>) -> Self {
        Step {
            outcome: Ok(msg.into()),
            started: None,
            refusals: Vec::new(),
        }
    }
    pub(super) fn failed(msg: impl std::fmt::Display) -> Self {
        Step {
            outcome: Err(msg.to_string()),
            started: None,
            refusals: Vec::new(),
        }
    }
}
