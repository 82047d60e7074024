//! Problems (the config is refused, every one listed) and warnings (it loads) in bad configs.

use serde_json::json;

use super::super::suggestion::{edit_distance, suggestion};
use super::super::{GLOBAL_FIELDS, PROCESS_FIELDS};
use super::*;

#[test]
fn old_and_new_start_conflict_unless_equal() {
    let mut a = service("a");
    a["startup_command"] = json!("something else");
    a["cleanup_script"] = json!("/c.sh");
    let found = problems(with_processes(json!({ "a": a })));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_has_prefix(
        &found,
        "processes.a.startup_command: conflicts with commands.start",
    );

    let mut b = service("b");
    b["startup_command"] = json!("run-b");
    let loaded = ok(with_processes(json!({ "b": b })));
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.config.processes["b"].commands["start"], "run-b");
}

#[test]
fn every_problem_is_reported_at_once() {
    let found = problems(json!({
        "log_level": "LOUD",
        "kill_timeout": -1,
        "processes": {
            "api": { "timeout_seconds": -5, "heartbeat_path": "/hb/api.json",
                     "commands": { "start": "x" } },
            "worker": { "timeout_seconds": 10, "heartbeat_path": 42,
                        "commands": { "start": "x" } },
            "nostart": { "timeout_seconds": 10, "heartbeat_path": "/hb/n.json" },
            "db": { "timeout_seconds": 10, "heartbeat_path": "/hb/db.json",
                    "commands": { "start": "x" },
                    "recovery_actions": ["kill", "clear_db", "start", "kill"] }
        }
    }));
    assert_has(
        &found,
        r#"log_level: must be one of DEBUG, INFO, WARNING, WARN, ERROR, found string "LOUD""#,
    );
    assert_has(&found, "kill_timeout: must be a positive number, found -1");
    assert_has(
        &found,
        "processes.api.timeout_seconds: must be a positive number, found -5",
    );
    assert_has(
        &found,
        "processes.worker.heartbeat_path: must be a non-empty string, found number 42",
    );
    assert_has(
        &found,
        "processes.nostart.commands.start: missing; every process needs a start command",
    );
    assert_has(
        &found,
        r#"processes.db.recovery_actions: action "clear_db" has no command in commands"#,
    );
    assert_has(
        &found,
        r#"processes.db.recovery_actions: action "kill" is listed more than once"#,
    );
    assert_eq!(found.len(), 7, "{found:#?}");
}

#[test]
fn wrong_types_name_expected_and_found() {
    let found = problems(json!({
        "consecutive_failures_threshold": "2",
        "cleanup_args": "--force",
        "socket_path": false,
        "processes": {
            "a": { "display_name": 5, "timeout_seconds": "30", "heartbeat_path": "/hb/a.json",
                   "enabled": "yes", "commands": ["start"], "recovery_actions": "kill",
                   "disabled_actions": [1, "x"] },
            "b": "not an object",
            "c": { "timeout_seconds": 1, "heartbeat_path": "/hb/c.json",
                   "commands": { "start": 7, "clear_db": "" } }
        }
    }));
    for wanted in [
        r#"consecutive_failures_threshold: must be a positive integer, found string "2""#,
        r#"cleanup_args: must be an array of strings, found string "--force""#,
        "socket_path: must be a non-empty string, found boolean false",
        "processes.a.display_name: must be a non-empty string, found number 5",
        r#"processes.a.timeout_seconds: must be a positive number, found string "30""#,
        r#"processes.a.enabled: must be true or false, found string "yes""#,
        "processes.a.commands: must be an object of action name → command, found an array of 1 item(s)",
        r#"processes.a.recovery_actions: must be an array of non-empty strings, found string "kill""#,
        "processes.a.disabled_actions: must be an array of non-empty strings, but item 0 is number 1",
        r#"processes.b: must be an object of settings, found string "not an object""#,
        "processes.c.commands.clear_db: must be a non-empty string, found string \"\"",
        "processes.c.commands.start: must be a non-empty string, found number 7",
    ] {
        assert_has(&found, wanted);
    }
    assert_eq!(found.len(), 12, "{found:#?}");
}

#[test]
fn top_level_and_processes_shapes() {
    assert_eq!(
        problems(json!([1, 2])),
        ["top level: must be an object, found an array of 2 item(s)"]
    );
    assert_eq!(
        problems(json!({})),
        ["processes: missing (required: an object of process key → settings)"]
    );
    assert_eq!(
        problems(json!({ "processes": [] })),
        ["processes: must be an object of process key → settings, found an array of 0 item(s)"]
    );
    let loaded = ok(json!({ "processes": {} }));
    assert_eq!(
        loaded.warnings,
        ["processes: empty; there is nothing to supervise"]
    );
}

#[test]
fn non_positive_and_out_of_range_numbers() {
    let mut a = service("a");
    a["timeout_seconds"] = json!(0);
    a["check_interval_seconds"] = json!(0.0);
    a["consecutive_failures_threshold"] = json!(0);
    a["start_grace_seconds"] = json!(-1);
    let mut b = service("b");
    b["consecutive_failures_threshold"] = json!(2.5);
    b["timeout_seconds"] = json!(1e12);
    let found = problems(json!({
        "cleanup_timeout": 0,
        "verify_delay": -0.5,
        "consecutive_failures_threshold": 5_000_000_000u64,
        "processes": { "a": a, "b": b }
    }));
    for wanted in [
        "cleanup_timeout: must be a positive number, found 0",
        "verify_delay: must be a non-negative number, found -0.5",
        "consecutive_failures_threshold: must be at most 4294967295, found 5000000000",
        "processes.a.timeout_seconds: must be a positive number, found 0",
        "processes.a.check_interval_seconds: must be a positive number, found 0.0",
        "processes.a.consecutive_failures_threshold: must be a positive integer, found 0",
        "processes.a.start_grace_seconds: must be a non-negative number, found -1",
        "processes.b.consecutive_failures_threshold: must be a positive integer, found 2.5",
    ] {
        assert_has(&found, wanted);
    }
    assert_has_prefix(&found, "processes.b.timeout_seconds: must be at most");
    assert_eq!(found.len(), 9, "{found:#?}");
}

#[test]
fn zero_is_allowed_where_it_makes_sense() {
    let mut a = service("a");
    a["start_grace_seconds"] = json!(0);
    a["consecutive_failures_threshold"] = json!(1.0);
    let c = ok(json!({ "verify_delay": 0, "processes": { "a": a } })).config;
    assert_eq!(c.verify_delay, Duration::ZERO);
    assert_eq!(c.processes["a"].start_grace, Duration::ZERO);
    assert_eq!(c.processes["a"].failure_threshold, 1);
}

#[test]
fn missing_required_fields() {
    let found = problems(with_processes(
        json!({ "a": { "commands": { "start": "x" } } }),
    ));
    assert_eq!(
        found,
        [
            "processes.a.heartbeat_path: missing (required: a file path, unless \"heartbeat\" is \"notify\")"
        ]
    );
}

#[test]
fn a_missing_timeout_is_the_seeds_five_minutes() {
    let mut a = service("a");
    a.as_object_mut().unwrap().remove("timeout_seconds");
    let c = ok(json!({ "processes": { "a": a } })).config;
    assert_eq!(c.processes["a"].timeout, Duration::from_secs(300));
    assert_eq!(c.processes["a"].start_grace, Duration::from_secs(300));
}

#[test]
fn heartbeat_sources() {
    use crate::config::HeartbeatSource;
    let notify =
        json!({ "timeout_seconds": 5, "heartbeat": "notify", "commands": { "start": "x" } });
    let both = json!({ "timeout_seconds": 5, "heartbeat": "both", "heartbeat_path": "/hb/b.json", "commands": { "start": "x" } });
    let c = ok(with_processes(
        json!({ "n": notify, "b": both, "f": service("f") }),
    ))
    .config;
    assert_eq!(c.processes["n"].heartbeat, HeartbeatSource::Notify);
    assert_eq!(c.processes["n"].heartbeat_path, None);
    assert_eq!(c.processes["b"].heartbeat, HeartbeatSource::Both);
    assert_eq!(
        c.processes["f"].heartbeat,
        HeartbeatSource::File,
        "the default"
    );
    // The normalized form says so, and reads back the same.
    let again = crate::config::parse(&c.to_json().to_string(), &c.source)
        .unwrap()
        .config;
    assert_eq!(again, c);

    let found = problems(with_processes(json!({
        "x": { "timeout_seconds": 5, "heartbeat": "socket", "commands": { "start": "x" } },
        "y": { "timeout_seconds": 5, "heartbeat": 1, "commands": { "start": "x" } },
        "z": { "timeout_seconds": 5, "heartbeat": "both", "commands": { "start": "x" } },
    })));
    assert_eq!(
        found,
        [
            "processes.x.heartbeat: must be one of \"file\", \"notify\", \"both\", found string \"socket\"",
            "processes.y.heartbeat: must be one of \"file\", \"notify\", \"both\", found number 1",
            "processes.z.heartbeat_path: missing (required: a file path, unless \"heartbeat\" is \"notify\")",
        ]
    );
    let loaded = ok(with_processes(json!({
        "n": { "timeout_seconds": 5, "heartbeat": "notify", "heartbeat_path": "/hb/n.json", "commands": { "start": "x" } },
    })));
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.starts_with("processes.n.heartbeat_path: ignored")),
        "{:?}",
        loaded.warnings
    );
    assert_eq!(loaded.config.processes["n"].heartbeat_path, None);
}

#[test]
fn notify_dir_defaults_beside_the_socket_folder() {
    let c = ok(with_processes(json!({ "f": service("f") }))).config;
    let socket_dir = c.socket_path.parent().unwrap();
    let want = format!("{}-notify", socket_dir.display());
    assert_eq!(c.notify_dir(), std::path::PathBuf::from(want));
    let c = ok(json!({ "notify_dir": "/run/wd-n", "processes": { "f": service("f") } })).config;
    assert_eq!(c.notify_dir(), std::path::PathBuf::from("/run/wd-n"));
}

#[test]
fn start_command_is_required_even_without_start_action() {
    let mut a = service("a");
    a["commands"] = json!({ "clear_db": "/c.sh" });
    a["recovery_actions"] = json!(["kill", "clear_db"]);
    assert_eq!(
        problems(with_processes(json!({ "a": a }))),
        ["processes.a.commands.start: missing; every process needs a start command"]
    );
}

#[test]
fn every_action_but_kill_needs_a_command() {
    let mut a = service("a");
    a["recovery_actions"] = json!(["kill", "clear_db", "notify", "start"]);
    a["disabled_actions"] = json!(["notify"]);
    let found = problems(with_processes(json!({ "a": a })));
    assert_eq!(
        found,
        [
            r#"processes.a.recovery_actions: action "clear_db" has no command in commands"#,
            r#"processes.a.recovery_actions: action "notify" has no command in commands"#,
        ]
    );
}

#[test]
fn disabled_processes_are_validated_too() {
    let found = problems(with_processes(json!({ "off": {
        "enabled": false, "timeout_seconds": -1, "heartbeat_path": "/hb/off.json",
        "recovery_actions": ["kill", "clear_db", "start"]
    }})));
    assert_has(
        &found,
        "processes.off.timeout_seconds: must be a positive number, found -1",
    );
    assert_has(
        &found,
        "processes.off.commands.start: missing; every process needs a start command",
    );
    assert_has(
        &found,
        r#"processes.off.recovery_actions: action "clear_db" has no command in commands"#,
    );
    let mut ok_off = service("off");
    ok_off["enabled"] = json!(false);
    assert!(
        !ok(with_processes(json!({ "off": ok_off })))
            .config
            .processes["off"]
            .enabled
    );
}

#[test]
fn unknown_fields_warn_with_did_you_mean() {
    let mut a = service("a");
    a["timeout_secs"] = json!(30);
    a["Enabled"] = json!(true);
    a["colour"] = json!("blue");
    let loaded = ok(json!({ "log_levl": "INFO", "check_interval": 5, "processes": { "a": a } }));
    assert_eq!(
        loaded.warnings,
        [
            r#"check_interval: unknown field (did you mean "check_interval_seconds"?)"#,
            r#"log_levl: unknown field (did you mean "log_level"?)"#,
            r#"processes.a.Enabled: unknown field (did you mean "enabled"?)"#,
            "processes.a.colour: unknown field",
            r#"processes.a.timeout_secs: unknown field (did you mean "timeout_seconds"?)"#,
        ]
    );
}

#[test]
fn suggestions_and_edit_distance() {
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("ab", "ba"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(
        suggestion("heartbeat_pth", PROCESS_FIELDS),
        Some("heartbeat_path")
    );
    assert_eq!(suggestion("comands", PROCESS_FIELDS), Some("commands"));
    assert_eq!(
        suggestion("timeout", PROCESS_FIELDS),
        Some("timeout_seconds")
    );
    assert_eq!(suggestion("db_pth", GLOBAL_FIELDS), Some("db_path"));
    assert_eq!(suggestion("xyz", GLOBAL_FIELDS), None);
    assert_eq!(suggestion("name", PROCESS_FIELDS), None);
}

#[test]
fn bad_process_keys() {
    let found = problems(with_processes(json!({
        "": service("empty"),
        "my api": service("space"),
        "a/b": service("slash"),
    })));
    assert_eq!(
        found,
        [
            r#"processes."": process key must not be empty"#,
            r#"processes."a/b": process key must not contain whitespace or "/""#,
            r#"processes."my api": process key must not contain whitespace or "/""#,
        ]
    );
}

#[test]
fn shared_heartbeat_path_is_a_problem() {
    let mut a = service("a");
    a["heartbeat_path"] = json!("hb/x.json");
    let mut b = service("b");
    b["heartbeat_path"] = json!("./hb/../hb/x.json");
    b["enabled"] = json!(false);
    let found = problems(with_processes(json!({ "a": a, "b": b })));
    assert_eq!(
        found,
        [
            "processes.b.heartbeat_path: same file as processes.a.heartbeat_path (/srv/watchdog/./hb/../hb/x.json)"
        ]
    );
}

#[test]
fn kill_command_is_ignored_with_a_warning() {
    let mut a = service("a");
    a["commands"]["kill"] = json!("pkill thing");
    let loaded = ok(with_processes(json!({ "a": a })));
    assert_eq!(
        loaded.warnings,
        ["processes.a.commands.kill: ignored; kill is built in (SIGTERM, then SIGKILL)"]
    );
    assert!(!loaded.config.processes["a"].commands.contains_key("kill"));
}

#[test]
fn disabled_actions_filter_and_warn_when_not_listed() {
    let mut a = service("a");
    a["commands"]["clear_db"] = json!("/c.sh");
    a["recovery_actions"] = json!(["kill", "clear_db", "start"]);
    a["disabled_actions"] = json!(["clear_db", "notify"]);
    let loaded = ok(with_processes(json!({ "a": a })));
    assert_eq!(
        loaded.warnings,
        [
            r#"processes.a.disabled_actions: "notify" is not in recovery_actions, so disabling it changes nothing"#
        ]
    );
    let p = &loaded.config.processes["a"];
    assert_eq!(p.effective_actions().collect::<Vec<_>>(), ["kill", "start"]);
}

#[test]
fn empty_recovery_actions_warn() {
    let mut a = service("a");
    a["recovery_actions"] = json!([]);
    let loaded = ok(with_processes(json!({ "a": a })));
    assert_eq!(
        loaded.warnings,
        ["processes.a.recovery_actions: empty, so recovery does nothing"]
    );
}

#[test]
fn unreadable_commands_is_reported_once() {
    let mut a = service("a");
    a["commands"] = json!("start.sh");
    a["recovery_actions"] = json!(["kill", "clear_db", "start"]);
    assert_eq!(
        problems(with_processes(json!({ "a": a }))),
        [
            r#"processes.a.commands: must be an object of action name → command, found string "start.sh""#
        ]
    );
}

#[test]
fn long_values_are_shortened_in_messages() {
    let mut a = service("a");
    a["enabled"] = json!("y".repeat(200));
    let found = problems(with_processes(json!({ "a": a })));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].ends_with(&format!("found string \"{}…\"", "y".repeat(59))),
        "{found:?}"
    );
}
