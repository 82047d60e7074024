//! Turning the raw JSON value into a [`Config`], field by field.
//!
//! Nothing here stops at a problem: each field is read on its own, a bad one is recorded and
//! replaced by its default, and reading goes on, so the caller gets every problem at once. A
//! `null` field counts as absent. Messages start with the field's dotted name
//! (`processes.api.timeout_seconds: …`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use protocol::paths;
use serde_json::Value;

use super::fields::{
    Lookup, Object, action_list, boolean, describe, env_map, log_level, non_empty_string,
    non_negative_seconds, octal_mode, positive_integer, positive_seconds, principal_list, quote,
    string_list,
};
use super::{
    AccessConfig, Config, DEFAULT_BACKOFF_MAX, DEFAULT_CHECK_INTERVAL, DEFAULT_CLEANUP_ARGS,
    DEFAULT_CLEANUP_TIMEOUT, DEFAULT_FAILURE_THRESHOLD, DEFAULT_KILL_TIMEOUT, DEFAULT_LOG_LEVEL,
    DEFAULT_MAX_RESTARTS, DEFAULT_RECOVERY_ACTIONS, DEFAULT_RESTART_WINDOW, DEFAULT_RETENTION_DAYS,
    DEFAULT_SOCKET_MODE, DEFAULT_VERIFY_DELAY, FlapPolicy, GLOBAL_FIELDS, HeartbeatSource,
    KILL_ACTION, MAX_SECONDS, PROCESS_FIELDS, ProcessConfig, START_ACTION,
};

/// `timeout_seconds` when a process names none, as in the seed.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// `"file"`, `"notify"` or `"both"`.
fn heartbeat_source(value: &Value) -> Result<HeartbeatSource, String> {
    value
        .as_str()
        .and_then(HeartbeatSource::parse)
        .ok_or_else(|| {
            format!(
                "must be one of \"file\", \"notify\", \"both\", found {}",
                describe(value)
            )
        })
}

/// What reading found: `problems` make the config unusable, `warnings` don't.
#[derive(Debug, Default)]
pub(super) struct Findings {
    pub(super) problems: Vec<String>,
    pub(super) warnings: Vec<String>,
}

/// Reads the whole file. Returns `None` only after recording at least one problem.
pub(super) fn build(root: &Value, source: &Path, found: &mut Findings) -> Option<Config> {
    let Value::Object(map) = root else {
        found.problems.push(format!(
            "top level: must be an object, found {}",
            describe(root)
        ));
        return None;
    };
    let top = Object { map, at: None };
    top.warn_unknown(found, GLOBAL_FIELDS);
    let base_dir = paths::config_dir(source);
    let path_or = |found: &mut Findings, field: &str, default: PathBuf| match top.read(
        found,
        field,
        non_empty_string,
    ) {
        Lookup::Found(p) => paths::resolve(&base_dir, &p),
        _ => default,
    };

    let log_level = top
        .read(found, "log_level", log_level)
        .or(DEFAULT_LOG_LEVEL.to_string());
    let socket_path = path_or(found, "socket_path", paths::default_socket_path());
    let db_path = path_or(
        found,
        "db_path",
        paths::default_state_dir().join("watchdog.db"),
    );
    let socket_dir = socket_path.parent().unwrap_or(Path::new("/"));
    let lock_path = path_or(found, "lock_path", socket_dir.join("watchdogd.lock"));
    let log_dir = top
        .read(found, "log_dir", non_empty_string)
        .found()
        .map(|p| paths::resolve(&base_dir, &p));
    let consecutive_failures_threshold = top
        .read(found, "consecutive_failures_threshold", positive_integer)
        .or(DEFAULT_FAILURE_THRESHOLD);
    let kill_timeout = top
        .read(found, "kill_timeout", positive_seconds)
        .or(DEFAULT_KILL_TIMEOUT);
    let cleanup_timeout = top
        .read(found, "cleanup_timeout", positive_seconds)
        .or(DEFAULT_CLEANUP_TIMEOUT);
    let verify_delay = top
        .read(found, "verify_delay", non_negative_seconds)
        .or(DEFAULT_VERIFY_DELAY);
    let cleanup_args = top
        .read(found, "cleanup_args", string_list)
        .or_else(|| DEFAULT_CLEANUP_ARGS.iter().map(|a| a.to_string()).collect());
    let check_interval = top
        .read(found, "check_interval_seconds", positive_seconds)
        .or(DEFAULT_CHECK_INTERVAL);

    let flap = FlapPolicy {
        max_restarts: top
            .read(found, "max_restarts", positive_integer)
            .or(DEFAULT_MAX_RESTARTS),
        window: top
            .read(found, "restart_window_seconds", positive_seconds)
            .or(DEFAULT_RESTART_WINDOW),
        backoff_max: top
            .read(found, "backoff_max_seconds", non_negative_seconds)
            .or(DEFAULT_BACKOFF_MAX),
    };
    let on_give_up = top.read(found, "on_give_up", non_empty_string).found();
    let principals = |found: &mut Findings, field: &str| {
        top.read(found, field, principal_list).or_else(Vec::new)
    };
    let access = AccessConfig {
        socket_mode: top
            .read(found, "socket_mode", octal_mode)
            .or(DEFAULT_SOCKET_MODE),
        socket_group: top.read(found, "socket_group", non_empty_string).found(),
        control_users: principals(found, "control_users"),
        control_groups: principals(found, "control_groups"),
        read_users: principals(found, "read_users"),
        read_groups: principals(found, "read_groups"),
    };
    if access.socket_mode & 0o002 != 0 {
        found.warnings.push(
            "socket_mode: world-writable; anyone can connect (requests are still checked against control_users/read_users)".into(),
        );
    }
    let healthy_sample = top
        .read(found, "healthy_sample_seconds", non_negative_seconds)
        .or(super::DEFAULT_HEALTHY_SAMPLE);
    let max_parallel_recoveries = top
        .read(found, "max_parallel_recoveries", positive_integer)
        .or(super::DEFAULT_MAX_PARALLEL_RECOVERIES) as usize;
    let metrics_textfile = top
        .read(found, "metrics_textfile", non_empty_string)
        .found()
        .map(|p| paths::resolve(&base_dir, &p));
    let notify_dir = top
        .read(found, "notify_dir", non_empty_string)
        .found()
        .map(|p| paths::resolve(&base_dir, &p));
    let history_retention = top
        .read(found, "history_retention_days", positive_seconds)
        .or(Duration::from_secs_f64(DEFAULT_RETENTION_DAYS))
        .mul_f64(86_400.0)
        .min(Duration::from_secs_f64(MAX_SECONDS));

    let defaults = ProcessDefaults {
        check_interval,
        failure_threshold: consecutive_failures_threshold,
        base_dir: &base_dir,
        flap,
        on_give_up: on_give_up.as_deref(),
    };
    let processes = match top.get("processes") {
        None => {
            found
                .problems
                .push("processes: missing (required: an object of process key → settings)".into());
            BTreeMap::new()
        }
        Some(Value::Object(entries)) => {
            if entries.is_empty() {
                found
                    .warnings
                    .push("processes: empty; there is nothing to supervise".into());
            }
            entries
                .iter()
                .filter_map(|(key, value)| {
                    process(key, value, &defaults, found).map(|p| (key.clone(), p))
                })
                .collect()
        }
        Some(other) => {
            found.problems.push(format!(
                "processes: must be an object of process key → settings, found {}",
                describe(other)
            ));
            BTreeMap::new()
        }
    };
    check_shared_heartbeats(&processes, found);

    Some(Config {
        source: source.to_path_buf(),
        base_dir,
        log_level,
        db_path,
        lock_path,
        log_dir,
        socket_path,
        consecutive_failures_threshold,
        kill_timeout,
        cleanup_timeout,
        verify_delay,
        cleanup_args,
        check_interval,
        flap,
        on_give_up,
        access,
        history_retention,
        metrics_textfile,
        socket_from_command_line: false,
        healthy_sample,
        max_parallel_recoveries,
        notify_dir,
        processes: processes
            .into_iter()
            .map(|(k, p)| (k, std::sync::Arc::new(p)))
            .collect(),
    })
}

/// The global settings a process inherits unless it overrides them.
struct ProcessDefaults<'a> {
    check_interval: Duration,
    failure_threshold: u32,
    base_dir: &'a Path,
    flap: FlapPolicy,
    on_give_up: Option<&'a str>,
}

/// Reads one process. Returns `None` when a required field is missing or bad (already recorded).
fn process(
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
fn process_name(key: &str) -> String {
    match key_problem(key) {
        Some(_) => format!("processes.{}", quote(key)),
        None => format!("processes.{key}"),
    }
}

/// A process's `commands` as read.
struct Commands {
    /// The valid commands.
    commands: BTreeMap<String, String>,
    /// Every name the file declares, valid or not, so a bad command is reported once and not
    /// again as missing.
    declared: BTreeSet<String>,
    /// False when `commands` is there but not an object.
    readable: bool,
}

fn read_commands(obj: &Object<'_>, found: &mut Findings) -> Commands {
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
fn merge_legacy(
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
fn default_actions(
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
fn check_actions(
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

/// Two processes watching one heartbeat file would read each other's PID and kill each other.
fn check_shared_heartbeats(processes: &BTreeMap<String, ProcessConfig>, found: &mut Findings) {
    let mut owners: HashMap<PathBuf, &str> = HashMap::new();
    for (key, process) in processes {
        let Some(heartbeat_path) = &process.heartbeat_path else {
            continue;
        };
        let path = lexical(heartbeat_path);
        match owners.get(&path) {
            Some(first) => found.problems.push(format!(
                "{}.heartbeat_path: same file as {}.heartbeat_path ({})",
                process_name(key),
                process_name(first),
                heartbeat_path.display()
            )),
            None => {
                owners.insert(path, key);
            }
        }
    }
}

/// `path` with `.` and `..` folded away, on the text alone (symlinks are not followed).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
