//! Helpers for the end-to-end tests: build and locate the real binaries, lay out a sandbox
//! (a short temp folder holding config, socket, database and heartbeats), start `watchdogd`,
//! run `watchdogctl`, and wait on conditions against deadlines.
//!
//! Cleanup is by PID we own, never by name: `Daemon` stops its watchdogd in `Drop`, and
//! `Sandbox` kills every service process listed in its starts files (each test service writes
//! its PID there on start) or named by a heartbeat file in the sandbox, together with its
//! process group. Declare the `Daemon` after the `Sandbox` so it is dropped (stopped) first and
//! cannot restart what the sandbox kills.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub mod sshd;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};

pub mod fuse;
pub mod tmux;
pub mod users;

/// The real binaries under test.
pub struct Bins {
    pub watchdogd: PathBuf,
    pub watchdogctl: PathBuf,
}

/// Builds `watchdogd` and `watchdogctl` once per test process (cargo does not build another
/// package's binaries for `cargo test`), in the profile the tests were built with.
pub fn bins() -> &'static Bins {
    static BINS: OnceLock<Bins> = OnceLock::new();
    BINS.get_or_init(|| {
        // target/<profile>/deps/<test binary>
        let exe = std::env::current_exe().expect("current exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>")
            .to_path_buf();
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace).args([
            "build",
            "--quiet",
            "-p",
            "watchdogd",
            "-p",
            "watchdogctl",
        ]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(
            status.success(),
            "cargo build of watchdogd/watchdogctl failed"
        );
        Bins {
            watchdogd: profile_dir.join("watchdogd"),
            watchdogctl: profile_dir.join("watchdogctl"),
        }
    })
}

/// Waits until `cond` holds, polling every 25 ms, or panics naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A test's private folder, with the pieces every test needs.
pub struct Sandbox {
    dir: tempfile::TempDir,
    /// The test service binary (`CARGO_BIN_EXE_wd-test-service` of the caller).
    service_bin: PathBuf,
}

impl Sandbox {
    /// A fresh sandbox under /tmp (short, so the socket path stays far below ~100 bytes).
    pub fn new(service_bin: &str) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("wd")
            .tempdir_in("/tmp")
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("hb")).expect("hb dir");
        Sandbox {
            dir,
            service_bin: service_bin.into(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn socket(&self) -> PathBuf {
        self.path().join("wd.sock")
    }

    pub fn config_path(&self) -> PathBuf {
        self.path().join("config.json")
    }

    pub fn heartbeat(&self, key: &str) -> PathBuf {
        self.path().join("hb").join(format!("{key}.json"))
    }

    /// The shell command that runs the test service for `key`, with extra arguments.
    pub fn service_cmd(&self, key: &str, extra: &str) -> String {
        format!(
            "exec {} --heartbeat hb/{key}.json --key {key} --starts-file {key}.starts {extra}",
            self.service_bin.display()
        )
    }

    /// A process entry running the test service, fast timings, `kill` then `start`.
    pub fn service(&self, key: &str, extra: &str) -> Value {
        json!({
            "display_name": format!("Service {key}"),
            "timeout_seconds": 2,
            "heartbeat_path": format!("hb/{key}.json"),
            "commands": { "start": self.service_cmd(key, extra) },
            "recovery_actions": ["kill", "start"],
        })
    }

    /// A service that is never started or recovered (its start command does nothing and its
    /// threshold is out of reach), so only the heartbeat file at `hb/KEY.json` decides its
    /// health.
    pub fn placeholder(&self, key: &str) -> Value {
        let mut svc = self.service(key, "");
        svc["commands"]["start"] = json!("true");
        svc["timeout_seconds"] = json!(30);
        svc["consecutive_failures_threshold"] = json!(1_000_000);
        svc
    }

    /// A whole config with fast timings around `processes`.
    pub fn config(&self, processes: Value) -> Value {
        json!({
            "log_level": "DEBUG",
            "socket_path": "wd.sock",
            "db_path": "wd.db",
            "check_interval_seconds": 0.2,
            "consecutive_failures_threshold": 2,
            "kill_timeout": 2,
            "cleanup_timeout": 5,
            "verify_delay": 0.2,
            "notify_dir": "notify",
            "processes": processes,
        })
    }

    pub fn write_config(&self, config: &Value) -> PathBuf {
        let path = self.config_path();
        std::fs::write(&path, serde_json::to_vec_pretty(config).expect("json"))
            .expect("write config");
        path
    }

    /// Starts watchdogd on the sandbox's config and waits until its socket answers.
    pub fn start_daemon(&self) -> Daemon {
        self.start_daemon_with(&self.config_path(), &self.socket())
    }

    /// Starts watchdogd on any config file and waits until `socket` (where that config makes
    /// it listen) answers. Panics, with the daemon's log, if watchdogd exits instead.
    pub fn start_daemon_with(&self, config: &Path, socket: &Path) -> Daemon {
        self.start_daemon_setup(config, socket, |_| {})
    }

    /// Like [`Sandbox::start_daemon_with`], with `setup` applied to the command first (an
    /// environment, a session of its own, inherited descriptors…).
    pub fn start_daemon_setup(
        &self,
        config: &Path,
        socket: &Path,
        setup: impl FnOnce(&mut Command),
    ) -> Daemon {
        let log_path = self.path().join("watchdogd.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("log file");
        let mut cmd = self.watchdogd_command();
        cmd.arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        setup(&mut cmd);
        let child = cmd.spawn().expect("spawn watchdogd");
        let mut daemon = Daemon {
            child: Some(child),
            log: log_path,
        };
        wait_until("watchdogd to answer", Duration::from_secs(20), || {
            if let Some(status) = daemon.child.as_mut().and_then(|c| c.try_wait().ok()?) {
                panic!(
                    "watchdogd exited ({status}) instead of serving:\n{}",
                    daemon.log()
                );
            }
            ctl_at(socket, &["status"]).status.code() != Some(3)
        });
        daemon
    }

    /// A `watchdogd` command that ignores the caller's environment for config and socket.
    pub fn watchdogd_command(&self) -> Command {
        let mut cmd = Command::new(&bins().watchdogd);
        cmd.env_remove("WATCHDOG_CONFIG")
            .env_remove("WATCHDOG_SOCKET")
            .current_dir(self.path());
        cmd
    }

    /// Runs watchdogd with `args` to completion (bounded: it is killed, and the test fails,
    /// after 20 s), for runs that are expected to exit on their own (`--check-config`, a
    /// refused start).
    pub fn run_watchdogd<S: AsRef<OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Output {
        let child = self
            .watchdogd_command()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn watchdogd");
        output_within(child, Duration::from_secs(20), "watchdogd")
    }

    /// Runs watchdogctl against this sandbox's socket.
    pub fn ctl(&self, args: &[&str]) -> Output {
        ctl_at(&self.socket(), args)
    }

    /// Runs watchdogctl and insists on exit 0; returns its stdout.
    pub fn ctl_ok(&self, args: &[&str]) -> String {
        self.ctl_exit(args, 0)
    }

    /// Runs watchdogctl and insists on exit `code`; returns its stdout (stderr is in the panic
    /// message when the code differs).
    pub fn ctl_exit(&self, args: &[&str], code: i32) -> String {
        let out = self.ctl(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "watchdogctl {}: stdout {}\nstderr {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs watchdogctl, asserts it exited with `code`, and returns its stderr (the reason).
    pub fn ctl_err(&self, args: &[&str], code: i32) -> String {
        let out = self.ctl(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "watchdogctl {}: stdout {}\nstderr {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `status --json` as parsed JSON rows.
    pub fn status(&self) -> Vec<Value> {
        let out = self.ctl(&["status", "--json"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("status JSON")
    }

    /// One service's row of `status --json`.
    pub fn status_of(&self, key: &str) -> Value {
        self.status()
            .into_iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("no status row for {key}"))
    }

    /// Waits until `key` is healthy (with a PID other than `not_pid`) and returns its PID.
    pub fn wait_healthy(&self, key: &str, not_pid: Option<u64>, timeout: Duration) -> u64 {
        let mut pid = 0;
        wait_until(
            &format!("{key} healthy (not pid {not_pid:?})"),
            timeout,
            || {
                let row = self.status_of(key);
                pid = row["pid"].as_u64().unwrap_or(0);
                row["health"] == "healthy" && pid != 0 && Some(pid) != not_pid
            },
        );
        pid
    }

    /// Like [`Sandbox::wait_healthy`], and also waits for the pipeline that started it to be
    /// over (state `running`): a service beats before its start is verified, and until then a
    /// `restart` joins that pipeline and failures are not yet reset.
    pub fn wait_settled(&self, key: &str, not_pid: Option<u64>, timeout: Duration) -> u64 {
        let mut pid = 0;
        wait_until(
            &format!("{key} healthy and running (not pid {not_pid:?})"),
            timeout,
            || {
                let row = self.status_of(key);
                pid = row["pid"].as_u64().unwrap_or(0);
                row["health"] == "healthy"
                    && row["state"] == "running"
                    && pid != 0
                    && Some(pid) != not_pid
            },
        );
        pid
    }

    /// PIDs the test service `key` recorded at its starts (one line each), in order.
    pub fn starts(&self, key: &str) -> Vec<i32> {
        read_pids(&self.path().join(format!("{key}.starts")))
    }
}

/// Runs watchdogctl against the daemon at `socket` (bounded: killed, and the test failed, after
/// 90 s, beyond any `--timeout` a test passes).
pub fn ctl_at(socket: &Path, args: &[&str]) -> Output {
    let mut cmd = ctl_command();
    cmd.arg("--socket").arg(socket).args(args);
    run_ctl(cmd)
}

/// A bare `watchdogctl` command, its environment cleared of the socket and config variables,
/// for tests of how it finds the socket.
pub fn ctl_command() -> Command {
    let mut cmd = Command::new(&bins().watchdogctl);
    cmd.env_remove("WATCHDOG_CONFIG")
        .env_remove("WATCHDOG_SOCKET");
    cmd
}

/// Runs a watchdogctl command (bounded as in [`ctl_at`]).
pub fn run_ctl(mut cmd: Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run watchdogctl");
    output_within(child, Duration::from_secs(90), "watchdogctl")
}

/// Collects a child's output, killing it and failing the test if it runs past `timeout`.
fn output_within(mut child: Child, timeout: Duration, what: &str) -> Output {
    // Drain both pipes on threads so a chatty child cannot block on a full pipe meanwhile.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}

fn read_pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

impl Drop for Sandbox {
    /// Kills every service process the test's daemon started, and their groups: the PIDs in the
    /// starts files, and those named by heartbeat files under `hb/` and `run/heartbeats/`
    /// (services that keep no starts file, like the demo service).
    fn drop(&mut self) {
        let mut pids: Vec<i32> = Vec::new();
        if let Ok(entries) = std::fs::read_dir(self.path()) {
            for entry in entries.flatten() {
                if entry.path().extension().is_some_and(|e| e == "starts") {
                    pids.extend(read_pids(&entry.path()));
                }
            }
        }
        for dir in ["hb", "run/heartbeats"] {
            let Ok(entries) = std::fs::read_dir(self.path().join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                if let Some(pid) = heartbeat_pid(&entry.path())
                    && runs_in(pid, self.path())
                {
                    pids.push(pid);
                }
            }
        }
        let own = std::process::id() as i32;
        let own_group = nix::unistd::getpgrp().as_raw();
        for pid in pids {
            if pid > 1 && pid != own && pid != own_group {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

/// The PID a heartbeat file names, if it is one. Only small regular files are read: a test may
/// leave a hostile heartbeat behind (a FIFO, a symlink to `/dev/zero`, a 1 GiB file), and
/// cleanup must neither block on it nor read it whole.
fn heartbeat_pid(path: &Path) -> Option<i32> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > 64 * 1024 {
        return None;
    }
    let text = std::fs::read(path).ok()?;
    let beat: Value = serde_json::from_slice(&text).ok()?;
    i32::try_from(beat["pid"].as_i64()?).ok()
}

/// Whether `pid` runs inside `dir` (its working folder is there), as every service a test's
/// daemon starts does. A heartbeat file can outlive its writer and its PID be reused, and we
/// must never kill a stranger. Where there is no /proc to ask, the PID is trusted.
fn runs_in(pid: i32, dir: &Path) -> bool {
    if !Path::new("/proc/self/cwd").exists() {
        return true;
    }
    let (Ok(cwd), Ok(dir)) = (
        std::fs::read_link(format!("/proc/{pid}/cwd")),
        dir.canonicalize(),
    ) else {
        return false;
    };
    cwd.starts_with(dir)
}

/// A running watchdogd; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Daemon {
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit status (up to 30 s, then SIGKILL).
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the daemon with SIGKILL (a crash) and reaps it.
    pub fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        // A failing test shows what the daemon said: the last lines of its log.
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            let mut err = std::io::stderr().lock();
            let _ = std::io::Write::write_all(&mut err, b"--- watchdogd log (last lines) ---\n");
            for line in tail.iter().rev() {
                let _ = writeln!(err, "{line}");
            }
        }
    }
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    if kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next().map(str::to_owned));
    !matches!(state.as_deref(), Some("Z" | "X"))
}
