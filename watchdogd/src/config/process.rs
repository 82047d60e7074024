//! Reading one process of the config file into a [`ProcessConfig`], every problem recorded
//! and reading carried on (see `validation.rs`); its commands and recovery actions are read in
//! `actions.rs`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use protocol::paths;
use serde_json::Value;

use super::actions::{Commands, check_actions, default_actions, merge_legacy, read_commands};
use super::defaults::{DEFAULT_TIMEOUT, KILL_ACTION, PROCESS_FIELDS, START_ACTION};
use super::fields::{
    FieldError, Lookup, Object, action_list, boolean, describe, env_map, non_empty_string,
    non_negative_seconds, positive_integer, positive_seconds, quote,
};
use super::findings::Findings;
use super::model::{FlapPolicy, HeartbeatSource, ProcessConfig};

/// `"file"`, `"notify"` or `"both"`.
fn heartbeat_source(value: &Value) -> Result<HeartbeatSource, FieldError> {
    value
        .as_str()
        .and_then(HeartbeatSource::parse)
        .ok_or_else(|| FieldError::Expected {
            expected: "one of \"file\", \"notify\", \"both\"".into(),
            found: describe(value),
        })
}

/// The global settings a process inherits unless it overrides them.
pub(super) struct ProcessDefaults<'a> {
    pub(super) check_interval: Duration,
    pub(super) failure_threshold: u32,
    pub(super) base_dir: &'a Path,
    pub(super) flap: FlapPolicy,
    pub(super) on_give_up: Option<&'a str>,
}

/// Reads one process. Returns `None` when a required field is missing or bad (already recorded).
pub(super) fn process(
    key: &str,
    value: &Value,
    defaults: &ProcessDefaults<'_>,
    found: &mut Findings,
) -> Option<ProcessConfig> {
    let at = process_name(key);
    if let Some(why) = key_problem(key) {
        found.problems.push(format!("{at}: process key {why}"));
    }
    let Value::Object(map) = value else {
        found.problems.push(format!(
            "{at}: must be an object of settings, found {}",
            describe(value)
        ));
        return None;
    };
    let obj = Object { map, at: Some(at) };
    obj.warn_unknown(found, PROCESS_FIELDS);
    let base_dir = defaults.base_dir;

    let display_name = obj
        .read(found, "display_name", non_empty_string)
        .or_else(|| key.to_string());
    // The seed's default when absent: five minutes.
    let timeout = match obj.read(found, "timeout_seconds", positive_seconds) {
        Lookup::Invalid => None,
        other => Some(other.or(DEFAULT_TIMEOUT)),
    };
    let heartbeat = obj.read(found, "heartbeat", heartbeat_source);
    let file_wanted = match &heartbeat {
        Lookup::Found(source) => source.uses_file(),
        Lookup::Absent => true,
        // Unknown: whether a file is needed cannot be told; a missing one is not a problem too.
        Lookup::Invalid => false,
    };
    let heartbeat = heartbeat.or(HeartbeatSource::File);
    let heartbeat_path = if file_wanted {
        obj.required(
            found,
            "heartbeat_path",
            non_empty_string,
            "a file path, unless \"heartbeat\" is \"notify\"",
        )
        .map(|p| Some(paths::resolve(base_dir, &p)))
    } else {
        if heartbeat == HeartbeatSource::Notify && obj.get("heartbeat_path").is_some() {
            found.warnings.push(format!(
                "{}: ignored; \"heartbeat\" is \"notify\" (use \"both\" to have the file read too)",
                obj.name("heartbeat_path")
            ));
        }
        Some(None)
    };
    let enabled = obj.read(found, "enabled", boolean).or(true);

    let Commands {
        mut commands,
        mut declared,
        readable,
    } = read_commands(&obj, found);
    merge_legacy(&obj, &mut commands, &mut declared, found);
    // When `commands` is not even an object, "start is missing" and "action has no command"
    // would only repeat that one problem.
    if readable && !declared.contains(START_ACTION) {
        found.problems.push(format!(
            "{}: missing; every process needs a start command",
            obj.name("commands.start")
        ));
    }
    if commands.remove(KILL_ACTION).is_some() {
        found.warnings.push(format!(
            "{}: ignored; kill is built in (SIGTERM, then SIGKILL)",
            obj.name("commands.kill")
        ));
    }

    let recovery_actions = match obj.read(found, "recovery_actions", action_list) {
        Lookup::Found(actions) => Some(actions),
        Lookup::Absent => Some(default_actions(&obj, &declared, readable, found)),
        Lookup::Invalid => None,
    };
    if let Some(actions) = &recovery_actions {
        check_actions(&obj, actions, readable.then_some(&declared), found);
    }
    let disabled_actions = obj
        .read(found, "disabled_actions", action_list)
        .or_else(Vec::new);
    if let Some(actions) = &recovery_actions {
        for name in disabled_actions.iter().filter(|d| !actions.contains(d)) {
            found.warnings.push(format!(
                "{}: \"{name}\" is not in recovery_actions, so disabling it changes nothing",
                obj.name("disabled_actions")
            ));
        }
    }

    let check_interval = obj
        .read(found, "check_interval_seconds", positive_seconds)
        .or(defaults.check_interval);
    let failure_threshold = obj
        .read(found, "consecutive_failures_threshold", positive_integer)
        .or(defaults.failure_threshold);
    let start_grace = obj
        .read(found, "start_grace_seconds", non_negative_seconds)
        .found();
    let working_dir = match obj.read(found, "working_dir", non_empty_string) {
        Lookup::Found(dir) => {
            let dir = paths::resolve(base_dir, &dir);
            if let Some(w) = super::folder::check(&obj.name("working_dir"), &dir) {
                found.warnings.push(w);
            }
            dir
        }
        _ => base_dir.to_path_buf(),
    };

    let user = obj.read(found, "user", non_empty_string).found();
    let group = obj.read(found, "group", non_empty_string).found();
    let env = obj.read(found, "env", env_map).or_else(BTreeMap::new);
    let log_path = |found: &mut Findings, field: &str| {
        obj.read(found, field, non_empty_string)
            .found()
            .map(|p| paths::resolve(base_dir, &p))
    };
    let stdout_log = log_path(found, "stdout_log");
    let stderr_log = log_path(found, "stderr_log");
    let flap = FlapPolicy {
        max_restarts: obj
            .read(found, "max_restarts", positive_integer)
            .or(defaults.flap.max_restarts),
        window: obj
            .read(found, "restart_window_seconds", positive_seconds)
            .or(defaults.flap.window),
        backoff_max: obj
            .read(found, "backoff_max_seconds", non_negative_seconds)
            .or(defaults.flap.backoff_max),
    };
    let on_give_up = obj
        .read(found, "on_give_up", non_empty_string)
        .found()
        .or_else(|| defaults.on_give_up.map(str::to_owned));
    let stall = obj.read(found, "stall_seconds", positive_seconds).found();

    let timeout = timeout?;
    Some(ProcessConfig {
        key: key.to_string(),
        display_name,
        timeout,
        heartbeat,
        heartbeat_path: heartbeat_path?,
        enabled,
        commands,
        recovery_actions: recovery_actions.unwrap_or_default(),
        disabled_actions,
        check_interval,
        failure_threshold,
        start_grace: start_grace.unwrap_or(timeout),
        working_dir,
        user,
        group,
        env,
        stdout_log,
        stderr_log,
        flap,
        on_give_up,
        stall,
    })
}

/// What is wrong with a process key, if anything. Keys name services on the command line and in
/// file names, so they must be one plain word.
fn key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        Some("must not be empty")
    } else if key.chars().any(|c| c.is_whitespace() || c == '/') {
        Some("must not contain whitespace or \"/\"")
    } else {
        None
    }
}

/// `processes.<key>` for messages, the key quoted when it is not a plain word.
pub(super) fn process_name(key: &str) -> String {
    match key_problem(key) {
        Some(_) => format!("processes.{}", quote(key)),
        None => format!("processes.{key}"),
    }
}
