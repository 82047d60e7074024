//! Flap protection: a restart budget per window, giving up past it, backoff after that.
//!
//! Pure decisions over a service's recent automatic recoveries, on the monotonic clock (a
//! wall-clock step changes nothing here), so the policy is table-tested and the owner only
//! applies the verdicts. A service that has stayed healthy for a whole window is forgiven: its
//! budget refills and a give-up is lifted.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::FlapPolicy;

/// What to do about a service past its failure threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Run the recovery pipeline now.
    Recover,
    /// The budget is spent: give up now (run the alert hook once).
    GiveUp,
    /// Given up: no attempt yet (backoff running, or no attempts configured).
    Wait,
}

/// A service given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GiveUp {
    /// When it gave up (wall ms, for showing).
    pub since_ms: i64,
    /// Backoff attempts made since.
    pub attempts: u32,
    /// The earliest next automatic attempt; `None` when no further attempts are configured.
    pub next_attempt: Option<Instant>,
}

/// A service's flap history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flap {
    /// When automatic recoveries started, within the restart window.
    pub restarts: VecDeque<Instant>,
    pub gave_up: Option<GiveUp>,
    /// Since when every check has been healthy.
    pub healthy_since: Option<Instant>,
}

/// The pause before backoff attempt `n` (0-based): twice the check interval, doubling, capped.
pub fn backoff(interval: Duration, n: u32, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(n.saturating_add(1).min(30));
    interval.saturating_mul(factor).min(max)
}

impl Flap {
    /// Decides, and records the attempt or the give-up.
    pub fn decide(
        &mut self,
        policy: &FlapPolicy,
        interval: Duration,
        now: Instant,
        now_ms: i64,
    ) -> Decision {
        while self
            .restarts
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= policy.window)
        {
            self.restarts.pop_front();
        }
        let next = |n: u32| {
            (!policy.backoff_max.is_zero()).then(|| now + backoff(interval, n, policy.backoff_max))
        };
        match &mut self.gave_up {
            Some(g) => match g.next_attempt {
                Some(at) if now >= at => {
                    g.attempts = g.attempts.saturating_add(1);
                    g.next_attempt = next(g.attempts);
                    self.restarts.push_back(now);
                    Decision::Recover
                }
                _ => Decision::Wait,
            },
            None if self.restarts.len() >= policy.max_restarts as usize => {
                self.gave_up = Some(GiveUp {
                    since_ms: now_ms,
                    attempts: 0,
                    next_attempt: next(0),
                });
                Decision::GiveUp
            }
            None => {
                self.restarts.push_back(now);
                Decision::Recover
            }
        }
    }

    /// After a healthy check: once healthy for a whole window, refill the budget and lift a
    /// give-up. Returns whether anything was forgiven.
    pub fn forgive(&mut self, policy: &FlapPolicy, now: Instant) -> bool {
        let since = *self.healthy_since.get_or_insert(now);
        if now.saturating_duration_since(since) < policy.window
            || (self.restarts.is_empty() && self.gave_up.is_none())
        {
            return false;
        }
        self.restarts.clear();
        self.gave_up = None;
        true
    }

    /// An operator's `restart`/`on`: a fresh start, the budget refills. Returns whether a
    /// give-up was cleared.
    pub fn clear(&mut self) -> bool {
        self.restarts.clear();
        self.gave_up.take().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max: u32, window_s: u64, backoff_s: u64) -> FlapPolicy {
        FlapPolicy {
            max_restarts: max,
            window: Duration::from_secs(window_s),
            backoff_max: Duration::from_secs(backoff_s),
        }
    }

    fn at(base: Instant, s: u64) -> Instant {
        base + Duration::from_secs(s)
    }

    #[test]
    fn budget_then_give_up_then_capped_backoff() {
        let p = policy(3, 60, 10);
        let i = Duration::from_secs(1);
        let b = Instant::now();
        let mut f = Flap::default();
        for t in 0..3 {
            assert_eq!(f.decide(&p, i, at(b, t), 0), Decision::Recover);
        }
        assert_eq!(f.decide(&p, i, at(b, 3), 0), Decision::GiveUp);
        let next = |f: &Flap| f.gave_up.unwrap().next_attempt.unwrap();
        assert_eq!(next(&f), at(b, 5), "first backoff is 2 intervals");
        assert_eq!(f.decide(&p, i, at(b, 4), 0), Decision::Wait);
        assert_eq!(f.decide(&p, i, at(b, 5), 0), Decision::Recover);
        assert_eq!(next(&f), at(b, 9), "then 4");
        assert_eq!(f.decide(&p, i, at(b, 9), 0), Decision::Recover);
        assert_eq!(next(&f), at(b, 17), "then 8");
        assert_eq!(f.decide(&p, i, at(b, 17), 0), Decision::Recover);
        assert_eq!(next(&f), at(b, 27), "capped at 10");
        assert_eq!(f.gave_up.unwrap().attempts, 3);
    }

    #[test]
    fn zero_backoff_means_no_more_attempts() {
        let p = policy(1, 60, 0);
        let i = Duration::from_secs(1);
        let b = Instant::now();
        let mut f = Flap::default();
        assert_eq!(f.decide(&p, i, b, 0), Decision::Recover);
        assert_eq!(f.decide(&p, i, at(b, 1), 0), Decision::GiveUp);
        assert_eq!(f.gave_up.unwrap().next_attempt, None);
        assert_eq!(f.decide(&p, i, at(b, 1000), 0), Decision::Wait);
    }

    #[test]
    fn old_restarts_leave_the_window() {
        let p = policy(2, 10, 10);
        let i = Duration::from_secs(1);
        let b = Instant::now();
        let mut f = Flap::default();
        assert_eq!(f.decide(&p, i, b, 0), Decision::Recover);
        assert_eq!(f.decide(&p, i, at(b, 5), 0), Decision::Recover);
        assert_eq!(
            f.decide(&p, i, at(b, 11), 0),
            Decision::Recover,
            "the first left the window"
        );
        assert_eq!(f.decide(&p, i, at(b, 12), 0), Decision::GiveUp);
    }

    #[test]
    fn a_healthy_window_forgives_and_clear_refills() {
        let p = policy(1, 10, 10);
        let b = Instant::now();
        let mut f = Flap {
            restarts: VecDeque::from([b]),
            gave_up: Some(GiveUp {
                since_ms: 0,
                attempts: 1,
                next_attempt: Some(b),
            }),
            healthy_since: Some(at(b, 2)),
        };
        assert!(!f.forgive(&p, at(b, 11)), "healthy for only 9 s");
        assert!(f.forgive(&p, at(b, 12)));
        assert!(f.restarts.is_empty() && f.gave_up.is_none());
        assert!(!f.forgive(&p, at(b, 100)), "nothing left to forgive");
        f.restarts.push_back(b);
        assert!(!f.clear(), "no give-up to clear");
        assert!(f.restarts.is_empty());
    }
}
