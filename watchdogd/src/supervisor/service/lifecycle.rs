//! The lifecycle state, derived, never stored: from whether a service is monitored, the
//! operator's intent, the pipeline in flight or waiting for a slot, the start grace, a give-up
//! and its last verdict. Deriving it keeps it from drifting out of step with the facts, and
//! makes the rules one pure, table-tested function ([`lifecycle`]). Also the key a cached
//! status is checked against ([`StatusKey`]).

use protocol::{ServiceState, Trigger};

use crate::store::Intent;

/// The inputs of the lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub monitored: bool,
    pub intent: Intent,
    pub pipeline: Option<Trigger>,
    pub waiting_slot: bool,
    /// Inside its start grace and not yet seen healthy.
    pub starting: bool,
    pub gave_up: bool,
    /// Its last check was unhealthy and counted.
    pub failing: bool,
}

/// The lifecycle state from its inputs. A pipeline in flight wins (an `off` is `stopping`
/// until its kill is done), then one waiting for a slot, then intent, then monitoring, giving
/// up, grace, and last whether its checks are failing.
pub fn lifecycle(f: Facts) -> ServiceState {
    match (f.pipeline, f.intent) {
        (Some(Trigger::Off), _) => ServiceState::Stopping,
        (Some(_), _) => ServiceState::Recovering,
        (None, _) if f.waiting_slot => ServiceState::Queued,
        (None, Intent::Off) => ServiceState::Stopped,
        (None, Intent::On) if !f.monitored => ServiceState::Disabled,
        (None, Intent::On) if f.gave_up => ServiceState::GaveUp,
        (None, Intent::On) if f.starting => ServiceState::Starting,
        (None, Intent::On) if f.failing => ServiceState::Failing,
        (None, Intent::On) => ServiceState::Running,
    }
}

/// Everything a [`ServiceStatus`] is derived from that can change without a new check; with the
/// check time (a new check changes it) it tells whether a cached status is still right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusKey {
    /// The settings in force (a reload swaps the `Arc`).
    pub(super) cfg: usize,
    pub(super) last_check_ms: Option<i64>,
    pub(super) state: ServiceState,
    pub(super) failures: u32,
    pub(super) recovery_ms: Option<i64>,
    pub(super) restarts: usize,
    pub(super) next_attempt_ms: Option<i64>,
    pub(super) off_until_ms: Option<i64>,
    pub(super) overrides: (Option<bool>, usize),
    pub(super) status_text: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ServiceState::*;

    #[test]
    fn lifecycle_table() {
        let base = Facts {
            monitored: true,
            intent: Intent::On,
            pipeline: None,
            waiting_slot: false,
            starting: false,
            gave_up: false,
            failing: false,
        };
        let with = |f: fn(&mut Facts)| {
            let mut facts = base;
            f(&mut facts);
            facts
        };
        let cases = [
            (base, Running),
            (with(|f| f.starting = true), Starting),
            (with(|f| f.failing = true), Failing),
            (
                with(|f| {
                    f.failing = true;
                    f.starting = true
                }),
                Starting,
            ),
            (with(|f| f.pipeline = Some(Trigger::Automatic)), Recovering),
            (with(|f| f.pipeline = Some(Trigger::Restart)), Recovering),
            (with(|f| f.pipeline = Some(Trigger::Run)), Recovering),
            (
                with(|f| {
                    f.intent = Intent::Off;
                    f.pipeline = Some(Trigger::Off)
                }),
                Stopping,
            ),
            (with(|f| f.intent = Intent::Off), Stopped),
            (
                with(|f| {
                    f.intent = Intent::Off;
                    f.failing = true
                }),
                Stopped,
            ),
            (with(|f| f.monitored = false), Disabled),
            (
                with(|f| {
                    f.monitored = false;
                    f.intent = Intent::Off
                }),
                Stopped,
            ),
            (
                with(|f| {
                    f.monitored = false;
                    f.pipeline = Some(Trigger::On)
                }),
                Recovering,
            ),
            (
                with(|f| {
                    f.gave_up = true;
                    f.starting = true
                }),
                GaveUp,
            ),
            (
                with(|f| {
                    f.gave_up = true;
                    f.pipeline = Some(Trigger::Automatic)
                }),
                Recovering,
            ),
            (
                with(|f| {
                    f.gave_up = true;
                    f.intent = Intent::Off
                }),
                Stopped,
            ),
            (with(|f| f.waiting_slot = true), Queued),
            (
                with(|f| {
                    f.waiting_slot = true;
                    f.failing = true
                }),
                Queued,
            ),
        ];
        for (facts, want) in cases {
            assert_eq!(lifecycle(facts), want, "{facts:?}");
        }
        assert_eq!(Stopped.as_str(), "off", "the state an operator turned off");
    }
}
