//! Commands over `--hosts`: `status`, `check` and `history` fan out in parallel and merge into
//! one table or JSON array; `restart --rolling` goes host by host (see `rolling`).
//!
//! Other commands are refused with a usage error rather than run on every host: an `off` or
//! `stop-all` across a fleet at once is the kind of accident a rolling restart exists to avoid,
//! and a merged `events --follow` would need a design of its own. `-H HOST` runs any of them on
//! one host.

use std::time::Duration;

use protocol::time::now_millis;
use protocol::{Request, ServiceStatus};

use super::context::{Context, usage, write_stdout};
use super::rolling;
use super::service::{check_verdict, health_exit};
use crate::cli::{Cli, Command};
use crate::exit::{Exit, Failure};
use crate::fleet::{self, HostReply};
use crate::remote::fanout::{DEFAULT_PARALLEL, map_bounded};
use crate::remote::ssh::SshTarget;
use crate::{json, output};

/// Runs `command` on every host of `targets`.
pub(super) fn run(cli: &Cli, command: &Command, targets: &[SshTarget]) -> Result<Exit, Failure> {
    match command {
        Command::Status { key } => services(
            cli,
            targets,
            Request::Status { key: key.clone() },
            key.as_deref(),
        ),
        Command::Check => services(cli, targets, Request::Check, None),
        Command::History { key, limit, since } => {
            history(cli, targets, key.as_deref(), *limit, *since)
        }
        Command::Restart {
            key,
            wait,
            timeout,
            rolling: true,
        } => rolling::run(cli, targets, key, *wait, *timeout),
        Command::Restart { .. } => Err(usage(
            "restart on several hosts needs --rolling: one host (or --max-parallel hosts) at a \
             time, stopping at the first failure",
        )),
        other => Err(usage(format!(
            "{} works on one host at a time: use -H HOST (--hosts takes status, check, history \
             and restart --rolling)",
            other.name()
        ))),
    }
}

/// Hosts queried at once.
fn parallel(cli: &Cli) -> usize {
    cli.max_parallel.map_or(DEFAULT_PARALLEL, |n| n as usize)
}

/// A host's failure as a merged reply.
pub(super) fn failed<T>(host: &str, failure: Failure) -> HostReply<T> {
    let (exit, message) = match failure {
        Failure::Report { exit, message } => (exit, message),
        // Fetching prints nothing, so stdout cannot have closed under it.
        Failure::StdoutClosed => (Exit::Success, String::new()),
    };
    HostReply {
        host: host.to_owned(),
        exit,
        reply: Err(message),
    }
}

/// `status [KEY]` and `check`: the status table of every host. With KEY, each host's exit is
/// that service's health, as `status KEY` exits locally.
fn services(
    cli: &Cli,
    targets: &[SshTarget],
    request: Request,
    key: Option<&str>,
) -> Result<Exit, Failure> {
    let replies = map_bounded(targets, parallel(cli), |target| {
        let ctx = Context::remote(cli, target.clone());
        let host = &target.label;
        if request == Request::Check {
            // Each host's exit is its check's, as `check` exits locally.
            return match ctx.check_report() {
                Ok(report) => HostReply {
                    host: host.clone(),
                    exit: check_verdict(&report).map_or(Exit::Success, |_| Exit::Failed),
                    reply: Ok(report.status.services),
                },
                Err(f) => failed(host, f),
            };
        }
        let reply = match ctx.status_reply(request.clone()) {
            Ok(reply) => reply,
            Err(f) => return failed(host, f),
        };
        let Some(key) = key else {
            return HostReply {
                host: host.clone(),
                exit: Exit::Success,
                reply: Ok(reply.services),
            };
        };
        let services: Vec<ServiceStatus> = reply
            .services
            .into_iter()
            .filter(|s| s.key == key)
            .collect();
        match services.first() {
            Some(service) => HostReply {
                host: host.clone(),
                exit: health_exit(service),
                reply: Ok(services),
            },
            None => failed(
                host,
                Failure::new(
                    Exit::Unreachable,
                    format!(
                        "watchdogd at {host} sent no status for {key} (is it another version?)"
                    ),
                ),
            ),
        }
    });
    let text = if cli.json {
        json::line(&fleet::status_json(&replies))
    } else {
        fleet::status_table(&replies, now_millis(), color(cli))
    };
    write_stdout(text.as_bytes())?;
    Ok(fleet::exit(&replies))
}

/// `history`: every host's audit log in one timeline.
fn history(
    cli: &Cli,
    targets: &[SshTarget],
    key: Option<&str>,
    limit: u32,
    since: Option<Duration>,
) -> Result<Exit, Failure> {
    let replies = map_bounded(targets, parallel(cli), |target| {
        let ctx = Context::remote(cli, target.clone());
        match ctx.history_entries(key, limit, since) {
            Ok(entries) => HostReply {
                host: target.label.clone(),
                exit: Exit::Success,
                reply: Ok(entries),
            },
            Err(f) => failed(&target.label, f),
        }
    });
    let text = if cli.json {
        json::line(&fleet::history_json(&replies))
    } else {
        fleet::history_table(&replies, color(cli))
    };
    write_stdout(text.as_bytes())?;
    Ok(fleet::exit(&replies))
}

fn color(cli: &Cli) -> bool {
    !cli.json && output::use_color()
}
