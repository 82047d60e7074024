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
//! - `local`: what needs no daemon at all (beat, completions, man);
//! - `dial`: `dial-stdio`, the remote end of `-H ssh://…`;
//! - `fleet`: queries over `--hosts`; `rolling`: `restart --hosts … --rolling`.
//!
//! With `-H`, every command runs exactly as it does locally, only its [`Client`] talks through
//! ssh; with `--hosts`, only the commands in `fleet` are accepted.

mod audit;
mod daemon;
mod dial;
mod fleet;
mod local;
mod overrides;
mod rolling;
mod service;

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

/// The largest hosts file read for `--hosts @FILE`.
const MAX_HOSTS_FILE: u64 = 1024 * 1024;

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
    // Beat, completions, man and version must work without a daemon and without a readable
    // config, so the socket is resolved only by the commands that talk to the daemon.
    match command {
        Command::Beat {
            file,
            key,
            pid,
            status,
        } => return local::beat(file, key, *pid, status, cli.json),
        Command::Completions { shell } => return local::completions(*shell),
        Command::Man => return local::man(),
        Command::Version => return daemon::version(cli, true),
        Command::DialStdio => return dial::dial_stdio(cli),
        _ => {}
    }
    let destination = destination(cli)?;
    let many = matches!(destination, Destination::Many(_));
    if !many && matches!(command, Command::Restart { rolling: true, .. }) {
        return Err(usage(
            "--rolling needs --hosts: a list of hosts to restart in turn",
        ));
    }
    if !many && cli.max_parallel.is_some() {
        return Err(usage("--max-parallel needs --hosts"));
    }
    match destination {
        Destination::Local => Context::new(cli)?.run(command),
        Destination::One(target) => Context::remote(cli, target).run(command),
        Destination::Many(targets) => fleet::run(cli, command, &targets),
    }
}

/// A usage failure (exit 2).
fn usage(message: impl Into<String>) -> Failure {
    Failure::new(Exit::Usage, message)
}

/// Where this command's requests go (`-H`, `--hosts`, `WATCHDOG_HOST`, or the local socket);
/// duplicate hosts are warned about on stderr.
fn destination(cli: &Cli) -> Result<Destination, Failure> {
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
        let ctx = Context::with_client(cli, Client::local(socket, &source));
        ctx.note(&format!("socket {} ({source})", ctx.client.describe()));
        Ok(ctx)
    }

    /// A context whose calls go through ssh to `target`.
    fn remote(cli: &Cli, target: SshTarget) -> Context {
        let argv = target.argv();
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        let ctx = Context::with_client(cli, Client::ssh(target));
        ctx.note(&format!("via {}", shell::join(&words)));
        ctx
    }

    fn with_client(cli: &Cli, client: Client) -> Context {
        Context {
            client,
            json: cli.json,
            verbose: cli.verbose > 0,
            color: !cli.json && output::use_color(),
        }
    }

    /// Runs a command that talks to one daemon.
    fn run(mut self, command: &Command) -> Result<Exit, Failure> {
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

    fn note(&self, message: &str) {
        note(self.verbose, message);
    }

    fn emit(&mut self, text: &str) -> Result<(), Failure> {
        write_stdout(text.as_bytes())
    }

    /// One round trip, timed under `-v`.
    fn call(&self, request: &Request, timeout: Option<Duration>) -> Result<Response, Failure> {
        Ok(self.try_call(request, timeout)?)
    }

    /// [`Context::call`], with the failure still telling how the call failed.
    fn try_call(
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
    fn refused(&self, response: Response) -> Failure {
        match response {
            Response::Error { kind, message } => Failure::new(Exit::for_error_kind(kind), message),
            other => unexpected(&self.client.describe(), &other),
        }
    }
}

/// A reply of a variant the request cannot produce: the daemon is not the version we speak.
fn unexpected(at: &str, response: &Response) -> Failure {
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
    fn unexpected_replies_are_incompatible() {
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
