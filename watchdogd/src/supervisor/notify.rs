//! The owner's side of the notify sockets ([`crate::notify_socket`]): making them as the config
//! says, checking a notify service (at once, with no file to read), and acting on a slot's news.
//!
//! A notify-only service's check needs no reader thread: its verdict is judged in the owner
//! from the slot (one `/proc` read at most, none while a pidfd watches the process) and goes
//! through the same path as a file check's result. A `"both"` service's file is read as
//! usual, and its verdict combined with the socket's when the read comes back.

use super::Supervisor;
use super::service::{Service, ServiceCounters};
use crate::clock::Now;
use crate::config::HeartbeatSource;
use crate::health::Verdict;
use crate::notify_socket::{Registry, Slot};
use crate::probe::Probe;

/// A `"both"` service's file verdict, combined with its socket's; any other's as it is.
pub(super) fn combine(notify: &Registry, svc: &Service, file: Verdict, now: &Now) -> Verdict {
    if svc.cfg().heartbeat != HeartbeatSource::Both {
        return file;
    }
    let slot = notify.slot(svc.key());
    crate::notify_socket::verdict(slot.as_deref(), Some(file), svc.cfg(), &svc.known(), now)
}

impl Supervisor {
    /// Makes the sockets the config asks for; a service's slot learns the session watchdogd
    /// last started for it (what it remembers across a daemon restart), unless a start since
    /// told it a newer one.
    pub(super) fn sync_notify(&mut self) {
        self.notify.sync(&self.config);
        for svc in &self.services {
            if let Some(slot) = self.notify.slot(svc.key()) {
                slot.adopt_session(svc.started_session());
            }
        }
    }

    /// A notify-only service's check, made now: `None` for a service that reads a file.
    pub(super) fn notify_probe(&self, idx: usize, now: &Now) -> Option<Probe> {
        let svc = &self.services[idx];
        if svc.cfg().heartbeat != HeartbeatSource::Notify {
            return None;
        }
        let started = std::time::Instant::now();
        let slot = self.notify.slot(svc.key());
        let verdict =
            crate::notify_socket::verdict(slot.as_deref(), None, svc.cfg(), &svc.known(), now);
        Some(Probe {
            idx,
            epoch: self.epoch,
            cfg: svc.cfg().clone(),
            verdict,
            cache: None,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    /// A slot has news: a new `STATUS=` text is shown, anything else checked now.
    pub(super) fn on_notified(&mut self, slot: &Slot) {
        let news = slot.take_news();
        let Some(&idx) = self.index.get(slot.key()) else {
            return;
        };
        if let Some(text) = news.status {
            self.services[idx].set_status_text(text);
        }
        if news.check {
            self.check_now(idx);
        }
        // The counters changed too: the next snapshot shows them.
        self.dirty = true;
    }

    /// A service's counters, with its notify socket's.
    pub(super) fn counters_of(&self, svc: &Service) -> ServiceCounters {
        let mut counters = svc.counters();
        if svc.cfg().heartbeat.uses_notify() {
            counters.notify = self.notify.slot(svc.key()).map(|s| s.counts());
        }
        counters
    }
}
