//! The real `watchdogctl` binary against a scripted fake daemon.
//!
//! The fake speaks the real framing and codec but answers from a list, so these tests pin what
//! scripts see (exit codes, the stdout/stderr split, which requests are sent) without needing
//! `watchdogd`. End-to-end tests with the real daemon live in the workspace's `tests/` crate.
//!
//! One module per command family, as in `src/commands/` (service, audit, daemon, local, and
//! remote for `-H`/`--hosts` through a stand-in for ssh), plus how the socket is found (socket)
//! and how failures end the process (exits); the fake daemon and the replies it is scripted
//! with have modules of their own.

mod audit;
mod daemon;
mod exits;
mod fake_daemon;
mod local;
mod remote;
mod replies;
mod service;
mod socket;

use std::fmt::Display;
use std::path::Path;
use std::process::{Command, Output};

/// What watchdogctl printed (lossily decoded).
struct Printed {
    stdout: String,
    stderr: String,
}

/// A `watchdogctl` command with the caller's socket, config and remote variables cleared.
fn ctl() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_watchdogctl"));
    for var in [
        "WATCHDOG_SOCKET",
        "WATCHDOG_CONFIG",
        "WATCHDOG_HOST",
        "WATCHDOG_SSH",
        "WATCHDOG_REMOTE_CTL",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Runs watchdogctl against `socket` with `args`.
fn run(socket: &Path, args: &[&str]) -> Output {
    ctl()
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .unwrap()
}

/// Runs watchdogctl against `socket` with `args` and asserts it exited with `code`.
fn run_exit(socket: &Path, args: &[&str], code: i32) -> Printed {
    expect_exit(
        &run(socket, args),
        code,
        format_args!("watchdogctl {}", args.join(" ")),
    )
}

/// Asserts that `o` exited with `code`; when it did not, the panic names `what` and shows both
/// streams. Returns what it printed.
fn expect_exit(o: &Output, code: i32, what: impl Display) -> Printed {
    let printed = Printed {
        stdout: stdout(o),
        stderr: stderr(o),
    };
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}: exited {}\nstdout: {}\nstderr: {}",
        o.status,
        printed.stdout,
        printed.stderr
    );
    printed
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
