//! The owner's bookkeeping of one service's checks, and its rules as pure methods: what a
//! timer pass finds ([`ProbeState::look`]), when the service is checked next once a read is sent
//! ([`ProbeState::sent`]), and whether a read that came back may be applied
//! ([`ProbeState::returned`]). The owner does the I/O (sending reads to the reader threads,
//! applying verdicts); these decide.
//!
//! Two clocks: scheduling runs on the runtime's clock (paused in tests), but whether a read is
//! stuck is a fact of the machine, so reads in flight are timed on the real clock.

use std::time::Duration;

use tokio::time::Instant;

use crate::changes::Mode;
use crate::heartbeat::Beat;

/// The shortest time a read may take before it counts as stuck.
const MIN_STUCK: Duration = Duration::from_secs(1);
/// How long a watched healthy service waits without a change before it is looked at anyway
/// (its deadline, from its heartbeat's age and timeout, usually comes first).
pub const WATCHED_IDLE: Duration = Duration::from_secs(3600);

/// How long a read of a service checked every `interval` may take: that interval, at least
/// [`MIN_STUCK`].
pub fn stuck_after(interval: Duration) -> Duration {
    interval.max(MIN_STUCK)
}

#[derive(Debug)]
pub struct ProbeState {
    /// When the next regular check is due.
    pub next: Instant,
    /// A read is in flight, since then (real time).
    pub in_flight: Option<std::time::Instant>,
    /// When a stuck read was last reported as `unreadable` (real time too).
    pub stuck_noted: Option<std::time::Instant>,
    /// The read in flight began before a pipeline changed the service: its verdict describes
    /// what was, and is dropped (the service is read again at once).
    pub superseded: bool,
    /// The heartbeat parsed at the last check (lent to each check).
    pub cache: Option<Beat>,
    /// How its heartbeat is noticed: watched for changes, or polled.
    pub mode: Mode,
    /// Its heartbeat changed since the last read was sent (a change event).
    pub changed: bool,
    /// When its last read was sent.
    pub last_sent: Option<Instant>,
}

/// What a timer pass finds for one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// Its read has been in flight for its bound (again): report it `unreadable`.
    Stuck,
    /// Check it now (or within the batch slack).
    Due,
    /// Nothing before then.
    Until(Instant),
    /// Nothing to do for its checks (not monitored, nothing in flight).
    Idle,
}

impl ProbeState {
    pub fn new(now: Instant) -> ProbeState {
        ProbeState {
            next: now,
            in_flight: None,
            stuck_noted: None,
            superseded: false,
            cache: None,
            mode: Mode::Polled("not watched yet"),
            changed: false,
            last_sent: None,
        }
    }

    /// What is due for a service checked every `interval` (a read in flight is timed on the
    /// `real` clock; `slack` lets a check join a batch a little early).
    pub fn look(
        &self,
        monitored: bool,
        interval: Duration,
        slack: Duration,
        now: Instant,
        real: std::time::Instant,
    ) -> Look {
        if let Some(since) = self.in_flight {
            let bound = stuck_after(interval);
            let waited = real.saturating_duration_since(self.stuck_noted.unwrap_or(since));
            return if waited >= bound {
                Look::Stuck
            } else {
                Look::Until(now + (bound - waited))
            };
        }
        if !monitored {
            Look::Idle
        } else if self.next <= now + slack {
            Look::Due
        } else {
            Look::Until(self.next)
        }
    }

    /// A read was sent now: a watched, healthy service waits for a change or its deadline (set
    /// when the result comes back); everyone else is checked again at `slot`, and one with
    /// waiters at least every `wait_cadence`. Returns when it is next due.
    pub fn sent(
        &mut self,
        now: Instant,
        real: std::time::Instant,
        healthy: bool,
        slot: Instant,
        waiters: Option<Duration>,
    ) -> Instant {
        self.in_flight = Some(real);
        self.last_sent = Some(now);
        let next = if self.mode == Mode::Watched && healthy {
            now + WATCHED_IDLE
        } else {
            slot
        };
        self.next = waiters.map_or(next, |cadence| next.min(now + cadence));
        self.next
    }

    /// A read came back: whether its verdict may be applied. One that began before a pipeline
    /// changed the service is dropped, and the service is due again at once.
    pub fn returned(&mut self, now: Instant) -> bool {
        self.in_flight = None;
        self.stuck_noted = None;
        if std::mem::take(&mut self.superseded) {
            self.next = now;
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn what_a_timer_pass_finds() {
        let (now, real) = (Instant::now(), std::time::Instant::now());
        let interval = Duration::from_millis(200);
        let slack = Duration::from_millis(50);
        let at = |next: Instant, in_flight: Option<Duration>, noted: Option<Duration>| {
            let mut p = ProbeState::new(next);
            p.in_flight = in_flight.map(|ago| real - ago);
            p.stuck_noted = noted.map(|ago| real - ago);
            p
        };
        let cases = [
            // Not in flight: due within the slack, else at its next check; unmonitored idle.
            (at(now, None, None), true, Look::Due),
            (at(now + 40 * MS, None, None), true, Look::Due),
            (
                at(now + 60 * MS, None, None),
                true,
                Look::Until(now + 60 * MS),
            ),
            (at(now, None, None), false, Look::Idle),
            // In flight: stuck after max(interval, 1 s), monitored or not; again a bound after
            // it was last reported.
            (
                at(now, Some(500 * MS), None),
                true,
                Look::Until(now + 500 * MS),
            ),
            (at(now, Some(1000 * MS), None), false, Look::Stuck),
            (
                at(now, Some(5000 * MS), Some(200 * MS)),
                true,
                Look::Until(now + 800 * MS),
            ),
            (at(now, Some(5000 * MS), Some(1000 * MS)), true, Look::Stuck),
        ];
        for (i, (p, monitored, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                p.look(monitored, interval, slack, now, real),
                want,
                "case {i}"
            );
        }
        // A long interval is its own bound.
        let p = at(now, Some(3000 * MS), None);
        let long = Duration::from_secs(5);
        assert_eq!(
            p.look(true, long, slack, now, real),
            Look::Until(now + 2000 * MS)
        );
    }

    #[test]
    fn when_a_service_is_next_due_after_a_read_is_sent() {
        let (now, real) = (Instant::now(), std::time::Instant::now());
        let slot = now + Duration::from_secs(1);
        let cadence = Some(Duration::from_millis(100));
        let cases = [
            // (mode, healthy, waiters, next)
            (Mode::Watched, true, None, now + WATCHED_IDLE),
            (Mode::Watched, false, None, slot),
            (Mode::Polled("nfs"), true, None, slot),
            (
                Mode::Watched,
                true,
                cadence,
                now + Duration::from_millis(100),
            ),
            (
                Mode::Polled("nfs"),
                false,
                cadence,
                now + Duration::from_millis(100),
            ),
        ];
        for (mode, healthy, waiters, want) in cases {
            let mut p = ProbeState::new(now);
            p.mode = mode;
            assert_eq!(
                p.sent(now, real, healthy, slot, waiters),
                want,
                "{mode:?} {healthy}"
            );
            assert_eq!(
                (p.next, p.in_flight, p.last_sent),
                (want, Some(real), Some(now))
            );
        }
    }

    #[test]
    fn a_read_begun_before_a_pipeline_changed_the_service_is_dropped() {
        let now = Instant::now();
        let mut p = ProbeState::new(now + Duration::from_secs(9));
        p.in_flight = Some(std::time::Instant::now());
        assert!(p.returned(now));
        assert_eq!((p.in_flight, p.next), (None, now + Duration::from_secs(9)));
        p.in_flight = Some(std::time::Instant::now());
        p.superseded = true;
        assert!(!p.returned(now), "superseded");
        assert_eq!((p.in_flight, p.superseded, p.next), (None, false, now));
    }
}
