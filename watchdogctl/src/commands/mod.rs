//! One function per subcommand: build the request, make the call, check the reply's variant,
//! print, and say how the process should end.
//!
//! Results go to stdout (text or `--json`), diagnostics to stderr. A command returns
//! `Ok(exit)` after printing its result, or a [`Failure`] whose message `main` prints; when
//! stdout is gone (`| head`) the command stops and the process exits 0.
//!
//! - `service`: status, the detail view and the actions on services;
//! - `audit`: history and events;
//! - `daemon`: metrics and versions;
//! - `local`: what needs no daemon at all (beat, completions, man).

mod audit;
mod daemon;
mod local;
mod overrides;
mod service;

use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use protocol::{Request, Response};

use crate::cli::{Cli, Command};
use crate::client::{Client, SocketInputs, resolve_socket};
use crate::exit::{Exit, Failure};
use crate::output;

/// A reply read from the daemon's snapshot or database; this long without one means the daemon
/// is wedged.
const READ_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the parsed command line and returns how the process should end.
pub fn run(cli: &Cli) -> Result<Exit, Failure> {
    // `-V` wins over any command, as clap's own flag would.
    if cli.version {
        return daemon::version(cli, false);
    }
    // `Cli::parse_args` guarantees a command when `--version` is absent.
    let Some(command) = &cli.command else {
        return Err(Failure::new(
            Exit::Usage,
            "a command is required (see --help)",
        ));
    };
    let verb = command.name();
    // Beat, completions, man and version must work without a daemon and without a readable
    // config, so the socket is resolved only by the commands that talk to the daemon.
    let ctx = || Context::new(cli);
    match command {
        Command::Beat {
            file,
            key,
            pid,
            status,
        } => local::beat(file, key, *pid, status, cli.json),
        Command::Completions { shell } => local::completions(*shell),
        Command::Man => local::man(),
        Command::Version => daemon::version(cli, true),
        Command::Status { key } => ctx()?.status(key.as_deref()),
        Command::On { key } => ctx()?.action(Request::On { key: key.clone() }, verb),
        Command::Off { key, for_: None } => ctx()?.action(Request::Off { key: key.clone() }, verb),
        Command::Off {
            key,
            for_: Some(window),
        } => ctx()?.off_for(key, *window),
        Command::Restart {
            key,
            wait: false,
            timeout: _,
        } => ctx()?.action(Request::Restart { key: key.clone() }, verb),
        Command::Restart {
            key,
            wait: true,
            timeout,
        } => ctx()?.restart_and_wait(key, *timeout),
        Command::Run {
            all,
            words,
            wait,
            timeout,
        } => ctx()?.run_action(*all, words, (*wait).then_some(*timeout)),
        Command::RestartAll { wait, timeout } => ctx()?.restart_all((*wait).then_some(*timeout)),
        Command::Enable { key } => ctx()?.monitor(key, true),
        Command::Disable { key } => ctx()?.monitor(key, false),
        Command::Actions {
            key,
            disable,
            enable,
        } => ctx()?.actions(key, disable, enable),
        Command::StartAll => ctx()?.bulk(Request::StartAll, verb),
        Command::StopAll => ctx()?.bulk(Request::StopAll, verb),
        Command::Check => ctx()?.check(),
        Command::Wait { key, timeout } => ctx()?.wait(key, *timeout),
        Command::Reload => ctx()?.reload(),
        Command::History { key, limit, since } => ctx()?.history(key.as_deref(), *limit, *since),
        Command::Events { follow: false } => ctx()?.recent_events(),
        Command::Events { follow: true } => ctx()?.follow_events(),
        Command::Metrics => ctx()?.metrics(),
    }
}

/// Writes a result to stdout; a closed pipe ends the command quietly with exit 0.
fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
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
fn note(verbose: bool, message: &str) {
    if verbose {
        let _ = writeln!(io::stderr(), "watchdogctl: {message}");
    }
}

/// What every daemon command needs: the client and the output mode.
struct Context {
    client: Client,
    json: bool,
    verbose: bool,
    color: bool,
}

impl Context {
    /// Resolves the socket (flag, environment, config, default) for a command that needs it.
    fn new(cli: &Cli) -> Result<Context, Failure> {
        let (socket, source) = resolve_socket(SocketInputs::from_env(
            cli.socket.clone(),
            cli.config.clone(),
        ))?;
        let ctx = Context {
            client: Client::new(socket),
            json: cli.json,
            verbose: cli.verbose > 0,
            color: !cli.json && output::use_color(),
        };
        ctx.note(&format!(
            "socket {} ({source})",
            ctx.client.socket().display()
        ));
        Ok(ctx)
    }

    fn note(&self, message: &str) {
        note(self.verbose, message);
    }

    fn emit(&mut self, text: &str) -> Result<(), Failure> {
        write_stdout(text.as_bytes())
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
}

/// A reply of a variant the request cannot produce: the daemon is not the version we speak.
fn unexpected(socket: &Path, response: &Response) -> Failure {
    Failure::new(
        Exit::Unreachable,
        format!(
            "watchdogd at {} sent an unexpected {} reply (is it another version?)",
            socket.display(),
            reply_kind(response)
        ),
    )
}

/// The name of a reply's variant, for messages.
fn reply_kind(response: &Response) -> &'static str {
    match response {
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
        Response::Check(_) => "check",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unexpected_replies_are_incompatible() {
        let f = unexpected(Path::new("/run/w.sock"), &Response::Metrics(String::new()));
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
