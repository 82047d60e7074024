//! The normalized config in the file format (`watchdogd --check-config`): the same field names
//! as the file, durations as seconds, every default written out and every path absolute, so
//! [`super::parse`] of it gives an equal [`Config`] (for the same source path).

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::model::{Config, ProcessConfig};

impl ProcessConfig {
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
    /// The normalized config in the file format, for `watchdogd --check-config`: the same field
    /// names as the file, durations as seconds, every default written out and every path
    /// absolute, so [`super::parse`] of it gives an equal `Config` (for the same source path).
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
