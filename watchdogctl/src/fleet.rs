//! What a query over several hosts prints: one table with a `HOST` column, one JSON array with
//! a `host` field, a footer naming the hosts that gave no answer, and the worst exit.
//!
//! Pure functions from per-host replies to text, like `output`, so the merge is tested without
//! ssh. Hosts keep the order they were given in; history entries are merged into one timeline,
//! newest first, because "what happened across the fleet" is read by time.

use protocol::{HistoryEntry, ServiceStatus};
use serde_json::{Value, json};

use crate::exit::Exit;
use crate::table::{self, Cell, Paint, Row, cell, clean};
use crate::{audit, json as shapes, output};

/// One host's part of a merged query.
#[derive(Debug, Clone)]
pub struct HostReply<T> {
    /// The host as the user wrote it.
    pub host: String,
    /// How this host alone would have ended the command.
    pub exit: Exit,
    /// What it answered, or the message of why it did not.
    pub reply: Result<T, String>,
}

/// The worst exit over all hosts (see [`Exit::worst`]).
pub fn exit<T>(replies: &[HostReply<T>]) -> Exit {
    Exit::worst(replies.iter().map(|r| r.exit))
}

fn with_host(host: &str, row: Row) -> Row {
    let mut cells: Vec<Cell> = vec![cell(host, Paint::Plain)];
    cells.extend(row.cells);
    Row {
        cells,
        beneath: row.beneath,
    }
}

fn headers<const N: usize>(rest: [&'static str; N]) -> Vec<&'static str> {
    std::iter::once("HOST").chain(rest).collect()
}

/// The status table of every host that answered, host by host, then the footer.
pub fn status_table(replies: &[HostReply<Vec<ServiceStatus>>], now_ms: i64, color: bool) -> String {
    let rows: Vec<Row> = replies
        .iter()
        .filter_map(|r| Some((r.host.as_str(), r.reply.as_ref().ok()?)))
        .flat_map(|(host, services)| {
            services
                .iter()
                .map(move |s| with_host(host, output::row(s, now_ms)))
        })
        .collect();
    table::render(&headers(output::HEADERS), &rows, color) + &footer(replies)
}

/// `[{host, ...service}]`, then `{host, error, exit}` for each host that gave no answer.
pub fn status_json(replies: &[HostReply<Vec<ServiceStatus>>]) -> Value {
    merged_json(replies, |services| {
        services.iter().map(shapes::service).collect()
    })
}

/// Every host's history in one timeline, newest first (a stable sort: one host's entries keep
/// their order), then the footer.
pub fn history_table(replies: &[HostReply<Vec<HistoryEntry>>], color: bool) -> String {
    let mut entries: Vec<(&str, &HistoryEntry)> = replies
        .iter()
        .filter_map(|r| Some((r.host.as_str(), r.reply.as_ref().ok()?)))
        .flat_map(|(host, list)| list.iter().map(move |e| (host, e)))
        .collect();
    entries.sort_by_key(|(_, e)| std::cmp::Reverse(e.at_ms));
    let rows: Vec<Row> = entries
        .into_iter()
        .map(|(host, e)| with_host(host, audit::row(e)))
        .collect();
    table::render(&headers(audit::HEADERS), &rows, color) + &footer(replies)
}

/// Like [`status_json`], for history entries (newest first per host, hosts in order).
pub fn history_json(replies: &[HostReply<Vec<HistoryEntry>>]) -> Value {
    merged_json(replies, |entries| {
        entries.iter().map(audit::entry_json).collect()
    })
}

fn merged_json<T>(replies: &[HostReply<T>], objects: impl Fn(&T) -> Vec<Value>) -> Value {
    let mut out = Vec::new();
    for r in replies {
        match &r.reply {
            Ok(reply) => out.extend(objects(reply).into_iter().map(|mut v| {
                v["host"] = json!(r.host);
                v
            })),
            Err(message) => out.push(json!({
                "host": r.host,
                "error": message,
                "exit": r.exit.code(),
            })),
        }
    }
    Value::Array(out)
}

/// `\nno answer from 1 of 3 hosts:\n  web3: <why> (exit 3)\n`, or nothing when all answered.
pub fn footer<T>(replies: &[HostReply<T>]) -> String {
    let failed: Vec<&HostReply<T>> = replies.iter().filter(|r| r.reply.is_err()).collect();
    if failed.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\nno answer from {} of {} hosts:\n",
        failed.len(),
        replies.len()
    );
    for r in failed {
        let why = r.reply.as_ref().err().map_or("", String::as_str);
        out.push_str(&format!(
            "  {}: {} (exit {})\n",
            clean(&r.host),
            clean(why),
            r.exit.code()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Health, HistoryKind, ServiceState};

    const NOW: i64 = 1_770_272_249_601;

    fn service(key: &str, pid: u32) -> ServiceStatus {
        ServiceStatus {
            key: key.into(),
            display_name: key.to_uppercase(),
            enabled: true,
            state: ServiceState::Running,
            health: Some(Health::Healthy),
            pid: Some(pid),
            heartbeat_age_ms: Some(1000),
            consecutive_failures: 0,
            last_check_ms: Some(NOW),
            last_recovery: None,
            detail: String::new(),
            clock_skew_ms: None,
            restarts_in_window: 0,
            next_attempt_ms: None,
            off_until_ms: None,
            monitoring_override: None,
            actions_disabled: Vec::new(),
            status_text: None,
        }
    }

    fn entry(key: &str, at_ms: i64) -> HistoryEntry {
        HistoryEntry {
            kind: HistoryKind::Event,
            key: key.into(),
            at_ms,
            health: None,
            pid: None,
            failures: None,
            trigger: None,
            outcome: "reloaded".into(),
            finished_ms: None,
            steps: Vec::new(),
            message: String::new(),
        }
    }

    fn ok<T>(host: &str, reply: T) -> HostReply<T> {
        HostReply {
            host: host.into(),
            exit: Exit::Success,
            reply: Ok(reply),
        }
    }

    fn failed<T>(host: &str, exit: Exit, why: &str) -> HostReply<T> {
        HostReply {
            host: host.into(),
            exit,
            reply: Err(why.into()),
        }
    }

    #[test]
    fn status_rows_carry_their_host_and_failures_go_to_the_footer() {
        let replies = vec![
            ok("web1", vec![service("api", 10), service("worker", 11)]),
            failed(
                "web3",
                Exit::Unreachable,
                "ssh could not connect to web3: refused",
            ),
            ok("web2", vec![service("api", 20)]),
        ];
        let text = status_table(&replies, NOW, false);
        let expected = "\
HOST  KEY     NAME    STATE    HEALTH   PID  AGE  FAILURES  LAST RECOVERY
web1  api     API     running  healthy  10   1s   0         -
web1  worker  WORKER  running  healthy  11   1s   0         -
web2  api     API     running  healthy  20   1s   0         -

no answer from 1 of 3 hosts:
  web3: ssh could not connect to web3: refused (exit 3)
";
        assert_eq!(text, expected);
        assert_eq!(exit(&replies), Exit::Unreachable);
    }

    #[test]
    fn status_json_is_one_array_with_a_host_field() {
        let replies = vec![
            ok("a", vec![service("api", 1)]),
            failed("b", Exit::Usage, "no service named api"),
        ];
        let v = status_json(&replies);
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert_eq!(v[0]["host"], "a");
        assert_eq!(v[0]["key"], "api");
        assert_eq!(v[0]["pid"], 1);
        assert_eq!(
            v[1],
            json!({"host": "b", "error": "no service named api", "exit": 2})
        );
    }

    #[test]
    fn history_is_one_timeline_newest_first() {
        let replies = vec![
            ok("a", vec![entry("x", NOW - 1000), entry("y", NOW - 5000)]),
            ok("b", vec![entry("z", NOW - 2000)]),
        ];
        let text = history_table(&replies, false);
        let keys: Vec<&str> = text
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().nth(2).unwrap())
            .collect();
        assert_eq!(keys, ["x", "z", "y"]);
        assert!(text.starts_with("HOST  TIME"), "{text}");
        assert!(!text.contains("no answer"));
        let v = history_json(&replies);
        assert_eq!(v[2]["host"], "b");
        assert_eq!(v[2]["key"], "z");
    }

    #[test]
    fn all_failing_still_prints_the_header_and_every_reason() {
        let replies: Vec<HostReply<Vec<ServiceStatus>>> = vec![
            failed("a", Exit::Unreachable, "down"),
            failed("b\x1b[2J", Exit::Usage, "bad\nline"),
        ];
        let text = status_table(&replies, NOW, false);
        assert!(text.starts_with("HOST  KEY"));
        assert!(text.contains("no answer from 2 of 2 hosts:\n  a: down (exit 3)\n"));
        assert!(text.contains("  b\\u{1b}[2J: bad\\nline (exit 2)\n"));
        assert_eq!(footer(&[ok("a", ())]), "");
    }
}
