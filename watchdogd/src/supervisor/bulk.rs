//! The rules of acting by hand on one service's action, or on every service at once
//! (`run`, `start-all`, `stop-all`, `restart-all`, `run --all`), as pure functions: the owner
//! gathers the facts, these decide, and the owner carries it out.

use protocol::{ActionReport, PipelineResult};

use super::command::Act;
use super::service::failed_report;
use crate::config::ProcessConfig;

/// An action a service cannot run by hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} has no action {action:?}; its actions are: {}", known.join(", "))]
pub struct NoSuchAction {
    pub key: String,
    pub action: String,
    pub known: Vec<String>,
}

/// A `run --all` of an action no monitored service has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no monitored service has an action {action:?}; the actions there are: {}", known.join(", "))]
pub struct NoneHasAction {
    pub action: String,
    pub known: Vec<String>,
}

/// Whether `action` can be run by hand on the service configured by `cfg`: `kill`, or one of
/// its commands.
pub fn runnable(cfg: &ProcessConfig, action: &str) -> Result<(), NoSuchAction> {
    if action == "kill" || cfg.commands.contains_key(action) {
        return Ok(());
    }
    Err(NoSuchAction {
        key: cfg.key.clone(),
        action: action.to_owned(),
        known: actions(cfg).map(str::to_owned).collect(),
    })
}

/// The actions of one service, `kill` first.
fn actions(cfg: &ProcessConfig) -> impl Iterator<Item = &str> {
    std::iter::once("kill").chain(cfg.commands.keys().map(String::as_str))
}

/// What the owner knows of one service for a bulk act.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    pub cfg: &'a ProcessConfig,
    pub monitored: bool,
    pub off_by_intent: bool,
}

/// What a bulk act does with one service.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Act on the service at this index.
    Act(usize),
    /// Left out, and said so in the answer.
    Skipped(ActionReport),
}

/// What a bulk `act` does with each service: unmonitored ones are left out silently, as are
/// those without the action of a `run --all`; `restart-all` leaves out (and says so) services
/// that are off by intent: turning one back on is `on`'s to do, or `start-all`'s. A `run --all`
/// of an action no monitored service has is refused, naming those there are.
pub fn plan(members: &[Member<'_>], act: &Act) -> Result<Vec<Step>, NoneHasAction> {
    let monitored = || members.iter().enumerate().filter(|(_, m)| m.monitored);
    if let Act::Run(action) = act
        && !monitored().any(|(_, m)| runnable(m.cfg, action).is_ok())
    {
        let mut known: Vec<String> = monitored()
            .flat_map(|(_, m)| actions(m.cfg))
            .map(str::to_owned)
            .collect();
        known.sort();
        known.dedup();
        return Err(NoneHasAction {
            action: action.clone(),
            known,
        });
    }
    Ok(monitored()
        .filter_map(|(idx, m)| match act {
            Act::Run(action) if runnable(m.cfg, action).is_err() => None,
            Act::Restart if m.off_by_intent => {
                let key = &m.cfg.key;
                let mut report = failed_report(
                    key,
                    format!("off by intent: not restarted (`watchdogctl on {key}` turns it on)"),
                );
                report.result = PipelineResult::Skipped;
                Some(Step::Skipped(report))
            }
            _ => Some(Step::Act(idx)),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn cfg(key: &str, commands: &[&str]) -> Arc<ProcessConfig> {
        let mut cmds = serde_json::json!({ "start": "true" });
        for c in commands {
            cmds[*c] = serde_json::json!("true");
        }
        let text = serde_json::json!({ "processes": { key: {
            "heartbeat_path": "/hb.json", "commands": cmds,
        }}})
        .to_string();
        crate::config::parse(&text, std::path::Path::new("/c.json"))
            .unwrap()
            .config
            .processes[key]
            .clone()
    }

    #[test]
    fn runnable_actions_are_kill_and_the_commands() {
        let api = cfg("api", &["clear_db"]);
        assert_eq!(runnable(&api, "kill"), Ok(()));
        assert_eq!(runnable(&api, "clear_db"), Ok(()));
        assert_eq!(runnable(&api, "start"), Ok(()));
        let err = runnable(&api, "clear_cache").unwrap_err();
        assert_eq!(
            err.to_string(),
            "api has no action \"clear_cache\"; its actions are: kill, clear_db, start"
        );
    }

    #[test]
    fn bulk_plans() {
        let (api, db, off, unmonitored) = (
            cfg("api", &["clear_db"]),
            cfg("db", &[]),
            cfg("off", &["clear_db"]),
            cfg("gone", &["clear_db", "vacuum"]),
        );
        let members = [
            Member {
                cfg: &api,
                monitored: true,
                off_by_intent: false,
            },
            Member {
                cfg: &db,
                monitored: true,
                off_by_intent: false,
            },
            Member {
                cfg: &off,
                monitored: true,
                off_by_intent: true,
            },
            Member {
                cfg: &unmonitored,
                monitored: false,
                off_by_intent: false,
            },
        ];
        let acts = |steps: &[Step]| -> Vec<usize> {
            steps
                .iter()
                .filter_map(|s| match s {
                    Step::Act(i) => Some(*i),
                    Step::Skipped(_) => None,
                })
                .collect()
        };
        // On, off: every monitored service, off or not.
        for act in [Act::On, Act::Off] {
            assert_eq!(acts(&plan(&members, &act).unwrap()), [0, 1, 2], "{act:?}");
        }
        // Restart: the one off by intent is skipped, and says why.
        let steps = plan(&members, &Act::Restart).unwrap();
        assert_eq!(acts(&steps), [0, 1]);
        let Step::Skipped(report) = &steps[2] else {
            panic!("{steps:?}")
        };
        assert_eq!(report.result, PipelineResult::Skipped);
        assert!(
            report.message.contains("watchdogctl on off"),
            "{}",
            report.message
        );
        // Run: only those with the action; none has it: refused, naming what there is.
        assert_eq!(
            acts(&plan(&members, &Act::Run("clear_db".into())).unwrap()),
            [0, 2]
        );
        assert_eq!(
            acts(&plan(&members, &Act::Run("kill".into())).unwrap()),
            [0, 1, 2]
        );
        let err = plan(&members, &Act::Run("vacuum".into())).unwrap_err();
        assert_eq!(err.known, ["clear_db", "kill", "start"]);
        assert!(
            err.to_string()
                .starts_with("no monitored service has an action \"vacuum\"")
        );
        assert_eq!(plan(&[], &Act::On), Ok(Vec::new()));
    }
}
