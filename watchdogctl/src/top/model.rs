//! What the dashboard knows about the daemon and its services, kept current by the watch
//! stream's frames. Pure: every change comes in as a value with the local time (`now_ms`, the
//! dashboard's own monotonic milliseconds), so it is tested without a daemon or a terminal.
//!
//! Heartbeat ages tick between checks: a row's age is the age the daemon measured at its last
//! check plus the time since that check's row arrived. Measuring "since" on the local clock
//! keeps the tick right when the daemon's host (over `-H`) has another idea of the time.

use std::collections::BTreeMap;

use protocol::{
    EventKind, EventRecord, Health, HistoryEntry, HistoryKind, ServiceStatus, StatusChanges,
    StatusReply,
};

use super::strip::Strip;
use super::tone::Tone;

/// The daemon's own facts, from the last status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    pub version: String,
    pub pid: u32,
    pub started_ms: i64,
    pub audit_rows_dropped: u64,
}

/// The state of the connection to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Not yet connected (first attempt).
    Connecting,
    /// The stream is open and the screen is current.
    Live,
    /// The daemon went away (or never answered); reconnecting by itself.
    Lost { why: String },
}

/// One service's row.
#[derive(Debug, Clone)]
pub struct Entry {
    pub status: ServiceStatus,
    /// Local ms at which its current `heartbeat_age_ms` arrived.
    pub aged_from_ms: i64,
    pub strip: Strip,
}

impl Entry {
    fn new(status: ServiceStatus, now_ms: i64) -> Entry {
        let mut entry = Entry {
            status,
            aged_from_ms: now_ms,
            strip: Strip::default(),
        };
        entry.note_check();
        entry
    }

    /// Takes a newer status; a new check resets the age's tick and adds to the strip.
    fn update(&mut self, status: ServiceStatus, now_ms: i64) {
        let checked = status.last_check_ms != self.status.last_check_ms
            || status.heartbeat_age_ms != self.status.heartbeat_age_ms;
        self.status = status;
        if checked {
            self.aged_from_ms = now_ms;
            self.note_check();
        }
    }

    fn note_check(&mut self) {
        if let (Some(at), Some(h)) = (self.status.last_check_ms, self.status.health) {
            self.strip.push(at, h);
        }
    }

    /// The heartbeat's age now: as measured at the last check, plus the time since.
    pub fn age_ms(&self, now_ms: i64) -> Option<i64> {
        self.status
            .heartbeat_age_ms
            .map(|a| a.saturating_add(now_ms.saturating_sub(self.aged_from_ms).max(0)))
    }
}

#[derive(Debug, Clone)]
pub struct Model {
    pub daemon: Option<Daemon>,
    pub services: BTreeMap<String, Entry>,
    pub link: Link,
    /// The latest live event, as one line, for the status line.
    pub last_event: Option<String>,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            daemon: None,
            services: BTreeMap::new(),
            link: Link::Connecting,
            last_event: None,
        }
    }
}

impl Model {
    /// A full status (the first frame of each connection): it replaces every row; the strips
    /// of keys still there are kept.
    pub fn on_status(&mut self, reply: StatusReply, now_ms: i64) {
        self.daemon = Some(Daemon {
            version: reply.daemon_version,
            pid: reply.daemon_pid,
            started_ms: reply.daemon_started_ms,
            audit_rows_dropped: reply.audit_rows_dropped,
        });
        let mut old = std::mem::take(&mut self.services);
        for status in reply.services {
            let entry = match old.remove(&status.key) {
                Some(mut e) => {
                    e.update(status, now_ms);
                    e
                }
                None => Entry::new(status, now_ms),
            };
            self.services.insert(entry.status.key.clone(), entry);
        }
        self.link = Link::Live;
    }

    pub fn on_changes(&mut self, changes: StatusChanges, now_ms: i64) {
        if let Some(d) = &mut self.daemon {
            d.audit_rows_dropped = changes.audit_rows_dropped;
        }
        for key in &changes.removed {
            self.services.remove(key);
        }
        for status in changes.services {
            match self.services.get_mut(&status.key) {
                Some(e) => e.update(status, now_ms),
                None => {
                    self.services
                        .insert(status.key.clone(), Entry::new(status, now_ms));
                }
            }
        }
    }

    pub fn on_event(&mut self, event: &EventRecord) {
        if event.kind == EventKind::Lagged {
            return;
        }
        let line = crate::audit::event_line(event);
        self.last_event = Some(line.trim_end().to_owned());
    }

    pub fn on_lost(&mut self, why: String) {
        self.link = Link::Lost { why };
    }

    /// Fills the strips in from the audit log's check rows (any order).
    pub fn seed(&mut self, entries: &[HistoryEntry]) {
        let mut by_key: BTreeMap<&str, Vec<(i64, Health)>> = BTreeMap::new();
        for e in entries {
            if let (HistoryKind::Check, Some(h)) = (e.kind, e.health) {
                by_key.entry(&e.key).or_default().push((e.at_ms, h));
            }
        }
        for (key, checks) in by_key {
            if let Some(entry) = self.services.get_mut(key) {
                entry.strip.seed(checks);
            }
        }
    }

    /// Services by health for the header: `healthy`, then each other health, then those not
    /// checked yet, each with its tone.
    pub fn counts(&self) -> Vec<(String, usize, Tone)> {
        let mut by: BTreeMap<(u8, &'static str), usize> = BTreeMap::new();
        for e in self.services.values() {
            let k = match e.status.health {
                Some(Health::Healthy) => (0, "healthy"),
                Some(h) => (1, h.as_str()),
                None => (2, "unchecked"),
            };
            *by.entry(k).or_default() += 1;
        }
        by.into_iter()
            .map(|((rank, name), n)| {
                let tone = match rank {
                    0 => Tone::Good,
                    1 => Tone::Bad,
                    _ => Tone::Dim,
                };
                (name.to_owned(), n, tone)
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use protocol::{PipelineResult, RecoverySummary, ServiceState, Trigger};

    pub fn status(key: &str, health: Option<Health>, pid: u32, checked: i64) -> ServiceStatus {
        ServiceStatus {
            key: key.into(),
            display_name: format!("Service {key}"),
            enabled: true,
            state: ServiceState::Running,
            health,
            pid: Some(pid),
            heartbeat_age_ms: Some(1000),
            consecutive_failures: 0,
            last_check_ms: Some(checked),
            last_recovery: Some(RecoverySummary {
                trigger: Trigger::Restart,
                started_ms: 0,
                finished_ms: 10,
                result: PipelineResult::Succeeded,
            }),
            detail: String::new(),
            clock_skew_ms: None,
            restarts_in_window: 0,
            next_attempt_ms: None,
            off_until_ms: None,
            monitoring_override: None,
            actions_disabled: Vec::new(),
            status_text: None,
        }
    }

    pub fn reply(services: Vec<ServiceStatus>) -> StatusReply {
        StatusReply {
            daemon_version: "0.1.0".into(),
            daemon_pid: 7,
            services,
            audit_rows_dropped: 0,
            daemon_started_ms: 0,
        }
    }

    #[test]
    fn changes_update_rows_strips_and_ages() {
        let mut m = Model::default();
        assert_eq!(m.link, Link::Connecting);
        m.on_status(
            reply(vec![
                status("a", Some(Health::Healthy), 1, 100),
                status("b", None, 2, 100),
            ]),
            1_000,
        );
        assert_eq!(m.link, Link::Live);
        let a = &m.services["a"];
        assert_eq!(a.age_ms(3_500), Some(3_500));
        assert_eq!(a.strip.len(), 1);
        // A state change alone does not reset the age; a check does, and adds a cell.
        let mut s = status("a", Some(Health::Healthy), 1, 100);
        s.state = ServiceState::Recovering;
        m.on_changes(
            StatusChanges {
                services: vec![s],
                removed: vec![],
                audit_rows_dropped: 4,
            },
            2_000,
        );
        assert_eq!(m.services["a"].age_ms(3_000), Some(3_000));
        m.on_changes(
            StatusChanges {
                services: vec![
                    status("a", Some(Health::StalePid), 1, 200),
                    status("c", None, 3, 0),
                ],
                removed: vec!["b".into()],
                audit_rows_dropped: 4,
            },
            2_500,
        );
        let a = &m.services["a"];
        assert_eq!(a.age_ms(3_000), Some(1_500));
        assert_eq!(a.strip.len(), 2);
        assert_eq!(m.services.keys().collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(m.daemon.as_ref().unwrap().audit_rows_dropped, 4);
    }

    #[test]
    fn a_reconnect_keeps_strips_of_keys_still_there() {
        let mut m = Model::default();
        m.on_status(reply(vec![status("a", Some(Health::Healthy), 1, 100)]), 0);
        m.on_lost("connection refused".into());
        assert!(matches!(m.link, Link::Lost { .. }));
        m.on_status(reply(vec![status("a", Some(Health::TimedOut), 1, 300)]), 10);
        assert_eq!(m.services["a"].strip.len(), 2);
        assert_eq!(m.link, Link::Live);
    }

    #[test]
    fn counts_by_health_and_seeding() {
        let mut m = Model::default();
        m.on_status(
            reply(vec![
                status("a", Some(Health::Healthy), 1, 100),
                status("b", Some(Health::StalePid), 2, 100),
                status("c", Some(Health::Healthy), 3, 100),
                status("d", None, 4, 100),
            ]),
            0,
        );
        let counts: Vec<(String, usize)> = m.counts().into_iter().map(|(n, c, _)| (n, c)).collect();
        assert_eq!(
            counts,
            [
                ("healthy".to_owned(), 2),
                ("stale_pid".to_owned(), 1),
                ("unchecked".to_owned(), 1)
            ]
        );
        let check = |key: &str, at_ms, health| HistoryEntry {
            kind: HistoryKind::Check,
            key: key.into(),
            at_ms,
            health: Some(health),
            pid: None,
            failures: None,
            trigger: None,
            outcome: String::new(),
            finished_ms: None,
            steps: vec![],
            message: String::new(),
        };
        m.seed(&[
            check("a", 50, Health::TimedOut),
            check("a", 40, Health::Healthy),
            check("gone", 40, Health::Healthy),
        ]);
        assert_eq!(m.services["a"].strip.len(), 3);
    }
}
