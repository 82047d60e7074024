//! Recovery pipelines on the wire: what started one, how it ended, each action's outcome.

use serde::{Deserialize, Serialize};

/// What started a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    /// The failure threshold was reached.
    Automatic,
    /// `watchdogctl restart`.
    Restart,
    /// `watchdogctl on` / `start-all`.
    On,
    /// `watchdogctl off` / `stop-all`.
    Off,
    /// `watchdogctl run KEY ACTION`: one configured action.
    Run,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Automatic => "automatic",
            Trigger::Restart => "restart",
            Trigger::On => "on",
            Trigger::Off => "off",
            Trigger::Run => "run",
        }
    }

    /// Every trigger, in wire order.
    pub const ALL: [Trigger; 5] = [
        Trigger::Automatic,
        Trigger::Restart,
        Trigger::On,
        Trigger::Off,
        Trigger::Run,
    ];

    /// The trigger stored under `name`, if any.
    pub fn parse(name: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// How a pipeline ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PipelineResult {
    /// Every action succeeded.
    Succeeded,
    /// Done, but a non-fatal action failed.
    Warned,
    /// A fatal action (`kill`, `start`) failed.
    Failed,
    /// Nothing needed doing (e.g. `on` for a healthy service).
    Skipped,
}

impl PipelineResult {
    pub fn as_str(self) -> &'static str {
        match self {
            PipelineResult::Succeeded => "succeeded",
            PipelineResult::Warned => "warned",
            PipelineResult::Failed => "failed",
            PipelineResult::Skipped => "skipped",
        }
    }

    pub fn is_success(self) -> bool {
        self != PipelineResult::Failed
    }

    /// Every result, in wire order.
    pub const ALL: [PipelineResult; 4] = [
        PipelineResult::Succeeded,
        PipelineResult::Warned,
        PipelineResult::Failed,
        PipelineResult::Skipped,
    ];

    /// The result stored under `name`, if any.
    pub fn parse(name: &str) -> Option<PipelineResult> {
        PipelineResult::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// How one action of a pipeline went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepOutcome {
    Ok,
    /// Failed, but the action is not fatal: the pipeline went on.
    Warned,
    /// Failed and fatal: the pipeline stopped here.
    Failed,
}

impl StepOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Ok => "ok",
            StepOutcome::Warned => "warned",
            StepOutcome::Failed => "failed",
        }
    }
}

/// One action of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    pub action: String,
    pub outcome: StepOutcome,
    pub message: String,
    pub duration_ms: u64,
}
