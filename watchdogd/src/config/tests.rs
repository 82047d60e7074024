//! Unit tests for the config loader. Here: the seed's formats load, defaults fill in, paths
//! resolve, and the normalized form round-trips. `problems.rs`: every problem is reported at once
//! with its key and field, and warnings say what is odd without refusing the file.

mod problems;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::*;

pub(super) const SOURCE: &str = "/srv/watchdog/config.json";

pub(super) fn parse_value(value: &Value) -> Result<Loaded, ConfigError> {
    parse(&value.to_string(), Path::new(SOURCE))
}

pub(super) fn ok(value: Value) -> Loaded {
    match parse_value(&value) {
        Ok(loaded) => loaded,
        Err(e) => panic!("expected the config to load, got: {e}"),
    }
}

pub(super) fn problems(value: Value) -> Vec<String> {
    match parse_value(&value) {
        Ok(loaded) => panic!("expected problems, config loaded: {:?}", loaded.config),
        Err(ConfigError::Invalid { problems, .. }) => problems,
        Err(other) => panic!("expected Invalid, got {other}"),
    }
}

pub(super) fn assert_has(messages: &[String], wanted: &str) {
    assert!(
        messages.iter().any(|m| m == wanted),
        "missing {wanted:?} in:\n{messages:#?}"
    );
}

pub(super) fn assert_has_prefix(messages: &[String], wanted: &str) {
    assert!(
        messages.iter().any(|m| m.starts_with(wanted)),
        "nothing starting with {wanted:?} in:\n{messages:#?}"
    );
}

/// A minimal valid process, to be modified by each test.
pub(super) fn service(name: &str) -> Value {
    json!({
        "timeout_seconds": 30,
        "heartbeat_path": format!("/hb/{name}.json"),
        "commands": { "start": format!("run-{name}") },
        "recovery_actions": ["kill", "start"]
    })
}

pub(super) fn with_processes(processes: Value) -> Value {
    json!({ "processes": processes })
}

/// The seed README's example `config.json`, byte for byte (shared with the end-to-end tests).
const SEED_EXAMPLE: &str = include_str!("../../../tests/fixtures/seed-config.json");

#[test]
fn seed_example_loads_unchanged() {
    let loaded = match parse(SEED_EXAMPLE, Path::new(SOURCE)) {
        Ok(loaded) => loaded,
        Err(e) => panic!("{e}"),
    };
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = loaded.config;
    assert_eq!(config.source, PathBuf::from(SOURCE));
    assert_eq!(config.base_dir, PathBuf::from("/srv/watchdog"));
    assert_eq!(config.log_level, "INFO");
    assert_eq!(config.db_path, PathBuf::from("/path/to/watchdog.db"));
    assert_eq!(config.consecutive_failures_threshold, 2);
    let p = &config.processes["my_server"];
    assert_eq!(p.key, "my_server");
    assert_eq!(p.display_name, "MyServer");
    assert_eq!(p.timeout, Duration::from_secs(300));
    assert_eq!(
        p.heartbeat_path,
        Some(PathBuf::from("/path/to/heartbeats/my_server.json"))
    );
    assert!(p.enabled);
    assert_eq!(p.commands.len(), 3);
    assert_eq!(p.recovery_actions, ["kill", "clear_db", "start"]);
    assert_eq!(
        p.effective_actions().collect::<Vec<_>>(),
        ["kill", "clear_db", "start"]
    );
    assert_eq!(p.start_grace, Duration::from_secs(300));
    assert_eq!(p.failure_threshold, 2);
    assert_eq!(p.check_interval, DEFAULT_CHECK_INTERVAL);
    assert_eq!(p.working_dir, PathBuf::from("/srv/watchdog"));
}

#[test]
fn seed_style_globals_with_float_durations_load() {
    let loaded = ok(json!({
        "log_level": "info",
        "db_path": "/var/db/watchdog.db",
        "lock_path": "/tmp/watchdog.lock",
        "log_dir": "logs",
        "consecutive_failures_threshold": 3,
        "kill_timeout": 10.0,
        "cleanup_timeout": 60.0,
        "verify_delay": 2.5,
        "cleanup_args": ["--force", ""],
        "check_interval_seconds": 0.5,
        "processes": { "a": service("a") }
    }));
    let c = loaded.config;
    assert_eq!(c.log_level, "INFO");
    assert_eq!(c.lock_path, PathBuf::from("/tmp/watchdog.lock"));
    assert_eq!(c.log_dir, Some(PathBuf::from("/srv/watchdog/logs")));
    assert_eq!(c.kill_timeout, Duration::from_secs(10));
    assert_eq!(c.cleanup_timeout, Duration::from_secs(60));
    assert_eq!(c.verify_delay, Duration::from_millis(2500));
    assert_eq!(c.cleanup_args, ["--force", ""]);
    assert_eq!(c.check_interval, Duration::from_millis(500));
    assert_eq!(c.processes["a"].check_interval, Duration::from_millis(500));
    assert_eq!(c.processes["a"].failure_threshold, 3);
}

#[test]
fn absent_recovery_actions_are_the_seeds_default_less_what_has_no_command() {
    let loaded = ok(with_processes(json!({ "full": {
        "timeout_seconds": 30, "heartbeat_path": "/hb/f.json",
        "commands": { "start": "x", "clear_db": "/opt/reset db.sh" }
    }, "bare": {
        "timeout_seconds": 30, "heartbeat_path": "/hb/b.json", "commands": { "start": "x" }
    }})));
    assert_eq!(
        loaded.config.processes["full"].recovery_actions,
        ["kill", "clear_db", "start"]
    );
    assert_eq!(
        loaded.config.processes["bare"].recovery_actions,
        ["kill", "start"]
    );
    assert_eq!(
        loaded.warnings,
        [
            "processes.bare.recovery_actions: not set, so the seed's default kill → clear_db → start applies; there is no commands.clear_db, so it runs kill → start"
        ]
    );
}

#[test]
fn defaults_are_filled_in() {
    let loaded = ok(with_processes(json!({ "a": {
        "timeout_seconds": 30, "heartbeat_path": "/hb/a.json", "commands": { "start": "x" },
        "recovery_actions": ["kill", "start"]
    }})));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = loaded.config;
    assert_eq!(c.log_level, "INFO");
    let socket = protocol::paths::default_socket_path();
    assert_eq!(c.socket_path, socket);
    let socket_dir = socket.parent().map(Path::to_path_buf).unwrap_or_default();
    assert_eq!(c.lock_path, socket_dir.join("watchdogd.lock"));
    assert_eq!(
        c.db_path,
        protocol::paths::default_state_dir().join("watchdog.db")
    );
    assert_eq!(c.log_dir, None);
    assert_eq!(c.consecutive_failures_threshold, 2);
    assert_eq!(c.kill_timeout, Duration::from_secs(10));
    assert_eq!(c.cleanup_timeout, Duration::from_secs(60));
    assert_eq!(c.verify_delay, Duration::from_secs(2));
    assert_eq!(c.cleanup_args, ["--force"]);
    assert_eq!(c.check_interval, Duration::from_secs(10));
    let p = &c.processes["a"];
    assert_eq!(p.display_name, "a");
    assert!(p.enabled);
    assert_eq!(p.recovery_actions, ["kill", "start"]);
    assert!(p.disabled_actions.is_empty());
    assert_eq!(p.check_interval, Duration::from_secs(10));
    assert_eq!(p.failure_threshold, 2);
    assert_eq!(p.start_grace, Duration::from_secs(30));
    assert_eq!(p.working_dir, PathBuf::from("/srv/watchdog"));
}

#[test]
fn null_counts_as_absent() {
    let mut a = service("a");
    a["display_name"] = Value::Null;
    a["working_dir"] = Value::Null;
    let c = ok(json!({ "log_dir": null, "kill_timeout": null, "processes": { "a": a } })).config;
    assert_eq!(c.log_dir, None);
    assert_eq!(c.kill_timeout, DEFAULT_KILL_TIMEOUT);
    assert_eq!(c.processes["a"].display_name, "a");
}

#[test]
fn old_flat_format_is_normalized_with_one_warning() {
    let loaded = ok(with_processes(json!({ "legacy": {
        "display_name": "Legacy",
        "timeout_seconds": 300,
        "heartbeat_path": "/hb/legacy.json",
        "enabled": true,
        "startup_command": "python main.py",
        "cleanup_script": "/opt/cleanup.sh"
    }})));
    assert_eq!(
        loaded.warnings,
        [
            "processes.legacy: startup_command/cleanup_script are deprecated; use commands.start / commands.clear_db"
        ]
    );
    let p = &loaded.config.processes["legacy"];
    assert_eq!(p.commands["start"], "python main.py");
    assert_eq!(p.commands["clear_db"], "/opt/cleanup.sh");
    assert_eq!(p.recovery_actions, ["kill", "clear_db", "start"]);
}

#[test]
fn old_format_without_cleanup_script_defaults_to_kill_start() {
    let loaded = ok(with_processes(json!({ "legacy": {
        "timeout_seconds": 300, "heartbeat_path": "/hb/l.json", "startup_command": "go"
    }})));
    assert_eq!(
        loaded.warnings.len(),
        2,
        "deprecated, and no clear_db: {:?}",
        loaded.warnings
    );
    let p = &loaded.config.processes["legacy"];
    assert_eq!(p.recovery_actions, ["kill", "start"]);
    assert_eq!(p.commands.len(), 1);
}

#[test]
fn relative_paths_resolve_against_the_config_folder() {
    let mut a = service("a");
    a["heartbeat_path"] = json!("heartbeats/a.json");
    a["working_dir"] = json!("../app");
    let loaded = ok(json!({
        "db_path": "state/watchdog.db",
        "socket_path": "run/wd.sock",
        "log_dir": "logs",
        "processes": { "a": a }
    }));
    let c = loaded.config;
    assert_eq!(c.db_path, PathBuf::from("/srv/watchdog/state/watchdog.db"));
    assert_eq!(c.socket_path, PathBuf::from("/srv/watchdog/run/wd.sock"));
    assert_eq!(
        c.lock_path,
        PathBuf::from("/srv/watchdog/run/watchdogd.lock")
    );
    assert_eq!(c.log_dir, Some(PathBuf::from("/srv/watchdog/logs")));
    let p = &c.processes["a"];
    assert_eq!(
        p.heartbeat_path,
        Some(PathBuf::from("/srv/watchdog/heartbeats/a.json"))
    );
    assert_eq!(p.working_dir, PathBuf::from("/srv/watchdog/../app"));
    // /srv/app does not exist on a test machine: a warning, not a problem.
    assert_eq!(
        loaded.warnings,
        ["processes.a.working_dir: folder /srv/watchdog/../app does not exist"]
    );
}

#[test]
fn relative_source_is_made_absolute() {
    let loaded = match parse(
        &with_processes(json!({ "a": service("a") })).to_string(),
        Path::new("conf/config.json"),
    ) {
        Ok(loaded) => loaded,
        Err(e) => panic!("{e}"),
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    assert_eq!(loaded.config.source, cwd.join("conf/config.json"));
    assert_eq!(loaded.config.base_dir, cwd.join("conf"));
}

#[test]
fn existing_working_dir_gives_no_warning() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut a = service("a");
    a["working_dir"] = json!(dir.path().to_string_lossy());
    let loaded = ok(with_processes(json!({ "a": a })));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.config.processes["a"].working_dir, dir.path());
}

#[test]
fn log_level_is_case_insensitive_and_stored_upper_case() {
    for (given, stored) in [("debug", "DEBUG"), ("Warn", "WARN"), ("warning", "WARNING")] {
        let c = ok(json!({ "log_level": given, "processes": {} })).config;
        assert_eq!(c.log_level, stored);
    }
}

#[test]
fn per_process_overrides() {
    let mut a = service("a");
    a["check_interval_seconds"] = json!(2);
    a["consecutive_failures_threshold"] = json!(5);
    a["start_grace_seconds"] = json!(7.25);
    let p = ok(with_processes(json!({ "a": a }))).config.processes["a"].clone();
    assert_eq!(p.check_interval, Duration::from_secs(2));
    assert_eq!(p.failure_threshold, 5);
    assert_eq!(p.start_grace, Duration::from_millis(7250));
}

#[test]
fn to_json_round_trips() {
    let mut a = service("a");
    a["display_name"] = json!("Service A");
    a["timeout_seconds"] = json!(0.75);
    a["heartbeat_path"] = json!("hb/a.json");
    a["commands"]["clear_db"] = json!("/c.sh");
    a["recovery_actions"] = json!(["kill", "clear_db", "start"]);
    a["disabled_actions"] = json!(["clear_db"]);
    a["check_interval_seconds"] = json!(0.1);
    a["start_grace_seconds"] = json!(12.5);
    let mut b = service("b");
    b["enabled"] = json!(false);
    b["startup_command"] = json!("run-b");
    // A real folder: the normalized form names working_dir, which is then checked to exist.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let source = dir.path().join("config.json");
    let parse_here =
        |value: &Value| parse(&value.to_string(), &source).unwrap_or_else(|e| panic!("{e}"));
    let first = parse_here(&json!({
        "log_level": "debug",
        "log_dir": "logs",
        "kill_timeout": 3.3,
        "verify_delay": 0,
        "cleanup_args": [],
        "processes": { "a": a, "b": b }
    }));
    assert_eq!(first.warnings.len(), 1, "{:?}", first.warnings); // b's startup_command
    let original = first.config;
    let normalized = original.to_json();
    assert_eq!(normalized["kill_timeout"], json!(3.3));
    assert_eq!(normalized["cleanup_timeout"], json!(60));
    assert_eq!(normalized["processes"]["a"]["timeout_seconds"], json!(0.75));
    assert_eq!(
        normalized["processes"]["b"]["commands"],
        json!({ "start": "run-b" })
    );
    let again = parse_here(&normalized);
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
    assert_eq!(again.config, original);
    assert_eq!(again.config.to_json(), normalized);
}

#[test]
fn to_json_uses_only_known_field_names() {
    let normalized = ok(with_processes(json!({ "a": service("a") })))
        .config
        .to_json();
    let Value::Object(root) = &normalized else {
        panic!("not an object")
    };
    assert!(root.keys().all(|k| GLOBAL_FIELDS.contains(&k.as_str())));
    let Value::Object(process) = &normalized["processes"]["a"] else {
        panic!("not an object")
    };
    assert!(process.keys().all(|k| PROCESS_FIELDS.contains(&k.as_str())));
}

#[test]
fn load_reads_the_file_and_reports_read_and_json_errors() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        json!({ "processes": { "a": { "timeout_seconds": 1, "heartbeat_path": "hb.json",
            "commands": { "start": "x" } } } })
        .to_string(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let loaded = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.config.source, path);
    assert_eq!(
        loaded.config.processes["a"].heartbeat_path,
        Some(dir.path().join("hb.json"))
    );

    let missing = dir.path().join("nope.json");
    match load(&missing) {
        Err(ConfigError::Read { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected Read, got {other:?}"),
    }

    std::fs::write(&path, "{ \"processes\": ").unwrap_or_else(|e| panic!("{e}"));
    match load(&path) {
        Err(e @ ConfigError::Json { .. }) => {
            let text = e.to_string();
            assert!(text.starts_with(&format!("config {} is not valid JSON: ", path.display())));
            assert!(text.contains("line 1"), "{text}");
        }
        other => panic!("expected Json, got {other:?}"),
    }
}

#[test]
fn invalid_error_lists_every_problem() {
    let e = ConfigError::Invalid {
        path: PathBuf::from("/etc/wd/config.json"),
        problems: vec!["first".into(), "second".into()],
        warnings: vec![],
    };
    assert_eq!(
        e.to_string(),
        "config /etc/wd/config.json is invalid:\n  - first\n  - second"
    );
    let e = ConfigError::Invalid {
        path: PathBuf::from("/etc/wd/config.json"),
        problems: vec!["processes.a.timeout_seconds: missing".into()],
        warnings: vec!["processes.a.timeout_secs: unknown field".into()],
    };
    assert!(
        e.to_string()
            .ends_with("\nwarnings:\n  - processes.a.timeout_secs: unknown field")
    );
}
