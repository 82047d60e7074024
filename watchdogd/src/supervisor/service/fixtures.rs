//! What the service's table tests share: a service of one config, a verdict, a clock that
//! moves by whole seconds.

use std::sync::Arc;
use std::time::Duration;

use protocol::Health;
use tokio::time::Instant;

use crate::clock::Now;
use crate::health::Verdict;
use crate::supervisor::service::Service;

pub const S: Duration = Duration::from_secs(1);
pub const WALL0: i64 = 1_800_000_000_000_000;

pub fn service(extra: serde_json::Value) -> Service {
    let mut p = serde_json::json!({
        "timeout_seconds": 10,
        "heartbeat_path": "/hb.json",
        "commands": {"start": "true"},
        "consecutive_failures_threshold": 2,
        "stall_seconds": 5,
        "restart_window_seconds": 30,
    });
    p.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let text = serde_json::json!({ "processes": { "svc": p } }).to_string();
    let cfg = crate::config::parse(&text, std::path::Path::new("/c.json"))
        .unwrap()
        .config
        .processes["svc"]
        .clone();
    Service::new(Arc::clone(&cfg), None, &Now::at(Instant::now(), WALL0))
}

pub fn verdict(health: Health, iteration: u64, now: &Now) -> Verdict {
    Verdict {
        health,
        pid: Some(4242),
        heartbeat_us: Some(now.wall_us - 1_000_000),
        age_ms: Some(1000),
        detail: health.as_str().into(),
        iteration: Some(iteration),
        clock_skew_ms: None,
        start_ticks: None,
    }
}

/// A clock that starts with the test and moves by whole seconds.
pub struct Clock(pub Instant);

impl Clock {
    pub fn at(&self, secs: u64) -> Now {
        Now::at(self.0 + S * secs as u32, WALL0 + secs as i64 * 1_000_000)
    }
}
