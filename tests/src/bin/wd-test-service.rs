//! A real service for the end-to-end tests: writes heartbeats with the protocol crate's
//! `HeartbeatWriter` and misbehaves on request.
//!
//! ```text
//! wd-test-service --heartbeat PATH --key KEY [--interval-ms N] [--starts-file PATH]
//!                 [--status-file PATH] [--exit-after-ms N] [--fork-child] [--iteration-frozen]
//! ```
//! - `--starts-file`: appends this process's PID on start (tests count starts; the harness
//!   kills every PID listed there when it is dropped).
//! - `--status-file`: while that file exists, its trimmed content is the heartbeat status.
//! - `--exit-after-ms`: exits with status 1 after that long (a crash-looping service).
//! - `--fork-child`: starts a `sleep` child in the same process group, and records its PID in
//!   the starts file too.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() {
    let mut heartbeat = None;
    let mut key = String::from("svc");
    let mut interval = Duration::from_millis(100);
    let mut starts_file: Option<PathBuf> = None;
    let mut status_file: Option<PathBuf> = None;
    let mut exit_after: Option<Duration> = None;
    let mut fork_child = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--heartbeat" => heartbeat = Some(PathBuf::from(value())),
            "--key" => key = value(),
            "--interval-ms" => interval = Duration::from_millis(value().parse().expect("ms")),
            "--starts-file" => starts_file = Some(PathBuf::from(value())),
            "--status-file" => status_file = Some(PathBuf::from(value())),
            "--exit-after-ms" => {
                exit_after = Some(Duration::from_millis(value().parse().expect("ms")))
            }
            "--fork-child" => fork_child = true,
            other => panic!("unknown argument {other}"),
        }
    }
    let heartbeat = heartbeat.expect("--heartbeat is required");
    let mut pids = vec![std::process::id()];
    if fork_child {
        // Deliberately never waited for: it must outlive this process's control, like a
        // service's worker would, so that stopping the service has to stop the group.
        #[allow(clippy::zombie_processes)]
        let child = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .expect("spawn sleep");
        pids.push(child.id());
    }
    if let Some(path) = &starts_file {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("starts file");
        for pid in &pids {
            writeln!(f, "{pid}").expect("write starts file");
        }
    }
    let mut writer = protocol::HeartbeatWriter::new(heartbeat, key);
    let born = Instant::now();
    loop {
        if exit_after.is_some_and(|d| born.elapsed() >= d) {
            std::process::exit(1);
        }
        let status = status_file
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| "running".to_owned());
        if let Err(e) = writer.beat(&status) {
            eprintln!("wd-test-service: cannot beat: {e}");
        }
        std::thread::sleep(interval);
    }
}
