//! Two clocks, each for what it is good at.
//!
//! Every duration the daemon decides by (flap windows, backoff, start grace, maintenance
//! windows, the systemd watchdog ping, check scheduling) is measured on the monotonic clock, so
//! a wall-clock step of an hour either way changes no decision. The wall clock is only read,
//! shown and stored: heartbeats carry wall times, people read wall times, and the audit log
//! must make sense after a reboot (so persisted instants are wall times, turned back into
//! monotonic ones on load).
//!
//! A heartbeat's age is necessarily wall time minus wall time. When the wall clock steps, a
//! heartbeat read before the step would suddenly look an hour old (or new). So each reading
//! records the clock's *step* at the moment it was read ([`step_us`]: how far the wall clock has
//! moved against the monotonic one since the daemon started), and its age is judged with that
//! step taken back out ([`Now::wall_for`]). A heartbeat written after the step carries the new
//! clock and is judged by it.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;

/// The instant the daemon first looked at both clocks.
fn base() -> &'static (std::time::Instant, i64) {
    static BASE: OnceLock<(std::time::Instant, i64)> = OnceLock::new();
    BASE.get_or_init(|| (std::time::Instant::now(), protocol::time::now_micros()))
}

/// How far (µs) the wall clock has moved against the monotonic clock since the daemon started:
/// zero but for clock steps (and the slow slewing of NTP).
pub fn step_us() -> i64 {
    let (mono0, wall0) = *base();
    let elapsed = i64::try_from(mono0.elapsed().as_micros()).unwrap_or(i64::MAX);
    protocol::time::now_micros() - wall0 - elapsed
}

/// Both clocks, read together.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub mono: Instant,
    pub wall_us: i64,
    pub step_us: i64,
}

impl Now {
    pub fn read() -> Now {
        Now {
            mono: Instant::now(),
            wall_us: protocol::time::now_micros(),
            step_us: step_us(),
        }
    }

    /// For tests: a given pair of readings, no step.
    pub fn at(mono: Instant, wall_us: i64) -> Now {
        Now {
            mono,
            wall_us,
            step_us: 0,
        }
    }

    pub fn wall_ms(&self) -> i64 {
        self.wall_us / 1000
    }

    /// The wall time to judge something read when the step was `read_step_us` against: now,
    /// with any step since taken back out.
    pub fn wall_for(&self, read_step_us: i64) -> i64 {
        self.wall_us - (self.step_us - read_step_us)
    }

    /// The wall time (ms) of a monotonic instant, for showing and storing.
    pub fn wall_ms_of(&self, at: Instant) -> i64 {
        let delta = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        if at >= self.mono {
            self.wall_ms().saturating_add(delta(at - self.mono))
        } else {
            self.wall_ms().saturating_sub(delta(self.mono - at))
        }
    }

    /// The monotonic instant of a stored wall time (ms); `None` when it lies before this
    /// machine's monotonic clock began (long ago: it no longer matters).
    pub fn mono_of(&self, wall_ms: i64) -> Option<Instant> {
        let diff = wall_ms.saturating_sub(self.wall_ms());
        let d = Duration::from_millis(diff.unsigned_abs());
        if diff >= 0 {
            self.mono.checked_add(d)
        } else {
            self.mono.checked_sub(d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_and_monotonic_times_convert_both_ways() {
        let now = Now::at(Instant::now(), 1_800_000_000_000_000);
        let later = now.mono + Duration::from_secs(90);
        assert_eq!(now.wall_ms_of(later), now.wall_ms() + 90_000);
        assert_eq!(now.mono_of(now.wall_ms() + 90_000), Some(later));
        let earlier = now.mono - Duration::from_millis(1500);
        assert_eq!(now.wall_ms_of(earlier), now.wall_ms() - 1500);
        assert_eq!(now.mono_of(now.wall_ms() - 1500), Some(earlier));
        assert!(
            now.mono_of(0).is_some_and(|t| t < now.mono),
            "the epoch, long ago"
        );
    }

    #[test]
    fn a_step_since_a_reading_is_taken_back_out() {
        let mut now = Now::at(Instant::now(), 10_000_000);
        now.step_us = 3_600_000_000;
        assert_eq!(now.wall_for(0), 10_000_000 - 3_600_000_000);
        assert_eq!(now.wall_for(3_600_000_000), 10_000_000);
    }
}
