//! A real service for the end-to-end tests that speaks systemd's notify protocol through the
//! `sd-notify` crate, unchanged, as a Rust service under systemd would.
//!
//! ```text
//! wd-notify-service [--starts-file PATH] [--ready-after-ms N] [--no-ready] [--status TEXT]
//!                   [--trigger-file PATH] [--status-file PATH] [--fork-mainpid]
//!                   [--ping-ms N] [--heartbeat PATH [--heartbeat-stop-file PATH]]
//! ```
//! - pings `WATCHDOG=1` at a quarter of the period `sd_notify::watchdog_enabled()` reports
//!   (which needs `WATCHDOG_USEC`, and `WATCHDOG_PID` naming this very process); without it,
//!   it exits 3, saying why;
//! - `--starts-file`: appends this process's PID on start (the harness kills every PID listed);
//! - `--ready-after-ms`: waits that long before `READY=1`; `--no-ready`: never sends it;
//! - `--status`: sends `STATUS=TEXT` with `READY=1`; `--status-file`: while that file exists,
//!   its trimmed content is sent as `STATUS=` whenever it changes;
//! - `--trigger-file`: when that file appears, sends `WATCHDOG=trigger` (once);
//! - `--ping-ms`: pings every N ms instead (the benchmarks' fixed rate);
//! - `--heartbeat`: also writes a heartbeat file there at each ping (`"heartbeat": "both"`),
//!   until the `--heartbeat-stop-file` appears;
//! - `--fork-mainpid`: starts a copy of itself as a child that pings, sends
//!   `MAINPID=<child>` and `READY=1`, and exits, as a forking daemon does.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use sd_notify::NotifyState;

fn main() {
    let mut starts_file: Option<PathBuf> = None;
    let mut ready_after = Duration::ZERO;
    let mut ready = true;
    let mut status: Option<String> = None;
    let mut status_file: Option<PathBuf> = None;
    let mut trigger_file: Option<PathBuf> = None;
    let mut fork_mainpid = false;
    let mut child = false;
    let mut ping: Option<Duration> = None;
    let mut heartbeat: Option<PathBuf> = None;
    let mut heartbeat_stop: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--starts-file" => starts_file = Some(PathBuf::from(value())),
            "--ready-after-ms" => {
                ready_after = Duration::from_millis(value().parse().expect("ms"));
            }
            "--no-ready" => ready = false,
            "--status" => status = Some(value()),
            "--status-file" => status_file = Some(PathBuf::from(value())),
            "--trigger-file" => trigger_file = Some(PathBuf::from(value())),
            "--fork-mainpid" => fork_mainpid = true,
            "--child" => child = true,
            "--heartbeat" => heartbeat = Some(PathBuf::from(value())),
            "--heartbeat-stop-file" => heartbeat_stop = Some(PathBuf::from(value())),
            "--ping-ms" => ping = Some(Duration::from_millis(value().parse().expect("ms"))),
            other => panic!("unknown argument {other}"),
        }
    }
    if let Some(path) = &starts_file {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("starts file");
        writeln!(f, "{}", std::process::id()).expect("write starts file");
    }
    let period = if child {
        // WATCHDOG_PID names the parent: the crate rightly says the watchdog is not ours.
        Duration::from_micros(
            std::env::var("WATCHDOG_USEC")
                .ok()
                .and_then(|v| v.parse().ok())
                .expect("WATCHDOG_USEC"),
        )
    } else {
        match sd_notify::watchdog_enabled() {
            Some(period) => period,
            None => {
                eprintln!(
                    "wd-notify-service: no watchdog for pid {} (WATCHDOG_USEC={:?}, WATCHDOG_PID={:?})",
                    std::process::id(),
                    std::env::var("WATCHDOG_USEC").ok(),
                    std::env::var("WATCHDOG_PID").ok()
                );
                std::process::exit(3);
            }
        }
    };
    if fork_mainpid {
        let mut cmd = std::process::Command::new(std::env::current_exe().expect("own path"));
        cmd.arg("--child");
        if let Some(path) = &starts_file {
            cmd.arg("--starts-file").arg(path);
        }
        let worker = cmd.spawn().expect("spawn the worker");
        let states = [NotifyState::MainPid(worker.id()), NotifyState::Ready];
        sd_notify::notify(&states).expect("notify");
        // Exits, leaving the worker to run on: it is the service now.
        std::process::exit(0);
    }
    std::thread::sleep(ready_after);
    if ready && !child {
        let mut states = vec![NotifyState::Ready];
        if let Some(text) = &status {
            states.push(NotifyState::Status(text));
        }
        sd_notify::notify(&states).expect("notify READY=1");
    }
    let mut writer = heartbeat.map(|path| protocol::HeartbeatWriter::new(path, "notify"));
    let mut triggered = false;
    let mut shown: Option<String> = None;
    loop {
        sd_notify::notify(&[NotifyState::Watchdog]).expect("notify WATCHDOG=1");
        if let Some(w) = &mut writer
            && !heartbeat_stop.as_ref().is_some_and(|p| p.exists())
        {
            w.beat("running").expect("write the heartbeat file");
        }
        if let Some(path) = &trigger_file
            && !triggered
            && path.exists()
        {
            triggered = true;
            sd_notify::notify(&[NotifyState::WatchdogTrigger]).expect("notify trigger");
        }
        if let Some(path) = &status_file {
            let now = std::fs::read_to_string(path)
                .ok()
                .map(|s| s.trim().to_owned());
            if let Some(text) = now.as_deref()
                && now != shown
            {
                sd_notify::notify(&[NotifyState::Status(text)]).expect("notify STATUS");
            }
            shown = now;
        }
        std::thread::sleep(ping.unwrap_or(period / 4));
    }
}
