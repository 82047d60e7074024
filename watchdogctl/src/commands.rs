//! One function per subcommand: build the request, make the call, check the reply's variant,
//! print, and say how the process should end.
//!
//! Results go to stdout (text or `--json`), diagnostics to stderr. A command returns
//! `Ok(exit)` after printing its result, or a [`Failure`] whose message `main` prints; when
//! stdout is gone (`| head`) the command stops and the process exits 0.

use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use protocol::time::now_millis;
use protocol::{
    ActionReport, Health, PipelineResult, Request, Response, ServiceStatus, StatusReply,
    WaitOutcome, WaitReply, WaitRequest,
};

use crate::cli::{Cli, Command};
use crate::client::{Client, SocketInputs, resolve_socket};
use crate::exit::{Exit, Failure};
use crate::{json, output};

/// Extra time a wait reply may take beyond the wait itself before we give up on the daemon.
const WAIT_REPLY_MARGIN: Duration = Duration::from_secs(30);
/// A status reply comes from a snapshot; this long without one means the daemon is wedged.
const STATUS_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the parsed command line and returns how the process should end.
pub fn run(cli: &Cli) -> Result<Exit, Failure> {
    let (socket, source) = resolve_socket(SocketInputs::from_env(
        cli.socket.clone(),
        cli.config.clone(),
    ))?;
    let mut ctx = Context {
        client: Client::new(socket),
        json: cli.json,
        verbose: cli.verbose > 0,
        color: !cli.json && output::use_color(),
        stdout: io::stdout(),
    };
    ctx.note(&format!(
        "socket {} ({source})",
        ctx.client.socket().display()
    ));
    let verb = cli.command.name();
    match &cli.command {
        Command::Status { key } => ctx.status(key.as_deref()),
        Command::On { key } => ctx.action(Request::On { key: key.clone() }, verb),
        Command::Off { key } => ctx.action(Request::Off { key: key.clone() }, verb),
        Command::Restart {
            key,
            wait: false,
            timeout: _,
        } => ctx.action(Request::Restart { key: key.clone() }, verb),
        Command::Restart {
            key,
            wait: true,
            timeout,
        } => ctx.restart_and_wait(key, *timeout),
        Command::StartAll => ctx.bulk(Request::StartAll, verb),
        Command::StopAll => ctx.bulk(Request::StopAll, verb),
        Command::Check => ctx.check(),
        Command::Wait { key, timeout } => ctx.wait(key, *timeout),
        Command::Reload => ctx.reload(),
    }
}

/// What every command needs: the client, the output mode and stdout.
struct Context {
    client: Client,
    json: bool,
    verbose: bool,
    color: bool,
    stdout: io::Stdout,
}

fn secs_to_ms(secs: u64) -> u64 {
    secs.saturating_mul(1000)
}

impl Context {
    /// A `-v` diagnostic on stderr; a failing stderr is ignored (there is nowhere to report it).
    fn note(&self, message: &str) {
        if self.verbose {
            let _ = writeln!(io::stderr(), "watchdogctl: {message}");
        }
    }

    /// Writes a result to stdout; a closed pipe ends the command quietly with exit 0.
    fn emit(&mut self, text: &str) -> Result<(), Failure> {
        let mut out = self.stdout.lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Failure::StdoutClosed),
            Err(e) => Err(Failure::new(
                Exit::Usage,
                format!("cannot write to stdout: {e}"),
            )),
        }
    }

    /// One round trip, timed under `-v`.
    fn call(&self, request: &Request, timeout: Option<Duration>) -> Result<Response, Failure> {
        let started = Instant::now();
        let response = self.client.call(request, timeout)?;
        self.note(&format!(
            "reply in {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        ));
        Ok(response)
    }

    /// The failure for a reply of the wrong kind: a refusal, or a daemon that is not ours.
    fn refused(&self, response: Response) -> Failure {
        match response {
            Response::Error { kind, message } => Failure::new(Exit::for_error_kind(kind), message),
            other => unexpected(self.client.socket(), &other),
        }
    }

    fn status_reply(&self, request: Request) -> Result<StatusReply, Failure> {
        let timeout = matches!(request, Request::Status { .. }).then_some(STATUS_REPLY_TIMEOUT);
        match self.call(&request, timeout)? {
            Response::Status(reply) => {
                self.note(&format!(
                    "watchdogd {} (pid {})",
                    reply.daemon_version, reply.daemon_pid
                ));
                Ok(reply)
            }
            other => Err(self.refused(other)),
        }
    }

    fn status(&mut self, key: Option<&str>) -> Result<Exit, Failure> {
        let reply = self.status_reply(Request::Status {
            key: key.map(str::to_owned),
        })?;
        let Some(key) = key else {
            self.print_services(&reply.services, reply.audit_rows_dropped)?;
            return Ok(Exit::Success);
        };
        let Some(service) = reply.services.iter().find(|s| s.key == key) else {
            return Err(Failure::new(
                Exit::Unreachable,
                format!(
                    "watchdogd at {} sent no status for {key} (is it another version?)",
                    self.client.socket().display()
                ),
            ));
        };
        let text = if self.json {
            json::line(&json::services(std::slice::from_ref(service)))
        } else {
            output::status_one(service, now_millis(), self.color)
        };
        self.emit(&text)?;
        Ok(if service.health == Some(Health::Healthy) {
            Exit::Success
        } else {
            Exit::Failed
        })
    }

    fn reload(&mut self) -> Result<Exit, Failure> {
        match self.call(&Request::Reload, None)? {
            Response::Reload(report) => {
                let text = if self.json {
                    json::line(&json::reload(&report))
                } else {
                    output::reload(&report)
                };
                self.emit(&text)?;
                Ok(Exit::Success)
            }
            other => Err(self.refused(other)),
        }
    }

    fn check(&mut self) -> Result<Exit, Failure> {
        let reply = self.status_reply(Request::Check)?;
        self.print_services(&reply.services, reply.audit_rows_dropped)?;
        Ok(Exit::Success)
    }

    fn print_services(&mut self, services: &[ServiceStatus], dropped: u64) -> Result<(), Failure> {
        let text = if self.json {
            json::line(&json::services(services))
        } else {
            let mut text = output::status_table(services, now_millis(), self.color);
            if dropped > 0 {
                text.push_str(&format!(
                    "audit rows dropped: {dropped} (see the watchdogd log)\n"
                ));
            }
            text
        };
        self.emit(&text)
    }

    fn action_reply(&self, request: &Request) -> Result<ActionReport, Failure> {
        match self.call(request, None)? {
            Response::Action(report) => Ok(report),
            other => Err(self.refused(other)),
        }
    }

    fn print_action(&mut self, report: &ActionReport) -> Result<(), Failure> {
        let text = if self.json {
            json::line(&json::action(report))
        } else {
            output::action(report)
        };
        self.emit(&text)
    }

    fn action(&mut self, request: Request, verb: &str) -> Result<Exit, Failure> {
        let report = self.action_reply(&request)?;
        self.print_action(&report)?;
        action_failure(verb, &report).map_or(Ok(Exit::Success), Err)
    }

    fn bulk(&mut self, request: Request, verb: &str) -> Result<Exit, Failure> {
        let reports = match self.call(&request, None)? {
            Response::Bulk(reports) => reports,
            other => return Err(self.refused(other)),
        };
        let text = if self.json {
            json::line(&json::bulk(&reports))
        } else {
            output::bulk(&reports, self.verbose)
        };
        self.emit(&text)?;
        let failed = reports
            .iter()
            .filter(|r| r.result == PipelineResult::Failed)
            .count();
        if failed == 0 {
            return Ok(Exit::Success);
        }
        Err(Failure::new(
            Exit::Failed,
            format!("{verb}: {failed} of {} services failed", reports.len()),
        ))
    }

    fn wait_reply(&self, request: WaitRequest) -> Result<WaitReply, Failure> {
        let timeout = Duration::from_millis(request.timeout_ms) + WAIT_REPLY_MARGIN;
        match self.call(&request.into(), Some(timeout))? {
            Response::Wait(reply) => Ok(reply),
            other => Err(self.refused(other)),
        }
    }

    fn wait(&mut self, key: &str, timeout_secs: u64) -> Result<Exit, Failure> {
        let reply = self.wait_reply(WaitRequest {
            key: key.to_owned(),
            timeout_ms: secs_to_ms(timeout_secs),
            not_pid: None,
        })?;
        let text = if self.json {
            json::line(&json::wait(&reply))
        } else if reply.outcome == WaitOutcome::Healthy {
            output::healthy(&reply.status)
        } else {
            String::new()
        };
        self.emit(&text)?;
        wait_result(key, timeout_secs, &reply)
    }

    /// `restart --wait`: one budget covers both calls; the wait insists on a PID other than the
    /// one the restart replaced, so the old process's last heartbeat cannot pass for the new one.
    fn restart_and_wait(&mut self, key: &str, timeout_secs: u64) -> Result<Exit, Failure> {
        let started = Instant::now();
        let report = self.action_reply(&Request::Restart {
            key: key.to_owned(),
        })?;
        if !self.json {
            self.print_action(&report)?;
        }
        if let Some(failure) = action_failure("restart", &report) {
            if self.json {
                self.emit(&json::line(&json::restart_wait(&report, None)))?;
            }
            return Err(failure);
        }
        let spent = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let reply = self.wait_reply(WaitRequest {
            key: key.to_owned(),
            timeout_ms: secs_to_ms(timeout_secs).saturating_sub(spent),
            not_pid: report.old_pid,
        })?;
        let text = if self.json {
            json::line(&json::restart_wait(&report, Some(&reply)))
        } else if reply.outcome == WaitOutcome::Healthy {
            output::healthy(&reply.status)
        } else {
            String::new()
        };
        self.emit(&text)?;
        wait_result(key, timeout_secs, &reply)
    }
}

/// The stderr failure for an action whose pipeline failed, if it did.
fn action_failure(verb: &str, report: &ActionReport) -> Option<Failure> {
    (report.result == PipelineResult::Failed).then(|| {
        Failure::new(
            Exit::Failed,
            format!("{verb} {} failed: {}", report.key, report.message),
        )
    })
}

/// Exit 0 for a healthy wait, else exit 1 with the "not healthy after" message.
fn wait_result(key: &str, timeout_secs: u64, reply: &WaitReply) -> Result<Exit, Failure> {
    match reply.outcome {
        WaitOutcome::Healthy => Ok(Exit::Success),
        WaitOutcome::TimedOut => Err(Failure::new(
            Exit::Failed,
            output::not_healthy(key, timeout_secs, &reply.status),
        )),
    }
}

/// A reply of a variant the request cannot produce: the daemon is not the version we speak.
fn unexpected(socket: &Path, response: &Response) -> Failure {
    let kind = match response {
        Response::Error { .. } => "error",
        Response::Status(_) => "status",
        Response::Action(_) => "action",
        Response::Bulk(_) => "bulk",
        Response::Wait(_) => "wait",
        Response::Reload(_) => "reload",
        Response::History(_) => "history",
        Response::Event(_) => "event",
        Response::Detail(_) => "detail",
        Response::Metrics(_) => "metrics",
        Response::Version(_) => "version",
    };
    Failure::new(
        Exit::Unreachable,
        format!(
            "watchdogd at {} sent an unexpected {kind} reply (is it another version?)",
            socket.display()
        ),
    )
}
