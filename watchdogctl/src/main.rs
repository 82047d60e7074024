//! `watchdogctl`: the thin client of `watchdogd`.
//!
//! It parses argv, sends one request over the daemon's Unix socket (or, with `-H ssh://HOST`,
//! over ssh to `watchdogctl dial-stdio` on that host), prints the reply and exits with a code
//! scripts can trust. `events --follow` keeps reading replies until the daemon
//! closes; `beat`, `completions` and `man` work without any daemon. `main` is the only place
//! that turns outcomes into an exit code and the only place failures are printed, so every path
//! ends the same way.

mod audit;
mod cli;
mod client;
mod clock;
mod commands;
mod detail;
mod duration;
mod exit;
mod fleet;
mod frames;
mod heartbeat;
mod json;
mod output;
mod remote;
mod socket;
mod stream;
mod table;
mod top;
mod transport;
mod versions;

use std::io::Write;
use std::process::ExitCode;

use crate::exit::{Exit, Failure};

fn main() -> ExitCode {
    let cli = match cli::Cli::parse_args() {
        Ok(cli) => cli,
        Err(e) => {
            // Help goes to stdout and exits 0; usage errors go to stderr and exit 2.
            // A closed pipe while printing help is not worth reporting.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(Exit::Usage.code()));
        }
    };
    let exit = match commands::run(&cli) {
        Ok(exit) => exit,
        Err(Failure::StdoutClosed) => Exit::Success,
        Err(Failure::Report { exit, message }) => {
            // Nowhere left to report a failing stderr; the exit code still tells.
            let _ = writeln!(std::io::stderr(), "watchdogctl: {message}");
            exit
        }
    };
    exit.into()
}
