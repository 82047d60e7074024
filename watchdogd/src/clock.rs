//! Two clocks, each for what it is good at.
//!
//! Every duration the daemon decides by (flap windows, backoff, start grace, maintenance
//! windows, the systemd watchdog ping, check scheduling) is measured on the monotonic clock, so
//! a wall-clock step of an hour either way changes no decision. The wall clock is only read,
//! shown and stored: heartbeats carry wall times, people read wall times, and the audit log
//! must make sense after a reboot (so persisted instants are wall times, turned back into
//! monotonic ones on load).
//!
//! A heartbeat's age is necessarily wall time minus wall time, and a process's start time is
//! kept by the kernel on the boot clock (which never steps). When the wall clock steps, a
//! heartbeat read before the step would suddenly look an hour old (or new), and a process
//! would seem to have started an hour after the heartbeat it wrote. So:
//!
//! - the *step* ([`step_us`]: how far the wall clock has moved against the boot clock since
//!   the daemon started) is recorded with every reading, and a time read under one step is
//!   moved into the current one before it is compared ([`Now::shift_since`]);
//! - a process's start is turned into wall time with the boot clock's offset *now*
//!   ([`boot_offset_us`]), never with a boot time read once;
//! - what the boot clock knows bounds what the wall clock claims: a heartbeat was written
//!   before the first read that found it and after the last read that did not (see
//!   [`crate::health`]).

use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;

/// The boot clock (µs): monotonic, counting suspended time too, zero at boot, the clock
/// `/proc/PID/stat` start times are kept on. Where there is none, the monotonic clock.
pub fn boot_us() -> i64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let id = libc::CLOCK_BOOTTIME;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let id = libc::CLOCK_MONOTONIC;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    unsafe { libc::clock_gettime(id, &mut ts) };
    #[allow(clippy::useless_conversion)] // the fields are narrower on some targets
    i64::from(ts.tv_sec)
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(ts.tv_nsec) / 1000)
}

/// The wall time (µs since the epoch) at which the boot clock read zero, as the wall clock
/// says now: moves with every step of the wall clock.
pub fn boot_offset_us() -> i64 {
    protocol::time::now_micros() - boot_us()
}

/// Both clocks when the daemon first looked.
fn base() -> &'static (i64, i64) {
    static BASE: OnceLock<(i64, i64)> = OnceLock::new();
    BASE.get_or_init(|| (protocol::time::now_micros(), boot_us()))
}

/// How far (µs) the wall clock has moved against the boot clock since the daemon started:
/// zero but for clock steps (and the slow slewing of NTP).
pub fn step_us() -> i64 {
    let (wall0, boot0) = *base();
    let (wall, boot) = (protocol::time::now_micros(), boot_us());
    (wall - wall0) - (boot - boot0)
}

/// A moment, on the boot clock and with the wall clock's step then: when a reading was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Point {
    pub boot_us: i64,
    pub step_us: i64,
}

impl Point {
    pub fn now() -> Point {
        let (wall0, boot0) = *base();
        let (wall, boot) = (protocol::time::now_micros(), boot_us());
        Point {
            boot_us: boot,
            step_us: (wall - wall0) - (boot - boot0),
        }
    }
}

/// The clocks, read together.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub mono: Instant,
    pub wall_us: i64,
    pub step_us: i64,
    pub boot_us: i64,
}

impl Now {
    pub fn read() -> Now {
        let point = Point::now();
        Now {
            mono: Instant::now(),
            wall_us: protocol::time::now_micros(),
            step_us: point.step_us,
            boot_us: point.boot_us,
        }
    }

    /// For tests: a given pair of readings, no step (the boot clock then reads like the wall
    /// clock).
    pub fn at(mono: Instant, wall_us: i64) -> Now {
        Now {
            mono,
            wall_us,
            step_us: 0,
            boot_us: wall_us,
        }
    }

    pub fn wall_ms(&self) -> i64 {
        self.wall_us / 1000
    }

    /// What to add to a wall time read when the step was `then_step_us` to express it on the
    /// wall clock as it runs now.
    pub fn shift_since(&self, then_step_us: i64) -> i64 {
        self.step_us - then_step_us
    }

    /// The current wall time of a moment on the boot clock.
    pub fn wall_of_boot(&self, boot_us: i64) -> i64 {
        self.wall_us - (self.boot_us - boot_us)
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
    fn a_step_since_a_reading_shifts_its_times() {
        let mut now = Now::at(Instant::now(), 10_000_000);
        now.step_us = 3_600_000_000;
        assert_eq!(now.shift_since(0), 3_600_000_000);
        assert_eq!(now.shift_since(3_600_000_000), 0);
        assert_eq!(now.wall_of_boot(now.boot_us - 5), now.wall_us - 5);
    }

    #[test]
    fn the_boot_clock_runs_with_the_wall_clock_when_nothing_steps() {
        let p = Point::now();
        assert!(p.step_us.abs() < 1_000_000, "{p:?}");
        assert!(boot_us() > 0);
        let offset = boot_offset_us();
        assert!((offset + boot_us() - protocol::time::now_micros()).abs() < 1_000_000);
    }
}
