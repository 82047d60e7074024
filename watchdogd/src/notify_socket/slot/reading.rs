//! What the owner reads of a slot: the [`Reading`] a check judges, and the notify side of the
//! detail view.

use std::time::Duration;

use protocol::Heartbeat;

use super::Slot;
use crate::clock::{Now, Point};
use crate::heartbeat::{Beat, Reading, Seen};

impl Slot {
    /// What a check judges (see the module note), and the timeout to judge it by: `timeout`,
    /// or the service's `WATCHDOG_USEC=`, stretched to an `EXTEND_TIMEOUT_USEC=` deadline.
    pub fn reading(&self, timeout: Duration) -> (Reading, Duration) {
        let inner = self.lock();
        if let Some(why) = &inner.broken {
            return (
                Reading::Corrupt(format!("notify socket unavailable: {why}")),
                timeout,
            );
        }
        let (heard, status, before) = match (inner.trigger, inner.beat) {
            (Some(t), _) => (t, "WATCHDOG=trigger", None),
            (None, Some(b)) => (b, "running", inner.before),
            (None, None) => {
                let ago = (Point::now().boot_us - inner.since.boot_us) as f64 / 1e6;
                return (
                    Reading::Corrupt(format!(
                        "no READY=1 or WATCHDOG=1 on the notify socket {} in the {ago:.1}s since it was made or the service was last started",
                        self.path.display()
                    )),
                    timeout,
                );
            }
        };
        let mut timeout = inner.watchdog_usec.unwrap_or(timeout);
        if let Some(until) = inner.extend_until {
            let left = Duration::from_micros(until.saturating_sub(heard.at.boot_us).max(0) as u64);
            timeout = timeout.max(left);
        }
        let beat = Beat {
            heartbeat: Heartbeat {
                process_key: self.key.clone(),
                pid: i64::from(heard.pid),
                timestamp_us: heard.wall_us,
                status: status.to_owned(),
                iteration: Some(inner.beats),
            },
            modified_us: heard.wall_us,
            owner_uid: inner.uid.unwrap_or_else(crate::guard::daemon_uid),
            stamp: Default::default(),
            seen: Seen {
                first: heard.at,
                before,
                last: Point::now(),
            },
            via_link: false,
        };
        (Reading::Beat(beat), timeout)
    }

    /// The notify side of the detail view: where the socket is and what it counted, and what
    /// the service said last.
    pub fn describe(&self, now: &Now) -> (String, String) {
        let c = self.counts();
        let inner = self.lock();
        let source = format!(
            "notify socket {} (messages: {} accepted, {} dropped as not the service's, {} malformed)",
            self.path.display(),
            c.accepted,
            c.dropped,
            c.malformed
        );
        let ago = |p: Point| (now.boot_us - p.boot_us) as f64 / 1e6;
        let mut said = Vec::new();
        if let Some(why) = &inner.broken {
            said.push(format!("socket unavailable: {why}"));
        }
        said.push(format!(
            "READY={}",
            if inner.ready { "1" } else { "not yet" }
        ));
        match inner.beat {
            Some(b) => said.push(format!(
                "last WATCHDOG=1/READY=1 {:.1}s ago for pid {} ({} since start)",
                ago(b.at),
                b.pid,
                inner.beats
            )),
            None => said.push("no WATCHDOG=1 since start".into()),
        }
        if let Some(t) = inner.trigger {
            said.push(format!("WATCHDOG=trigger {:.1}s ago", ago(t.at)));
        }
        if let Some((pid, _)) = inner.mainpid {
            said.push(format!("MAINPID={pid}"));
        }
        if let Some(text) = &inner.status {
            said.push(format!("STATUS={text:?}"));
        }
        if let Some(d) = inner.watchdog_usec {
            said.push(format!("WATCHDOG_USEC={}", d.as_micros()));
        }
        if inner.stopping {
            said.push("STOPPING=1".into());
        }
        if let Some(e) = inner.errno {
            said.push(format!("ERRNO={e}"));
        }
        (source, said.join("; "))
    }
}
