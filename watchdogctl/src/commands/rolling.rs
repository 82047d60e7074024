//! `restart KEY --hosts … --rolling [--wait] [--max-parallel N]`: a deploy across a fleet.
//!
//! Hosts are restarted in the order given, in batches of N (default 1): a batch runs at once,
//! and the next starts only when every host of this one succeeded (with `--wait`: is healthy
//! again with a new process). The first batch with a failure is the last: the remaining hosts
//! are left untouched, so a bad release takes down at most one batch. The report says which
//! hosts were done, which failed (each with its reason and its own exit code in `--json`) and
//! which were not touched. The exit is 0 when every host was done, else 1, whatever the failed
//! hosts' reasons: "the roll stopped" is the one fact a deploy script branches on, and the
//! reasons differ only in what a human does next, which the report says.
//!
//! With `--wait`, `--timeout` is each host's whole budget: the restart call (over ssh,
//! connecting included) and the wait. A host that does not answer becomes a failed host within
//! it; without `--wait`, ssh's own timeouts and the remote call limit bound the call.
//!
//! The loop is I/O; what it prints is built by the pure functions at the end of this file.

use std::time::Instant;

use protocol::{ActionReport, Request, WaitReply, WaitRequest};
use serde_json::{Value, json};

use super::context::{Context, note, write_stdout};
use super::service::{action_failure, secs_to_ms, wait_result};
use crate::cli::Cli;
use crate::exit::{Exit, Failure};
use crate::json as shapes;
use crate::output;
use crate::remote::fanout::map_bounded;
use crate::remote::ssh::SshTarget;
use crate::table::clean;

/// What became of one host.
#[derive(Debug, Clone)]
pub struct HostRestart {
    pub host: String,
    /// The restart's report, if the daemon ran it.
    pub report: Option<ActionReport>,
    /// The wait's reply, with `--wait`, if it ran.
    pub wait: Option<WaitReply>,
    /// Why this host counts as failed.
    pub failure: Option<(Exit, String)>,
}

/// Where the roll got to.
#[derive(Debug, Default)]
pub struct Roll {
    pub done: Vec<HostRestart>,
    pub failed: Vec<HostRestart>,
    pub untouched: Vec<String>,
}

pub(super) fn run(
    cli: &Cli,
    targets: &[SshTarget],
    key: &str,
    wait: bool,
    timeout_secs: u64,
) -> Result<Exit, Failure> {
    let batch = cli.max_parallel.map_or(1, |n| n as usize);
    let mut roll = Roll::default();
    let mut batches = targets.chunks(batch);
    for hosts in batches.by_ref() {
        let names: Vec<&str> = hosts.iter().map(|t| t.label.as_str()).collect();
        note(
            cli.verbose > 0,
            &format!("restarting {key} on {}", names.join(", ")),
        );
        let outcomes = map_bounded(hosts, batch, |target| {
            restart_one(
                Context::remote(cli, target.clone()),
                target,
                key,
                wait,
                timeout_secs,
            )
        });
        for outcome in outcomes {
            if !cli.json {
                write_stdout(progress(&outcome).as_bytes())?;
            }
            match outcome.failure {
                None => roll.done.push(outcome),
                Some(_) => roll.failed.push(outcome),
            }
        }
        if !roll.failed.is_empty() {
            break;
        }
    }
    roll.untouched = batches.flatten().map(|t| t.label.clone()).collect();
    let text = if cli.json {
        shapes::line(&roll_json(key, &roll))
    } else {
        summary(key, &roll)
    };
    write_stdout(text.as_bytes())?;
    match roll.failed.first() {
        None => Ok(Exit::Success),
        Some(first) => Err(Failure::new(
            Exit::Failed,
            format!(
                "rolling restart of {key} stopped at {}: {}",
                first.host,
                first.failure.as_ref().map_or("", |f| f.1.as_str())
            ),
        )),
    }
}

/// Restarts `key` on one host, then with `wait` waits for a process other than the replaced
/// one to be healthy, the restart and the wait within one budget, as locally.
fn restart_one(
    ctx: Context,
    target: &SshTarget,
    key: &str,
    wait: bool,
    timeout_secs: u64,
) -> HostRestart {
    let mut out = HostRestart {
        host: target.label.clone(),
        report: None,
        wait: None,
        failure: None,
    };
    let fail = |mut out: HostRestart, f: Failure| {
        out.failure = Some(match f {
            Failure::Report { exit, message } => (exit, message),
            Failure::StdoutClosed => (Exit::Success, String::new()),
        });
        out
    };
    let started = Instant::now();
    let reply = if wait {
        ctx.restart_within(key, timeout_secs)
    } else {
        ctx.action_reply(&Request::Restart {
            key: key.to_owned(),
        })
    };
    let report = match reply {
        Ok(report) => report,
        Err(f) => return fail(out, f),
    };
    let failed = action_failure("restart", &report);
    let old_pid = report.old_pid;
    out.report = Some(report);
    if let Some(f) = failed {
        return fail(out, f);
    }
    if !wait {
        return out;
    }
    let spent = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let reply = match ctx.wait_reply(WaitRequest {
        key: key.to_owned(),
        timeout_ms: secs_to_ms(timeout_secs).saturating_sub(spent),
        not_pid: old_pid,
    }) {
        Ok(reply) => reply,
        Err(f) => return fail(out, f),
    };
    let result = wait_result(key, timeout_secs, &reply);
    out.wait = Some(reply);
    match result {
        Ok(_) => out,
        Err(f) => fail(out, f),
    }
}

/// A host's lines as it finishes: the restart report, the wait's result or why it failed,
/// each line prefixed with the host.
pub fn progress(h: &HostRestart) -> String {
    let mut text = String::new();
    if let Some(report) = &h.report {
        text.push_str(&output::action(report));
    }
    if let Some(wait) = h.wait.as_ref().filter(|_| h.failure.is_none()) {
        text.push_str(&output::healthy(&wait.status));
    }
    if let Some((_, why)) = &h.failure {
        text.push_str(&format!("failed: {}\n", clean(why)));
    }
    let host = clean(&h.host);
    text.lines().map(|l| format!("{host}: {l}\n")).collect()
}

/// The closing report: counts, then the hosts of each non-empty group.
pub fn summary(key: &str, roll: &Roll) -> String {
    let mut out = format!(
        "rolling restart of {key}: {} done, {} failed, {} not touched\n",
        roll.done.len(),
        roll.failed.len(),
        roll.untouched.len()
    );
    let hosts = |list: &[HostRestart]| {
        list.iter()
            .map(|h| clean(&h.host))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !roll.done.is_empty() {
        out.push_str(&format!("  done:        {}\n", hosts(&roll.done)));
    }
    if !roll.failed.is_empty() {
        out.push_str(&format!("  failed:      {}\n", hosts(&roll.failed)));
    }
    if !roll.untouched.is_empty() {
        let names: Vec<String> = roll.untouched.iter().map(|h| clean(h)).collect();
        out.push_str(&format!("  not touched: {}\n", names.join(", ")));
    }
    out
}

/// `{key, done: [host], failed: [host], untouched: [host], hosts: [{host, exit, error,
/// restart, wait}]}` with `restart` an action object and `wait` a wait object (or null).
pub fn roll_json(key: &str, roll: &Roll) -> Value {
    let names = |list: &[HostRestart]| list.iter().map(|h| h.host.clone()).collect::<Vec<_>>();
    let hosts: Vec<Value> = roll
        .done
        .iter()
        .chain(&roll.failed)
        .map(|h| {
            json!({
                "host": h.host,
                "exit": h.failure.as_ref().map_or(0, |f| f.0.code()),
                "error": h.failure.as_ref().map(|f| f.1.clone()),
                "restart": h.report.as_ref().map(shapes::action),
                "wait": h.wait.as_ref().map(shapes::wait),
            })
        })
        .collect();
    json!({
        "key": key,
        "done": names(&roll.done),
        "failed": names(&roll.failed),
        "untouched": roll.untouched,
        "hosts": hosts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{PipelineResult, StepOutcome, StepReport};

    fn report(result: PipelineResult, message: &str) -> ActionReport {
        ActionReport {
            key: "api".into(),
            result,
            message: message.into(),
            steps: vec![StepReport {
                action: "kill".into(),
                outcome: StepOutcome::Ok,
                message: "SIGTERM".into(),
                duration_ms: 3,
            }],
            old_pid: Some(7),
        }
    }

    fn host(name: &str, failure: Option<(Exit, &str)>) -> HostRestart {
        HostRestart {
            host: name.into(),
            report: Some(report(
                if failure.is_some() {
                    PipelineResult::Failed
                } else {
                    PipelineResult::Succeeded
                },
                "restart done",
            )),
            wait: None,
            failure: failure.map(|(e, m)| (e, m.to_owned())),
        }
    }

    #[test]
    fn progress_prefixes_every_line_with_the_host() {
        let ok = host("web1", None);
        assert_eq!(
            progress(&ok),
            "web1: api: restart done\nweb1:   kill: ok (3 ms) SIGTERM\n"
        );
        let bad = host(
            "web2",
            Some((Exit::Failed, "restart api failed: start failed")),
        );
        assert!(progress(&bad).ends_with("web2: failed: restart api failed: start failed\n"));
        let gone = HostRestart {
            report: None,
            ..host(
                "web3",
                Some((Exit::Unreachable, "ssh could not connect to web3: refused")),
            )
        };
        assert_eq!(
            progress(&gone),
            "web3: failed: ssh could not connect to web3: refused\n"
        );
    }

    #[test]
    fn the_summary_lists_done_failed_and_untouched() {
        let roll = Roll {
            done: vec![host("web1", None)],
            failed: vec![host("web2", Some((Exit::Failed, "start failed")))],
            untouched: vec!["web3".into(), "web4".into()],
        };
        assert_eq!(
            summary("api", &roll),
            "rolling restart of api: 1 done, 1 failed, 2 not touched\n  done:        web1\n  failed:      web2\n  not touched: web3, web4\n"
        );
        let v = roll_json("api", &roll);
        assert_eq!(v["done"], json!(["web1"]));
        assert_eq!(v["failed"], json!(["web2"]));
        assert_eq!(v["untouched"], json!(["web3", "web4"]));
        assert_eq!(v["hosts"][1]["exit"], 1);
        assert_eq!(v["hosts"][1]["error"], "start failed");
        assert_eq!(v["hosts"][0]["error"], Value::Null);
        assert_eq!(v["hosts"][0]["restart"]["result"], "succeeded");
        let all = Roll {
            done: vec![host("a", None), host("b", None)],
            ..Roll::default()
        };
        assert_eq!(
            summary("api", &all),
            "rolling restart of api: 2 done, 0 failed, 0 not touched\n  done:        a, b\n"
        );
    }
}
