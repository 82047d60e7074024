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
//! With `-H`, every command runs exactly as it does locally, only its [`Client`](crate::client::Client) talks through
//! ssh; with `--hosts`, only the commands in `fleet` are accepted.

mod audit;
mod context;
mod daemon;
mod dial;
mod fleet;
mod local;
mod overrides;
mod rolling;
mod service;

use crate::cli::{Cli, Command};
use crate::exit::{Exit, Failure};
use crate::remote::Destination;
use context::{Context, destination, usage};

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
