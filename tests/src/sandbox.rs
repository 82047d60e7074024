//! A test's private folder: its config, socket, database and heartbeats, the daemon started on
//! it, and `watchdogctl` run against it. Its processes are cleaned up in `cleanup.rs`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::alarm::Alarm;
use crate::cleanup::{kill_services, read_pids};
use crate::deadline::output_within;
use crate::exit::{Printed, expect_exit};
use crate::{Daemon, bins, ctl_at, wait_until};

/// A test's private folder, with the pieces every test needs.
pub struct Sandbox {
    dir: tempfile::TempDir,
    /// The test service binary (`CARGO_BIN_EXE_wd-test-service` of the caller).
    service_bin: PathBuf,
    /// Ends the test's processes if it runs far too long (see `alarm.rs`).
    alarm: Alarm,
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
            alarm: Alarm::arm(dir.path().to_path_buf()),
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
        self.alarm.daemon(child.id() as i32);
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
        self.ctl_printed(args, code).stdout
    }

    /// Runs watchdogctl, asserts it exited with `code`, and returns its stderr (the reason).
    pub fn ctl_err(&self, args: &[&str], code: i32) -> String {
        self.ctl_printed(args, code).stderr
    }

    /// Runs watchdogctl, asserts it exited with `code`, and returns both of its streams.
    pub fn ctl_printed(&self, args: &[&str], code: i32) -> Printed {
        expect_exit(
            &self.ctl(args),
            code,
            format_args!("watchdogctl {}", args.join(" ")),
        )
    }

    /// `status --json` as parsed JSON rows.
    pub fn status(&self) -> Vec<Value> {
        let out = self.ctl_ok(&["status", "--json"]);
        serde_json::from_str(&out).expect("status JSON")
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

impl Drop for Sandbox {
    /// Kills every service process the test's daemon started (see `cleanup.rs`).
    fn drop(&mut self) {
        kill_services(self.path());
    }
}
