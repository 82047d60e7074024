//! What a config that loaded is: the validated [`Config`] and its parts, every path absolute
//! and every default filled in. Built only by `validation.rs`; written back out in the file
//! format by `normal_form.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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
    /// The global flap policy with this process's own parts laid over it.
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
    /// Members of these groups may too.
    pub control_groups: Vec<String>,
    /// May only read (status, wait).
    pub read_users: Vec<String>,
    /// Members of these groups may too.
    pub read_groups: Vec<String>,
}

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
}
