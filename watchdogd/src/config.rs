//! The config file: the seed's JSON format, normalized and validated into a [`Config`].
//!
//! Why it is read by hand from a `serde_json::Value` rather than derived: an operator editing a
//! file with twenty services wants every mistake listed in one go, each naming the process key and
//! the field, and old or hand-edited files (the seed's flat format, a typo in an optional field)
//! must still load with a warning instead of being refused. A derived `Deserialize` stops at the
//! first error and cannot warn.
//!
//! Invariants of a [`Config`] that loaded: every path is absolute (relative ones are resolved
//! against the config file's folder), every default is filled in, every process has a `start`
//! command and every recovery action other than the built-in `kill` has a command. The file is
//! checked, not the machine: scripts are not looked at, and only a missing `working_dir` is
//! noticed (as a warning).

mod fields;
mod folder;
mod validation;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

/// The fields a config file may have at the top level. Anything else loads with a warning.
/// A new global setting is added here and read in `validation.rs`.
pub const GLOBAL_FIELDS: &[&str] = &[
    "log_level",
    "db_path",
    "lock_path",
    "log_dir",
    "socket_path",
    "consecutive_failures_threshold",
    "kill_timeout",
    "cleanup_timeout",
    "verify_delay",
    "cleanup_args",
    "check_interval_seconds",
    "max_restarts",
    "restart_window_seconds",
    "backoff_max_seconds",
    "on_give_up",
    "socket_mode",
    "socket_group",
    "control_users",
    "control_groups",
    "read_users",
    "read_groups",
    "history_retention_days",
    "metrics_textfile",
    "healthy_sample_seconds",
    "max_parallel_recoveries",
    "notify_dir",
    "processes",
];

/// The fields a process may have, including the seed's deprecated flat ones. Anything else loads
/// with a warning.
pub const PROCESS_FIELDS: &[&str] = &[
    "display_name",
    "timeout_seconds",
    "heartbeat",
    "heartbeat_path",
    "enabled",
    "commands",
    "recovery_actions",
    "disabled_actions",
    "check_interval_seconds",
    "consecutive_failures_threshold",
    "start_grace_seconds",
    "working_dir",
    "user",
    "group",
    "env",
    "stdout_log",
    "stderr_log",
    "max_restarts",
    "restart_window_seconds",
    "backoff_max_seconds",
    "on_give_up",
    "stall_seconds",
    "startup_command",
    "cleanup_script",
];

/// `log_level` when the file names none.
pub const DEFAULT_LOG_LEVEL: &str = "INFO";
/// The accepted `log_level` values (compared case-insensitively, stored upper-case).
pub const LOG_LEVELS: &[&str] = &["DEBUG", "INFO", "WARNING", "WARN", "ERROR"];
/// `consecutive_failures_threshold` when the file names none (the seed's default).
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 2;
/// `kill_timeout` when the file names none: how long SIGTERM gets before SIGKILL.
pub const DEFAULT_KILL_TIMEOUT: Duration = Duration::from_secs(10);
/// `cleanup_timeout` when the file names none: how long a cleanup script may run.
pub const DEFAULT_CLEANUP_TIMEOUT: Duration = Duration::from_secs(60);
/// `verify_delay` when the file names none: a start that exits sooner has failed.
pub const DEFAULT_VERIFY_DELAY: Duration = Duration::from_secs(2);
/// `check_interval_seconds` when the file names none.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// `cleanup_args` when the file names none: appended to every cleanup command.
pub const DEFAULT_CLEANUP_ARGS: &[&str] = &["--force"];
/// The largest duration accepted anywhere (ten years). Far beyond any sane setting, and small
/// enough that adding it to an `Instant` can never overflow.
/// `max_restarts` when the file names none: automatic recoveries allowed per window.
pub const DEFAULT_MAX_RESTARTS: u32 = 5;
/// `restart_window_seconds` when the file names none.
pub const DEFAULT_RESTART_WINDOW: Duration = Duration::from_secs(300);
/// `backoff_max_seconds` when the file names none.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(300);
pub const MAX_SECONDS: f64 = 315_360_000.0;
/// `recovery_actions` when a process names none: the seed's default (an action without a
/// command is left out, with a warning).
pub const DEFAULT_RECOVERY_ACTIONS: &[&str] = &["kill", "clear_db", "start"];
/// The built-in action: it needs no command, and a `commands.kill` is ignored.
pub const KILL_ACTION: &str = "kill";
/// The action whose command every process must have.
pub const START_ACTION: &str = "start";

/// A validated config: every path absolute, every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file this was loaded from (absolute).
    pub source: PathBuf,
    /// The folder relative paths resolve against (the config file's folder).
    pub base_dir: PathBuf,
    /// `log_level`: one of DEBUG, INFO, WARNING (or WARN), ERROR; stored upper-case.
    pub log_level: String,
    /// `db_path`: the SQLite database; default `<state dir>/watchdog.db`.
    pub db_path: PathBuf,
    /// `lock_path`: the single-instance lock; default `watchdogd.lock` beside the socket.
    pub lock_path: PathBuf,
    /// `log_dir`: where daily log files go, if anywhere.
    pub log_dir: Option<PathBuf>,
    /// `socket_path`: the control socket; default per platform and user.
    pub socket_path: PathBuf,
    /// `consecutive_failures_threshold`: the default for processes that name none.
    pub consecutive_failures_threshold: u32,
    /// `kill_timeout`: time between SIGTERM and SIGKILL.
    pub kill_timeout: Duration,
    /// `cleanup_timeout`: how long a cleanup command may run.
    pub cleanup_timeout: Duration,
    /// `verify_delay`: a started command that exits within this has failed (may be zero).
    pub verify_delay: Duration,
    /// `cleanup_args`: appended to every command other than `start`.
    pub cleanup_args: Vec<String>,
    /// `check_interval_seconds`: the default for processes that name none.
    pub check_interval: Duration,
    /// The global flap policy each process inherits unless it overrides a part.
    pub flap: FlapPolicy,
    /// `on_give_up`: the global alert command, run once when a service gives up.
    pub on_give_up: Option<String>,
    /// Who may talk to the control socket.
    pub access: AccessConfig,
    /// `history_retention_days`: audit rows older than this are pruned.
    pub history_retention: Duration,
    /// `metrics_textfile`: rewritten with OpenMetrics text about once a second (node_exporter).
    pub metrics_textfile: Option<PathBuf>,
    /// The socket (and lock) came from `watchdogd --socket`, not the file: a reload keeps them.
    pub socket_from_command_line: bool,
    /// `healthy_sample_seconds`: a healthy check is written to the audit log at most this often
    /// per service (state changes and unhealthy checks always are); zero writes every check.
    pub healthy_sample: Duration,
    /// `max_parallel_recoveries`: most pipelines running at once; the rest wait in order.
    pub max_parallel_recoveries: usize,
    /// `notify_dir`: where the notify sockets of `"heartbeat": "notify"` services are made;
    /// `None`: beside the control socket's folder (see [`Config::notify_dir`]).
    pub notify_dir: Option<PathBuf>,
    /// By key, in key order.
    pub processes: BTreeMap<String, Arc<ProcessConfig>>,
}

/// One supervised service.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessConfig {
    /// The key under `processes`: no whitespace, no `/`, not empty.
    pub key: String,
    /// `display_name`; the key when the file names none.
    pub display_name: String,
    /// `timeout_seconds`: a heartbeat older than this is timed out.
    pub timeout: Duration,
    /// `heartbeat`: where its heartbeats come from (a file, notify datagrams, or both).
    pub heartbeat: HeartbeatSource,
    /// `heartbeat_path`, resolved: always there for a `file` or `both` heartbeat, never for
    /// `notify`. No two processes share one.
    pub heartbeat_path: Option<PathBuf>,
    /// `enabled`; default true. Disabled processes are validated but not supervised.
    pub enabled: bool,
    /// Action name → shell command. Always has `start`; never has `kill` (built in).
    pub commands: BTreeMap<String, String>,
    /// `recovery_actions`, in order, without duplicates; each has a command unless it is `kill`.
    pub recovery_actions: Vec<String>,
    /// `disabled_actions`: skipped when the pipeline runs.
    pub disabled_actions: Vec<String>,
    /// `check_interval_seconds`, or the global one.
    pub check_interval: Duration,
    /// `consecutive_failures_threshold`, or the global one.
    pub failure_threshold: u32,
    /// `start_grace_seconds`: after a start, how long the service has to write a fresh heartbeat
    /// before it can count as failing; default its `timeout_seconds`.
    pub start_grace: Duration,
    /// Where commands run: `working_dir` resolved, else the config's folder.
    pub working_dir: PathBuf,
    /// Run the service and its scripts as this user (name or numeric uid); root daemons only.
    pub user: Option<String>,
    /// And as this group (name or numeric gid); default: the user's primary group.
    pub group: Option<String>,
    /// Extra environment for the start command and scripts.
    pub env: BTreeMap<String, String>,
    /// Append the start command's stdout here instead of discarding it.
    pub stdout_log: Option<PathBuf>,
    /// Append the start command's stderr here instead of discarding it.
    pub stderr_log: Option<PathBuf>,
    pub flap: FlapPolicy,
    /// The alert command run once when this service gives up (falls back to the global one).
    pub on_give_up: Option<String>,
    /// `stall_seconds`: unhealthy (`stalled`) when `iteration` has not grown for this long.
    pub stall: Option<Duration>,
}

/// Where a service's heartbeats come from (`heartbeat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeartbeatSource {
    /// The heartbeat file at `heartbeat_path` (the seed's way, the default).
    #[default]
    File,
    /// systemd's notify protocol on a socket the daemon makes for the service.
    Notify,
    /// Both, and both must be fresh.
    Both,
}

impl HeartbeatSource {
    pub fn as_str(self) -> &'static str {
        match self {
            HeartbeatSource::File => "file",
            HeartbeatSource::Notify => "notify",
            HeartbeatSource::Both => "both",
        }
    }

    pub fn parse(name: &str) -> Option<HeartbeatSource> {
        match name {
            "file" => Some(HeartbeatSource::File),
            "notify" => Some(HeartbeatSource::Notify),
            "both" => Some(HeartbeatSource::Both),
            _ => None,
        }
    }

    /// Whether the daemon makes a notify socket for the service.
    pub fn uses_notify(self) -> bool {
        self != HeartbeatSource::File
    }

    /// Whether a heartbeat file is read.
    pub fn uses_file(self) -> bool {
        self != HeartbeatSource::Notify
    }
}

/// The control socket's permissions and who may do what through it (names or numeric ids).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccessConfig {
    /// `socket_mode`: the socket file's mode (default 0600).
    pub socket_mode: u32,
    /// `socket_group`: the socket's group (and its folder's, made 0750 when the daemon creates it).
    pub socket_group: Option<String>,
    /// May run every command.
    pub control_users: Vec<String>,
    pub control_groups: Vec<String>,
    /// May only read (status, wait).
    pub read_users: Vec<String>,
    pub read_groups: Vec<String>,
}

/// `socket_mode` when the file names none.
pub const DEFAULT_SOCKET_MODE: u32 = 0o600;
/// `max_parallel_recoveries` when the file names none: enough to recover a handful of services
/// at once without delay, few enough that a storm of thousands never starves the daemon.
pub const DEFAULT_MAX_PARALLEL_RECOVERIES: u32 = 32;
/// `healthy_sample_seconds` when the file names none.
pub const DEFAULT_HEALTHY_SAMPLE: Duration = Duration::from_secs(60);
/// `history_retention_days` when the file names none.
pub const DEFAULT_RETENTION_DAYS: f64 = 30.0;

/// Flap protection: how many automatic recoveries are allowed in a window before the service
/// is given up on, and how attempts continue after that.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlapPolicy {
    /// `max_restarts`: automatic recoveries allowed within `window`.
    pub max_restarts: u32,
    /// `restart_window_seconds`: also how long a service must stay healthy to be forgiven.
    pub window: Duration,
    /// `backoff_max_seconds`: the cap of the exponential backoff between attempts once given
    /// up; zero means no further automatic attempts at all.
    pub backoff_max: Duration,
}

impl ProcessConfig {
    /// `recovery_actions` minus `disabled_actions`, in order.
    pub fn effective_actions(&self) -> impl Iterator<Item = &str> {
        self.recovery_actions
            .iter()
            .filter(|a| !self.disabled_actions.contains(a))
            .map(String::as_str)
    }

    /// This process in the file format, normalized (see [`Config::to_json`]).
    pub fn to_json(&self) -> Value {
        json!({
            "display_name": self.display_name,
            "timeout_seconds": seconds_json(self.timeout),
            "heartbeat": self.heartbeat.as_str(),
            "heartbeat_path": self.heartbeat_path.as_deref().map(path_json),
            "enabled": self.enabled,
            "commands": self.commands,
            "recovery_actions": self.recovery_actions,
            "disabled_actions": self.disabled_actions,
            "check_interval_seconds": seconds_json(self.check_interval),
            "consecutive_failures_threshold": self.failure_threshold,
            "start_grace_seconds": seconds_json(self.start_grace),
            "working_dir": path_json(&self.working_dir),
            "user": self.user,
            "group": self.group,
            "env": self.env,
            "stdout_log": self.stdout_log.as_deref().map(path_json),
            "stderr_log": self.stderr_log.as_deref().map(path_json),
            "max_restarts": self.flap.max_restarts,
            "restart_window_seconds": seconds_json(self.flap.window),
            "backoff_max_seconds": seconds_json(self.flap.backoff_max),
            "on_give_up": self.on_give_up,
            "stall_seconds": self.stall.map(seconds_json),
        })
    }
}

impl Config {
    /// The folder of the notify sockets: `notify_dir`, or else a folder beside the control
    /// socket's own, named after it with `-notify` (`/run/watchdogd/watchdogd.sock` →
    /// `/run/watchdogd-notify`): the control socket's folder is private to root, and a
    /// service's user must reach its own notify socket.
    pub fn notify_dir(&self) -> PathBuf {
        if let Some(dir) = &self.notify_dir {
            return dir.clone();
        }
        let socket_dir = self
            .socket_path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("/"));
        match socket_dir.file_name() {
            Some(name) => {
                let mut name = name.to_os_string();
                name.push("-notify");
                socket_dir.with_file_name(name)
            }
            None => socket_dir.join("watchdogd-notify"),
        }
    }

    /// The normalized config in the file format, for `watchdogd --check-config`: the same field
    /// names as the file, durations as seconds, every default written out and every path
    /// absolute, so [`parse`] of it gives an equal `Config` (for the same source path).
    pub fn to_json(&self) -> Value {
        let mut root = Map::new();
        root.insert("log_level".into(), json!(self.log_level));
        root.insert("db_path".into(), path_json(&self.db_path));
        root.insert("lock_path".into(), path_json(&self.lock_path));
        if let Some(dir) = &self.log_dir {
            root.insert("log_dir".into(), path_json(dir));
        }
        root.insert("socket_path".into(), path_json(&self.socket_path));
        root.insert(
            "consecutive_failures_threshold".into(),
            json!(self.consecutive_failures_threshold),
        );
        root.insert("kill_timeout".into(), seconds_json(self.kill_timeout));
        root.insert("cleanup_timeout".into(), seconds_json(self.cleanup_timeout));
        root.insert("verify_delay".into(), seconds_json(self.verify_delay));
        root.insert("cleanup_args".into(), json!(self.cleanup_args));
        root.insert(
            "check_interval_seconds".into(),
            seconds_json(self.check_interval),
        );
        root.insert("max_restarts".into(), json!(self.flap.max_restarts));
        root.insert(
            "restart_window_seconds".into(),
            seconds_json(self.flap.window),
        );
        root.insert(
            "backoff_max_seconds".into(),
            seconds_json(self.flap.backoff_max),
        );
        if let Some(cmd) = &self.on_give_up {
            root.insert("on_give_up".into(), json!(cmd));
        }
        let a = &self.access;
        root.insert(
            "socket_mode".into(),
            json!(format!("{:04o}", a.socket_mode)),
        );
        if let Some(g) = &a.socket_group {
            root.insert("socket_group".into(), json!(g));
        }
        root.insert("control_users".into(), json!(a.control_users));
        root.insert("control_groups".into(), json!(a.control_groups));
        root.insert("read_users".into(), json!(a.read_users));
        root.insert("read_groups".into(), json!(a.read_groups));
        root.insert(
            "healthy_sample_seconds".into(),
            seconds_json(self.healthy_sample),
        );
        root.insert(
            "max_parallel_recoveries".into(),
            json!(self.max_parallel_recoveries),
        );
        if let Some(p) = &self.metrics_textfile {
            root.insert("metrics_textfile".into(), path_json(p));
        }
        if let Some(p) = &self.notify_dir {
            root.insert("notify_dir".into(), path_json(p));
        }
        root.insert(
            "history_retention_days".into(),
            json!(self.history_retention.as_secs_f64() / 86_400.0),
        );
        let processes: Map<String, Value> = self
            .processes
            .iter()
            .map(|(key, process)| (key.clone(), process.to_json()))
            .collect();
        root.insert("processes".into(), Value::Object(processes));
        Value::Object(root)
    }
}

/// Whole seconds as an integer (as people write them), otherwise a float.
fn seconds_json(duration: Duration) -> Value {
    if duration.subsec_nanos() == 0 {
        json!(duration.as_secs())
    } else {
        json!(duration.as_secs_f64())
    }
}

fn path_json(path: &Path) -> Value {
    Value::String(path.to_string_lossy().into_owned())
}

/// A config that loaded, and what in it deserves a look without stopping the daemon.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated config.
    pub config: Config,
    /// Non-fatal findings (unknown fields, deprecated format, …), each naming the field.
    pub warnings: Vec<String>,
}

/// Why a config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The config file (absolute).
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not JSON at all.
    #[error("config {path} is not valid JSON: {message}")]
    Json {
        /// The config file (absolute).
        path: PathBuf,
        /// serde_json's message, with line and column.
        message: String,
    },
    /// The file is JSON but breaks the rules; every problem found is listed.
    #[error("config {path} is invalid:{}{}", bullet_list(.problems), warning_list(.warnings))]
    Invalid {
        /// The config file (absolute).
        path: PathBuf,
        /// Each problem names its field, e.g. `processes.api.timeout_seconds: …`.
        problems: Vec<String>,
        /// Warnings found on the way: a misspelled field often explains a "missing" one.
        warnings: Vec<String>,
    },
}

fn warning_list(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    format!("\nwarnings:{}", bullet_list(items))
}

fn bullet_list(items: &[String]) -> String {
    items.iter().map(|item| format!("\n  - {item}")).collect()
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let path = absolute(path);
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    parse(&text, &path)
}

/// Validates config text; `source` is the file it came from, against whose folder relative paths
/// resolve (it is not read).
pub fn parse(text: &str, source: &Path) -> Result<Loaded, ConfigError> {
    let source = absolute(source);
    let root: Value = serde_json::from_str(text).map_err(|e| ConfigError::Json {
        path: source.clone(),
        message: e.to_string(),
    })?;
    let mut findings = validation::Findings::default();
    let config = validation::build(&root, &source, &mut findings);
    match config {
        Some(config) if findings.problems.is_empty() => Ok(Loaded {
            config,
            warnings: findings.warnings,
        }),
        _ => {
            let mut problems = findings.problems;
            if problems.is_empty() {
                // `build` only gives up after recording why; this keeps the error non-empty
                // should that ever change.
                problems.push("the config could not be built".into());
            }
            Err(ConfigError::Invalid {
                path: source,
                problems,
                warnings: findings.warnings,
            })
        }
    }
}

/// `path` made absolute against the current folder, without touching the file system.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
