//! docs/json.md is the `--json` contract: its field tables are read here and checked against
//! what the real watchdogctl prints for a real daemon, both ways. Every documented field is
//! present (a `null` parent leaves its sub-fields undecided, but each must be seen at least
//! once), and no field is printed that the page does not document.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use watchdog_tests::{Follower, wait_until};

use super::repo;
use crate::sandbox;

const T: Duration = Duration::from_secs(30);

/// One documented shape: the fields of its table, plus those of the shape it extends.
#[derive(Debug, Default)]
struct Shape {
    extends: Option<String>,
    fields: Vec<String>,
}

/// The shapes of docs/json.md: a `<!-- shape: NAME [extends BASE] -->` marker starts one, and
/// the first cells of the table rows that follow (up to the next `## ` heading) name its fields.
fn documented() -> BTreeMap<String, Shape> {
    let text = std::fs::read_to_string(repo().join("docs/json.md")).expect("docs/json.md");
    let mut shapes = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(marker) = line
            .trim()
            .strip_prefix("<!-- shape:")
            .and_then(|m| m.strip_suffix("-->"))
        {
            let words: Vec<&str> = marker.split_whitespace().collect();
            let (name, extends) = match words.as_slice() {
                [name] => (*name, None),
                [name, "extends", base] => (*name, Some(base.to_string())),
                _ => panic!("docs/json.md: a shape marker I cannot read: {line}"),
            };
            let shape = Shape {
                extends,
                fields: Vec::new(),
            };
            assert!(
                shapes.insert(name.to_owned(), shape).is_none(),
                "docs/json.md: shape {name} twice"
            );
            current = Some(name.to_owned());
        } else if line.starts_with("## ") {
            current = None;
        } else if let (Some(name), Some(cell)) = (&current, line.strip_prefix("| `")) {
            let field = cell.split('`').next().expect("a field name");
            let shape = shapes.get_mut(name).expect("the current shape");
            shape.fields.push(field.to_owned());
        }
    }
    shapes
}

/// Every field of `name`, its base's included.
fn fields_of(shapes: &BTreeMap<String, Shape>, name: &str) -> BTreeSet<String> {
    let shape = &shapes[name];
    let mut out: BTreeSet<String> = shape.fields.iter().cloned().collect();
    if let Some(base) = &shape.extends {
        out.extend(fields_of(shapes, base));
    }
    out
}

/// Whether a documented path is in a sample.
#[derive(Debug, PartialEq)]
enum Seen {
    Present,
    Missing,
    /// A parent on the way is `null`, or an array on the way is empty.
    Undecided,
}

/// Looks up `steps[].action`, `last_recovery.trigger`, `key` in `value`.
fn seen(value: &Value, path: &str) -> Seen {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    let (key, each) = match head.strip_suffix("[]") {
        Some(key) => (key, true),
        None => (head, false),
    };
    let Some(inner) = value.as_object().and_then(|o| o.get(key)) else {
        return Seen::Missing;
    };
    let Some(rest) = rest else {
        return Seen::Present;
    };
    if inner.is_null() {
        return Seen::Undecided;
    }
    if !each {
        return seen(inner, rest);
    }
    let Some(items) = inner.as_array() else {
        return Seen::Missing;
    };
    let all: Vec<Seen> = items.iter().map(|i| seen(i, rest)).collect();
    if all.contains(&Seen::Missing) {
        Seen::Missing
    } else if all.contains(&Seen::Present) {
        Seen::Present
    } else {
        Seen::Undecided
    }
}

/// The fields of `value` (under `prefix`) that `documented` does not name, descending into the
/// nested objects and arrays whose sub-fields it documents.
fn undocumented(value: &Value, prefix: &str, documented: &BTreeSet<String>, out: &mut Vec<String>) {
    let Some(object) = value.as_object() else {
        return;
    };
    for (key, inner) in object {
        let path = format!("{prefix}{key}");
        if !documented.contains(&path) {
            out.push(path);
            continue;
        }
        let below = |sep: &str| {
            documented
                .iter()
                .any(|d| d.starts_with(&format!("{path}{sep}")))
        };
        if below(".") {
            undocumented(inner, &format!("{path}."), documented, out);
        }
        if below("[].") {
            for item in inner.as_array().into_iter().flatten() {
                undocumented(item, &format!("{path}[]."), documented, out);
            }
        }
    }
}

/// The JSON watchdogctl printed (exit 0 insisted on).
fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// Each element of a JSON array.
fn each(value: &Value) -> Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array: {value}"))
        .clone()
}

#[test]
fn every_documented_json_field_is_printed_and_nothing_else() {
    let shapes = documented();
    let sb = sandbox();
    let mut api = sb.service("api", "");
    api["commands"]["clear"] = json!("echo cleared");
    api["recovery_actions"] = json!(["kill", "clear", "start"]);
    sb.write_config(&sb.config(json!({ "api": api })));
    let _d = sb.start_daemon();
    let mut samples: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    let mut add = |shape: &'static str, values: Vec<Value>| {
        samples.entry(shape).or_default().extend(values);
    };

    add(
        "action",
        vec![json_of(&sb.ctl_ok(&["on", "api", "--json"]))],
    );
    let first = sb.wait_settled("api", None, T);

    // A live follower, and the events of one restart while it listens (it only sees what
    // happens after it has subscribed: poke the daemon until it has).
    let mut follower = Follower::start(&sb.socket());
    let mut early = Vec::new();
    wait_until("the follower to see an event", T, || {
        sb.ctl_ok(&["run", "api", "clear"]);
        early.extend(follower.drain());
        !early.is_empty()
    });
    add("event", early.iter().map(|l| json_of(l)).collect());
    let restart = json_of(&sb.ctl_ok(&["restart", "api", "--json"]));
    let events = follower.until(Instant::now() + T, |e| {
        e["kind"] == "pipeline_finished"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("restart"))
    });
    add("event", events.expect("the restart's pipeline_finished"));
    add("action", vec![restart]);
    drop(follower);
    let second = sb.wait_settled("api", Some(first), T);

    let waited = json_of(&sb.ctl_ok(&["restart", "api", "--wait", "--timeout", "20", "--json"]));
    add("restart-wait", vec![waited.clone()]);
    add("action", vec![waited["restart"].clone()]);
    add("wait", vec![waited["wait"].clone()]);
    add("service", vec![waited["wait"]["service"].clone()]);
    sb.wait_settled("api", Some(second), T);

    let wait = json_of(&sb.ctl_ok(&["wait", "api", "--json"]));
    add("service", vec![wait["service"].clone()]);
    add("wait", vec![wait]);
    add("service", each(&json_of(&sb.ctl_ok(&["status", "--json"]))));
    add(
        "service",
        each(&json_of(&sb.ctl_ok(&["status", "api", "--json"]))),
    );
    let check = json_of(&sb.ctl_ok(&["check", "--json"]));
    add("service", each(&check["services"]));
    add("action", each(&check["recoveries"]));
    add("check", vec![check]);

    add(
        "action",
        each(&json_of(&sb.ctl_ok(&["run", "api", "clear", "--json"]))),
    );
    add(
        "action",
        each(&json_of(&sb.ctl_ok(&["run", "--all", "clear", "--json"]))),
    );
    add(
        "action",
        each(&json_of(&sb.ctl_ok(&["start-all", "--json"]))),
    );
    add(
        "action",
        each(&json_of(&sb.ctl_ok(&["restart-all", "--json"]))),
    );
    sb.wait_settled("api", None, T);

    for args in [
        &["actions", "api", "--json"][..],
        &["actions", "api", "--disable", "clear", "--json"],
        &["actions", "api", "--enable", "clear", "--json"],
    ] {
        add("action-state", each(&json_of(&sb.ctl_ok(args))));
    }
    add(
        "service",
        each(&json_of(&sb.ctl_ok(&["disable", "api", "--json"]))),
    );
    add(
        "service",
        each(&json_of(&sb.ctl_ok(&["enable", "api", "--json"]))),
    );
    add("reload", vec![json_of(&sb.ctl_ok(&["reload", "--json"]))]);
    add("version", vec![json_of(&sb.ctl_ok(&["version", "--json"]))]);
    add(
        "version",
        vec![json_of(&sb.ctl_ok(&["--version", "--json"]))],
    );

    let window = json_of(&sb.ctl_ok(&["off", "api", "--for", "10m", "--json"]));
    add("off-for", vec![window]);
    add("service", each(&json_of(&sb.ctl_ok(&["status", "--json"]))));
    add(
        "action",
        vec![json_of(&sb.ctl_ok(&["off", "api", "--json"]))],
    );

    // The audit log is written in batches behind the supervisor: wait until it holds a check,
    // a finished recovery with steps, and an event.
    let mut history = Vec::new();
    wait_until("checks, recoveries and events in the history", T, || {
        history = each(&json_of(
            &sb.ctl_ok(&["history", "--json", "--limit", "500"]),
        ));
        ["check", "recovery", "event"].iter().all(|kind| {
            history.iter().any(|e| {
                e["kind"] == *kind
                    && (*kind != "recovery"
                        || e["finished"].is_string()
                            && e["steps"].as_array().is_some_and(|s| !s.is_empty()))
            })
        })
    });
    add("history-entry", history);
    add(
        "history-entry",
        each(&json_of(&sb.ctl_ok(&["history", "api", "--json"]))),
    );
    add(
        "history-entry",
        each(&json_of(&sb.ctl_ok(&["events", "--json"]))),
    );

    let beat_file = sb.path().join("beat/job.json");
    let beat = sb.ctl_ok(&[
        "beat",
        "--file",
        beat_file.to_str().unwrap(),
        "--key",
        "job",
        "--json",
    ]);
    add("beat", vec![json_of(&beat)]);

    let documented_names: BTreeSet<&str> = shapes.keys().map(String::as_str).collect();
    let sampled: BTreeSet<&str> = samples.keys().copied().collect();
    assert_eq!(
        documented_names, sampled,
        "docs/json.md's shapes and the shapes this test exercises differ: a new shape needs a \
         section with a `<!-- shape: NAME -->` marker there and samples here"
    );
    let mut problems = Vec::new();
    for (name, values) in &samples {
        let fields = fields_of(&shapes, name);
        assert!(!values.is_empty(), "no samples of {name}");
        for field in &fields {
            let seen: Vec<Seen> = values.iter().map(|v| seen(v, field)).collect();
            if let Some(i) = seen.iter().position(|s| *s == Seen::Missing) {
                problems.push(format!(
                    "{name}: documented field {field} missing from {}",
                    values[i]
                ));
            } else if !seen.contains(&Seen::Present) {
                problems.push(format!("{name}: documented field {field} never seen (always under a null or empty parent)"));
            }
        }
        let mut extra: BTreeMap<String, &Value> = BTreeMap::new();
        for value in values {
            let mut found = Vec::new();
            undocumented(value, "", &fields, &mut found);
            for field in found {
                extra.entry(field).or_insert(value);
            }
        }
        for (field, value) in extra {
            problems.push(format!(
                "{name}: field {field} is printed but not documented in docs/json.md: {value}"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "the --json contract is broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_contract_reader_sees_paths_as_documented() {
    let v = json!({"a": 1, "r": null, "o": {"x": 1}, "s": [{"y": 1}], "e": []});
    assert_eq!(seen(&v, "a"), Seen::Present);
    assert_eq!(seen(&v, "b"), Seen::Missing);
    assert_eq!(seen(&v, "r.x"), Seen::Undecided);
    assert_eq!(seen(&v, "o.x"), Seen::Present);
    assert_eq!(seen(&v, "o.z"), Seen::Missing);
    assert_eq!(seen(&v, "s[].y"), Seen::Present);
    assert_eq!(seen(&v, "s[].z"), Seen::Missing);
    assert_eq!(seen(&v, "e[].y"), Seen::Undecided);
    let known: BTreeSet<String> = ["a", "o", "o.x", "s", "s[].y", "r", "e"]
        .into_iter()
        .map(String::from)
        .collect();
    let mut extra = Vec::new();
    let printed = json!({"a": 1, "o": {"x": 1, "w": 2}, "s": [{"y": 1, "z": 2}], "q": 0});
    undocumented(&printed, "", &known, &mut extra);
    extra.sort();
    assert_eq!(extra, vec!["o.w", "q", "s[].z"]);
    let shapes = documented();
    assert!(shapes.contains_key("service"), "{shapes:?}");
    assert!(fields_of(&shapes, "off-for").contains("steps[].action"));
}
