//! A process's `commands` and `recovery_actions`: the seed's flat `startup_command` /
//! `cleanup_script` folded in, the seed's default actions when none are listed, and every listed
//! action backed by a command.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::defaults::{DEFAULT_RECOVERY_ACTIONS, KILL_ACTION, START_ACTION};
use super::fields::{Lookup, Object, describe, non_empty_string, quote};
use super::findings::Findings;

/// A process's `commands` as read.
pub(super) struct Commands {
    /// The valid commands.
    pub(super) commands: BTreeMap<String, String>,
    /// Every name the file declares, valid or not, so a bad command is reported once and not
    /// again as missing.
    pub(super) declared: BTreeSet<String>,
    /// False when `commands` is there but not an object.
    pub(super) readable: bool,
}

pub(super) fn read_commands(obj: &Object<'_>, found: &mut Findings) -> Commands {
    let mut commands = BTreeMap::new();
    let mut declared = BTreeSet::new();
    let mut readable = true;
    match obj.get("commands") {
        None => {}
        Some(Value::Object(entries)) => {
            for (name, value) in entries {
                declared.insert(name.clone());
                let field = obj.name(&format!("commands.{name}"));
                if name.trim().is_empty() {
                    found
                        .problems
                        .push(format!("{field}: action name must not be empty"));
                    continue;
                }
                match non_empty_string(value) {
                    Ok(command) => {
                        commands.insert(name.clone(), command);
                    }
                    Err(why) => found.problems.push(format!("{field}: {why}")),
                }
            }
        }
        Some(other) => {
            readable = false;
            found.problems.push(format!(
                "{}: must be an object of action name → command, found {}",
                obj.name("commands"),
                describe(other)
            ));
        }
    }
    Commands {
        commands,
        declared,
        readable,
    }
}

/// Moves `startup_command` / `cleanup_script` into `commands`, warning once per process.
pub(super) fn merge_legacy(
    obj: &Object<'_>,
    commands: &mut BTreeMap<String, String>,
    declared: &mut BTreeSet<String>,
    found: &mut Findings,
) {
    let mut used = false;
    for (old, new) in [
        ("startup_command", START_ACTION),
        ("cleanup_script", "clear_db"),
    ] {
        if obj.get(old).is_none() {
            continue;
        }
        used = true;
        let Lookup::Found(command) = obj.read(found, old, non_empty_string) else {
            declared.insert(new.to_string());
            continue;
        };
        match commands.get(new) {
            Some(existing) if *existing != command => found.problems.push(format!(
                "{}: conflicts with commands.{new} ({} vs {}); keep only commands.{new}",
                obj.name(old),
                quote(&command),
                quote(existing)
            )),
            Some(_) => {}
            None if declared.contains(new) => {} // commands.<new> is present but bad: reported.
            None => {
                commands.insert(new.to_string(), command);
            }
        }
        declared.insert(new.to_string());
    }
    if used {
        found.warnings.push(format!(
            "{}: startup_command/cleanup_script are deprecated; use commands.start / commands.clear_db",
            obj.name_of_self()
        ));
    }
}

/// The seed's recovery actions when a process lists none: `kill → clear_db → start`, as the
/// seed ran them. One without a command is left out, with a warning (not an error: a process
/// that has no cleanup simply has none to run).
pub(super) fn default_actions(
    obj: &Object<'_>,
    declared: &BTreeSet<String>,
    readable: bool,
    found: &mut Findings,
) -> Vec<String> {
    let mut actions = Vec::new();
    for action in DEFAULT_RECOVERY_ACTIONS {
        if *action == KILL_ACTION
            || *action == START_ACTION
            || !readable
            || declared.contains(*action)
        {
            actions.push(action.to_string());
        } else {
            found.warnings.push(format!(
                "{}: not set, so the seed's default {} applies; there is no commands.{action}, so it runs {}",
                obj.name("recovery_actions"),
                DEFAULT_RECOVERY_ACTIONS.join(" → "),
                DEFAULT_RECOVERY_ACTIONS
                    .iter()
                    .filter(|a| **a != *action)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" → ")
            ));
        }
    }
    actions
}

/// Every action listed once, and every action but `kill` backed by a command (checked only when
/// `declared` is known). A missing `start` command is reported on its own (every process needs
/// one), so not again here.
pub(super) fn check_actions(
    obj: &Object<'_>,
    actions: &[String],
    declared: Option<&BTreeSet<String>>,
    found: &mut Findings,
) {
    let field = obj.name("recovery_actions");
    if actions.is_empty() {
        found
            .warnings
            .push(format!("{field}: empty, so recovery does nothing"));
    }
    let mut seen = BTreeSet::new();
    let mut repeated = BTreeSet::new();
    for action in actions {
        if !seen.insert(action.as_str()) {
            if repeated.insert(action.as_str()) {
                found.problems.push(format!(
                    "{field}: action \"{action}\" is listed more than once"
                ));
            }
            continue;
        }
        let unbacked = declared.is_some_and(|names| !names.contains(action));
        if action != KILL_ACTION && action != START_ACTION && unbacked {
            found.problems.push(format!(
                "{field}: action \"{action}\" has no command in commands"
            ));
        }
    }
}
