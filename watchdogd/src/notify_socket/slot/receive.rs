//! A datagram arriving: parsed, its sender recognised (or the datagram parked while a start is
//! under way, or refused), its fields applied to the slot, and the owner woken only for what it
//! must act on (see the module note of [`super`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Heard, Inner, MAX_PARKED, MAX_USEC, Slot, held_back};
use crate::clock::Point;
use crate::notify_socket::message::{self, Message, Watchdog};
use crate::notify_socket::sender::{self, Credentials};
use crate::proc_facts;

impl Slot {
    /// One datagram from `creds` (`truncated`: it did not fit the buffer).
    pub fn receive(self: &Arc<Self>, creds: Credentials, bytes: &[u8], truncated: bool) {
        let parsed = if truncated {
            message::Parsed {
                message: Message::default(),
                problem: Some(message::Malformed::Truncated),
            }
        } else {
            message::parse(bytes)
        };
        let mut inner = self.lock();
        let mut wake = false;
        if let Some(problem) = parsed.problem {
            self.malformed.fetch_add(1, Ordering::Relaxed);
            if let Some(held) = inner.malformed_log.allow() {
                tracing::warn!(target: "notify", "{}: ignored {problem} from pid {}{}", self.key, creds.pid, held_back(held));
            }
            inner.check_news = true;
            wake = true;
        }
        let m = parsed.message;
        if m != Message::default() {
            match inner.authenticate(creds) {
                Ok(speaks_for) => {
                    self.accepted.fetch_add(1, Ordering::Relaxed);
                    wake |= self.apply(&mut inner, &m, creds.pid, speaks_for);
                }
                Err(_) if inner.starting && inner.parked.len() < MAX_PARKED => {
                    inner.parked.push((creds, bytes.to_vec()));
                }
                Err(why) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    if let Some(held) = inner.refusals.allow() {
                        tracing::warn!(target: "notify", "{}: dropped a message: {why}{}", self.key, held_back(held));
                    }
                    inner.check_news = true;
                    wake = true;
                }
            }
        }
        drop(inner);
        if m.ready {
            self.ready.notify_waiters();
        }
        if wake {
            self.wake();
        }
    }

    /// Applies an accepted message; whether the owner is to hear of it.
    fn apply(&self, inner: &mut Inner, m: &Message<'_>, sender: i32, speaks_for: i32) -> bool {
        let now = Point::now();
        let heard = Heard {
            at: now,
            wall_us: protocol::time::now_micros(),
            pid: speaks_for,
        };
        // What a check should look at now; a new STATUS= text only needs showing.
        let mut check = false;
        if m.is_beat() {
            check |= inner.beat.is_none();
            inner.before = inner.beat.map(|b| b.at);
            inner.beat = Some(heard);
            inner.beats += 1;
        }
        if m.ready {
            check |= !inner.ready;
            inner.ready = true;
        }
        if m.watchdog == Some(Watchdog::Trigger) {
            inner.trigger = Some(heard);
            check = true;
        }
        let mut status = false;
        if let Some(text) = m.status
            && inner.status.as_deref() != Some(text)
        {
            // Reuses the old text's room: a service cycling through short texts allocates once.
            let kept = inner.status.get_or_insert_with(String::new);
            kept.clear();
            kept.push_str(text);
            inner.status_news = true;
            status = true;
        }
        if let Some(target) = m.mainpid {
            check |= self.take_mainpid(inner, target as i32, sender);
        }
        check |= m.stopping && !std::mem::replace(&mut inner.stopping, true);
        if let Some(e) = m.errno {
            check |= inner.errno.replace(e) != Some(e);
        }
        if let Some(us) = m.watchdog_usec {
            let d = Duration::from_micros(us.min(MAX_USEC));
            check |= inner.watchdog_usec.replace(d) != Some(d);
        }
        if let Some(us) = m.extend_timeout_usec {
            let until = now.boot_us.saturating_add(us.min(MAX_USEC) as i64);
            inner.extend_until = Some(inner.extend_until.map_or(until, |u| u.max(until)));
        }
        if m.fdstore
            && let Some(held) = inner.fdstore_log.allow()
        {
            tracing::warn!(target: "notify", "{}: FDSTORE=1 refused: watchdogd keeps no descriptors for services; the descriptors sent were closed{}", self.key, held_back(held));
        }
        inner.check_news |= check;
        check || status
    }

    /// `MAINPID=target` from an accepted sender: taken when [`sender::may_name`] allows.
    fn take_mainpid(&self, inner: &mut Inner, target: i32, sender: i32) -> bool {
        let found = proc_facts::membership(target);
        let owner = inner.uid.and_then(|_| proc_facts::owner_uid(target));
        let members = inner.members();
        match sender::may_name(target, found, owner, sender, &members) {
            Ok(()) => {
                let ticks = found.map_or(0, |f| f.start_ticks);
                let changed = inner.mainpid != Some((target, ticks));
                inner.mainpid = Some((target, ticks));
                inner.known = None;
                if let Some(beat) = &mut inner.beat {
                    beat.pid = target;
                }
                changed
            }
            Err(why) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                if let Some(held) = inner.refusals.allow() {
                    tracing::warn!(target: "notify", "{}: {why}; ignored{}", self.key, held_back(held));
                }
                true
            }
        }
    }
}
