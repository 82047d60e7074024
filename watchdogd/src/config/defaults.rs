//! Every default and every known field name of the config file, in one place.
//!
//! A new setting adds its field name here (so that it loads without an "unknown field"
//! warning) and its default beside it; it is read in `validation.rs` (global) or `process.rs`
//! (per process).

use std::time::Duration;

/// The fields a config file may have at the top level. Anything else loads with a warning.
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
/// `max_restarts` when the file names none: automatic recoveries allowed per window.
pub const DEFAULT_MAX_RESTARTS: u32 = 5;
/// `restart_window_seconds` when the file names none.
pub const DEFAULT_RESTART_WINDOW: Duration = Duration::from_secs(300);
/// `backoff_max_seconds` when the file names none.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(300);
/// The largest duration accepted anywhere (ten years). Far beyond any sane setting, and small
/// enough that adding it to an `Instant` can never overflow.
pub const MAX_SECONDS: f64 = 315_360_000.0;
/// `recovery_actions` when a process names none: the seed's default (an action without a
/// command is left out, with a warning).
pub const DEFAULT_RECOVERY_ACTIONS: &[&str] = &["kill", "clear_db", "start"];
/// The built-in action: it needs no command, and a `commands.kill` is ignored.
pub const KILL_ACTION: &str = "kill";
/// The action whose command every process must have.
pub const START_ACTION: &str = "start";
/// `socket_mode` when the file names none.
pub const DEFAULT_SOCKET_MODE: u32 = 0o600;
/// `max_parallel_recoveries` when the file names none: enough to recover a handful of services
/// at once without delay, few enough that a storm of thousands never starves the daemon.
pub const DEFAULT_MAX_PARALLEL_RECOVERIES: u32 = 32;
/// `healthy_sample_seconds` when the file names none.
pub const DEFAULT_HEALTHY_SAMPLE: Duration = Duration::from_secs(60);
/// `history_retention_days` when the file names none.
pub const DEFAULT_RETENTION_DAYS: f64 = 30.0;
/// `timeout_seconds` when a process names none, as in the seed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
