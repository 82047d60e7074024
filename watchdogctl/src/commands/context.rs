//! What every command shares: where its requests go ([`destination`]), the [`Context`] of a daemon command (the client and the output
//! mode), writing results to stdout and notes to stderr, and the usage and unexpected-reply
//! failures.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use protocol::{Request, Response};

use crate::cli::{Cli, Command};
use crate::client::{CallError, Client};
use crate::exit::{Exit, Failure};
use crate::output;
use crate::remote::ssh::SshTarget;
use crate::remote::{self, Destination, RemoteInputs, shell};
use crate::socket::{SocketInputs, resolve_socket};

/// A reply read from the daemon's snapshot or database; this long without one means the daemon
/// is wedged.
pub(super) const READ_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest hosts file read for `--hosts @FILE`.
const MAX_HOSTS_FILE: u64 = 1024 * 1024;

/// Where this command's requests go (`-H`, `--hosts`, `WATCHDOG_HOST`, or the local socket);
/// duplicate hosts are warned about on stderr.
pub(super) fn destination(cli: &Cli) -> Result<Destination, Failure> {
    let inputs = RemoteInputs {
        host_flag: cli.host.clone(),
        hosts: cli.hosts.clone(),
        ssh_flag: cli.ssh_command.clone(),
        ctl_flag: cli.remote_ctl.clone(),
        local_flags: cli.socket.is_some() || cli.config.is_some(),
        ..RemoteInputs::default()
    }
    .with_env();
    let (destination, warnings) = remote::destination(inputs, read_hosts_file).map_err(usage)?;
    for w in warnings {
        note(true, &w);
    }
    Ok(destination)
}

/// A hosts file's text, bounded.
fn read_hosts_file(name: &str) -> Result<String, String> {
    use std::io::Read;
    let file =
        std::fs::File::open(name).map_err(|e| format!("cannot read hosts file {name}: {e}"))?;
    let mut text = String::new();
    file.take(MAX_HOSTS_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read hosts file {name}: {e}"))?;
    if text.len() as u64 > MAX_HOSTS_FILE {
        return Err(format!("hosts file {name} is larger than 1 MiB"));
    }
    Ok(text)
}
/// A usage failure (exit 2).
pub(super) fn usage(message: impl Into<String>) -> Failure {
    Failure::new(Exit::Usage, message)
}

/// Writes a result to stdout; a closed pipe ends the command quietly with exit 0.
pub(super) fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Failure::StdoutClosed),
        Err(e) => Err(Failure::new(
            Exit::Usage,
            format!("cannot write to stdout: {e}"),
        )),
    }
}

/// A `-v` diagnostic on stderr; a failing stderr is ignored (there is nowhere to report it).
pub(super) fn note(verbose: bool, message: &str) {
    if verbose {
        let _ = writeln!(io::stderr(), "watchdogctl: {message}");
    }
}

/// What every daemon command needs: the client and the output mode.
pub(super) struct Context {
    pub(super) client: Client,
    pub(super) json: bool,
    pub(super) verbose: bool,
    pub(super) color: bool,
}

impl Context {
    /// Resolves the socket (flag, environment, config, default) for a command that needs it.
    pub(super) fn new(cli: &Cli) -> Result<Context, Failure> {
        let (socket, source) = resolve_socket(SocketInputs::from_env(
            cli.socket.clone(),
            cli.config.clone(),
        ))?;
        let ctx = Context::with_client(cli, Client::local(socket, &source));
        ctx.note(&format!("socket {} ({source})", ctx.client.describe()));
        Ok(ctx)
    }

    /// A context whose calls go through ssh to `target`.
    pub(super) fn remote(cli: &Cli, target: SshTarget) -> Context {
        let argv = target.argv();
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        let ctx = Context::with_client(cli, Client::ssh(target));
        ctx.note(&format!("via {}", shell::join(&words)));
        ctx
    }

    pub(super) fn with_client(cli: &Cli, client: Client) -> Context {
        Context {
            client,
            json: cli.json,
            verbose: cli.verbose > 0,
            color: !cli.json && output::use_color(),
        }
    }

    /// Runs a command that talks to one daemon.
    pub(super) fn run(mut self, command: &Command) -> Result<Exit, Failure> {
        let verb = command.name();
        let ctx = &mut self;
        match command {
            Command::Status { key } => ctx.status(key.as_deref()),
            Command::On { key } => ctx.action(Request::On { key: key.clone() }, verb),
            Command::Off { key, for_: None } => ctx.action(Request::Off { key: key.clone() }, verb),
            Command::Off {
                key,
                for_: Some(window),
            } => ctx.off_for(key, *window),
            Command::Restart {
                key, wait: false, ..
            } => ctx.action(Request::Restart { key: key.clone() }, verb),
            Command::Restart {
                key,
                wait: true,
                timeout,
                ..
            } => ctx.restart_and_wait(key, *timeout),
            Command::Run {
                all,
                words,
                wait,
                timeout,
            } => ctx.run_action(*all, words, (*wait).then_some(*timeout)),
            Command::RestartAll { wait, timeout } => ctx.restart_all((*wait).then_some(*timeout)),
            Command::Enable { key } => ctx.monitor(key, true),
            Command::Disable { key } => ctx.monitor(key, false),
            Command::Actions {
                key,
                disable,
                enable,
            } => ctx.actions(key, disable, enable),
            Command::StartAll => ctx.bulk(Request::StartAll, verb),
            Command::StopAll => ctx.bulk(Request::StopAll, verb),
            Command::Check => ctx.check(),
            Command::Wait { key, timeout } => ctx.wait(key, *timeout),
            Command::Reload => ctx.reload(),
            Command::History { key, limit, since } => ctx.history(key.as_deref(), *limit, *since),
            Command::Events { follow: false } => ctx.recent_events(),
            Command::Events { follow: true } => ctx.follow_events(),
            Command::Metrics => ctx.metrics(),
            Command::Top => crate::top::run(&ctx.client, ctx.json),
            Command::Beat { .. }
            | Command::Completions { .. }
            | Command::Man
            | Command::Version
            | Command::DialStdio => Err(usage(format!("{verb} does not talk to a daemon"))),
        }
    }

    pub(super) fn note(&self, message: &str) {
        note(self.verbose, message);
    }

    pub(super) fn emit(&mut self, text: &str) -> Result<(), Failure> {
        write_stdout(text.as_bytes())
    }

    /// One round trip, timed under `-v`.
    pub(super) fn call(
        &self,
        request: &Request,
        timeout: Option<Duration>,
    ) -> Result<Response, Failure> {
        Ok(self.try_call(request, timeout)?)
    }

    /// [`Context::call`], with the failure still telling how the call failed.
    pub(super) fn try_call(
        &self,
        request: &Request,
        timeout: Option<Duration>,
    ) -> Result<Response, CallError> {
        let started = Instant::now();
        let response = self.client.call(request, timeout)?;
        self.note(&format!(
            "reply in {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        ));
        Ok(response)
    }

    /// The failure for a reply of the wrong kind: a refusal, or a daemon that is not ours.
    pub(super) fn refused(&self, response: Response) -> Failure {
        match response {
            Response::Error { kind, message } => Failure::new(Exit::for_error_kind(kind), message),
            other => unexpected(&self.client.describe(), &other),
        }
    }
}

/// A reply of a variant the request cannot produce: the daemon is not the version we speak.
pub(super) fn unexpected(at: &str, response: &Response) -> Failure {
    Failure::new(
        Exit::Unreachable,
        format!(
            "watchdogd at {at} sent an unexpected {} reply (is it another version?)",
            crate::client::reply_kind(response)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn unexpected_replies_are_incompatible() {
        let f = unexpected("/run/w.sock", &Response::Metrics(String::new()));
        match f {
            Failure::Report { exit, message } => {
                assert_eq!(exit, Exit::Unreachable);
                assert_eq!(
                    message,
                    "watchdogd at /run/w.sock sent an unexpected metrics reply (is it another version?)"
                );
            }
            Failure::StdoutClosed => panic!("wrong failure"),
        }
    }
}
