//! When checks run: each service every `check_interval`, spread over the interval in slots so
//! that thousands of services do not all read at one instant; a service someone waits for every
//! [`WAIT_CADENCE`]. Pure arithmetic on the monotonic clock.

use std::time::Duration;

use tokio::time::Instant;

/// How often a service with a waiter (`wait`, `restart --wait`) is checked.
pub const WAIT_CADENCE: Duration = Duration::from_millis(200);
/// Checks due within this slack of each other go in one batch.
const BATCH_SLACK: Duration = Duration::from_millis(50);
/// Longest sleep of the owner when nothing is due (it also wakes on any message). Short, so
/// that the turn the systemd watchdog relies on keeps happening.
pub const IDLE: Duration = Duration::from_secs(1);
/// Services per check slot the spreading aims at: fewer, and a batch costs more in dispatch
/// than in reading; many more, and one batch is a burst.
const SLOT_SIZE: u32 = 512;

/// The owner's timer.
#[derive(Debug)]
pub struct Schedule {
    /// When timed work is next due (lowered by every change that makes something due sooner,
    /// recomputed by each pass over the services).
    pub wake_at: Instant,
    /// The time check slots are counted from.
    pub origin: Instant,
}

impl Schedule {
    pub fn new(now: Instant) -> Schedule {
        Schedule {
            wake_at: now,
            origin: now,
        }
    }

    /// The next wake, never more than [`IDLE`] away.
    pub fn next_wake(&self) -> Instant {
        self.wake_at.min(Instant::now() + IDLE)
    }
}

/// How early a check may run to join a batch: [`BATCH_SLACK`], but never more than a quarter
/// of the service's interval.
pub fn slack(interval: Duration) -> Duration {
    BATCH_SLACK.min(interval / 4)
}

/// The next check time of service `idx` of `n`. The services are dealt into
/// `ceil(n / SLOT_SIZE)` slots spread evenly over the interval, counted from `origin`: a few
/// services are checked together once per interval, thousands in even batches, and they stay
/// spread even after something (a `start-all`, a reload) checked them all at once.
pub fn slot_after(
    origin: Instant,
    now: Instant,
    interval: Duration,
    idx: usize,
    n: u32,
) -> Instant {
    let period = interval.as_secs_f64().max(0.001);
    let slots = n.max(1).div_ceil(SLOT_SIZE);
    let phase = period * f64::from(idx as u32 % slots) / f64::from(slots);
    // A check may run up to BATCH_SLACK before its slot: count from the end of that window, or
    // an early check would land in its own slot again.
    let since = (now + slack(interval))
        .saturating_duration_since(origin)
        .as_secs_f64();
    let k = ((since - phase) / period).floor() + 1.0;
    let next = origin + Duration::from_secs_f64((phase + k.max(0.0) * period).max(0.0));
    // Never sooner than a tenth of the interval: a service checked early waits a while.
    next.max(now + interval / 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_spread_services_over_the_interval_and_stay_ahead() {
        let origin = Instant::now();
        let interval = Duration::from_secs(1);
        // 1024 services make four slots. All checked at the same moment (a burst): their next
        // checks spread out again, a quarter of the interval apart.
        let now = origin + Duration::from_millis(5_300);
        let next: Vec<Duration> = (0..4)
            .map(|i| slot_after(origin, now, interval, i, 4 * SLOT_SIZE) - origin)
            .collect();
        assert_eq!(
            next.iter().map(Duration::as_millis).collect::<Vec<_>>(),
            [6000, 6250, 5500, 5750]
                .iter()
                .map(|&m| m as u128)
                .collect::<Vec<_>>()
        );
        for n in next {
            let after = (origin + n).saturating_duration_since(now);
            assert!(after >= interval / 10 && after <= interval, "{after:?}");
        }
        // A handful of services share one slot: one batch per interval.
        let few: Vec<Instant> = (0..10)
            .map(|i| slot_after(origin, now, interval, i, 10))
            .collect();
        assert!(few.iter().all(|t| *t == few[0]));
    }
}
