//! Turning the raw JSON value into a [`Config`]: the top level here, each process in
//! `process.rs`.
//!
//! Nothing here stops at a problem: each field is read on its own, a bad one is recorded and
//! replaced by its default, and reading goes on, so the caller gets every problem at once. A
//! `null` field counts as absent. Messages start with the field's dotted name
//! (`processes.api.timeout_seconds: …`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use protocol::paths;
use serde_json::Value;

use super::defaults::{
    DEFAULT_BACKOFF_MAX, DEFAULT_CHECK_INTERVAL, DEFAULT_CLEANUP_ARGS, DEFAULT_CLEANUP_TIMEOUT,
    DEFAULT_FAILURE_THRESHOLD, DEFAULT_HEALTHY_SAMPLE, DEFAULT_KILL_TIMEOUT, DEFAULT_LOG_LEVEL,
    DEFAULT_MAX_PARALLEL_RECOVERIES, DEFAULT_MAX_RESTARTS, DEFAULT_RESTART_WINDOW,
    DEFAULT_RETENTION_DAYS, DEFAULT_SOCKET_MODE, DEFAULT_VERIFY_DELAY, GLOBAL_FIELDS, MAX_SECONDS,
};
use super::fields::{
    Lookup, Object, describe, log_level, non_empty_string, non_negative_seconds, octal_mode,
    positive_integer, positive_seconds, principal_list, string_list,
};
use super::findings::Findings;
use super::model::{AccessConfig, Config, FlapPolicy, ProcessConfig};
use super::process::{ProcessDefaults, process, process_name};

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
        .or(DEFAULT_HEALTHY_SAMPLE);
    let max_parallel_recoveries = top
        .read(found, "max_parallel_recoveries", positive_integer)
        .or(DEFAULT_MAX_PARALLEL_RECOVERIES) as usize;
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
