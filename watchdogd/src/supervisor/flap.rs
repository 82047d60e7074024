//! Flap protection: a restart budget per window, giving up past it, backoff after that.
//!
//! Pure decisions over a service's recent automatic recoveries, so the policy is table-tested
//! here and the owner only applies the verdicts. A service that has stayed healthy for a whole
//! window is forgiven: its budget refills and a give-up is lifted.

use std::collections::VecDeque;
use std::time::Duration;

use crate::config::FlapPolicy;
use crate::store::GaveUp;

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

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The pause before backoff attempt `n` (0-based): twice the check interval, doubling, capped.
pub fn backoff(interval: Duration, n: u32, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(n.saturating_add(1).min(30));
    interval.saturating_mul(factor).min(max)
}

/// Decides, and records the attempt or the give-up in `restarts`/`gave_up`.
pub fn decide(
    policy: &FlapPolicy,
    interval: Duration,
    restarts: &mut VecDeque<i64>,
    gave_up: &mut Option<GaveUp>,
    now_ms: i64,
) -> Decision {
    let window = millis(policy.window);
    while restarts
        .front()
        .is_some_and(|&t| now_ms.saturating_sub(t) >= window)
    {
        restarts.pop_front();
    }
    let next = |n: u32| {
        (!policy.backoff_max.is_zero())
            .then(|| now_ms + millis(backoff(interval, n, policy.backoff_max)))
    };
    match gave_up {
        Some(g) => match g.next_attempt_ms {
            Some(at) if now_ms >= at => {
                g.attempts = g.attempts.saturating_add(1);
                g.next_attempt_ms = next(g.attempts);
                restarts.push_back(now_ms);
                Decision::Recover
            }
            _ => Decision::Wait,
        },
        None if restarts.len() >= policy.max_restarts as usize => {
            *gave_up = Some(GaveUp {
                since_ms: now_ms,
                attempts: 0,
                next_attempt_ms: next(0),
            });
            Decision::GiveUp
        }
        None => {
            restarts.push_back(now_ms);
            Decision::Recover
        }
    }
}

/// After a healthy check: once healthy since a whole window ago, refill the budget and lift a
/// give-up. Returns whether anything was forgiven.
pub fn forgive(
    policy: &FlapPolicy,
    healthy_since_ms: i64,
    restarts: &mut VecDeque<i64>,
    gave_up: &mut Option<GaveUp>,
    now_ms: i64,
) -> bool {
    if now_ms.saturating_sub(healthy_since_ms) < millis(policy.window)
        || (restarts.is_empty() && gave_up.is_none())
    {
        return false;
    }
    restarts.clear();
    *gave_up = None;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;

    fn policy(max: u32, window_s: u64, backoff_s: u64) -> FlapPolicy {
        FlapPolicy {
            max_restarts: max,
            window: Duration::from_secs(window_s),
            backoff_max: Duration::from_secs(backoff_s),
        }
    }

    #[test]
    fn budget_then_give_up_then_capped_backoff() {
        let p = policy(3, 60, 10);
        let i = Duration::from_secs(1);
        let (mut r, mut g) = (VecDeque::new(), None);
        for t in 0..3 {
            assert_eq!(decide(&p, i, &mut r, &mut g, t * S), Decision::Recover);
        }
        assert_eq!(decide(&p, i, &mut r, &mut g, 3 * S), Decision::GiveUp);
        assert_eq!(
            g.unwrap().next_attempt_ms,
            Some(5 * S),
            "first backoff is 2 intervals"
        );
        assert_eq!(decide(&p, i, &mut r, &mut g, 4 * S), Decision::Wait);
        assert_eq!(decide(&p, i, &mut r, &mut g, 5 * S), Decision::Recover);
        assert_eq!(g.unwrap().next_attempt_ms, Some(9 * S), "then 4");
        assert_eq!(decide(&p, i, &mut r, &mut g, 9 * S), Decision::Recover);
        assert_eq!(g.unwrap().next_attempt_ms, Some(17 * S), "then 8");
        assert_eq!(decide(&p, i, &mut r, &mut g, 17 * S), Decision::Recover);
        assert_eq!(g.unwrap().next_attempt_ms, Some(27 * S), "capped at 10");
        assert_eq!(g.unwrap().attempts, 3);
    }

    #[test]
    fn zero_backoff_means_no_more_attempts() {
        let p = policy(1, 60, 0);
        let i = Duration::from_secs(1);
        let (mut r, mut g) = (VecDeque::new(), None);
        assert_eq!(decide(&p, i, &mut r, &mut g, 0), Decision::Recover);
        assert_eq!(decide(&p, i, &mut r, &mut g, S), Decision::GiveUp);
        assert_eq!(g.unwrap().next_attempt_ms, None);
        assert_eq!(decide(&p, i, &mut r, &mut g, 1_000 * S), Decision::Wait);
    }

    #[test]
    fn old_restarts_leave_the_window() {
        let p = policy(2, 10, 10);
        let i = Duration::from_secs(1);
        let (mut r, mut g) = (VecDeque::new(), None);
        assert_eq!(decide(&p, i, &mut r, &mut g, 0), Decision::Recover);
        assert_eq!(decide(&p, i, &mut r, &mut g, 5 * S), Decision::Recover);
        assert_eq!(
            decide(&p, i, &mut r, &mut g, 11 * S),
            Decision::Recover,
            "the first left the window"
        );
        assert_eq!(decide(&p, i, &mut r, &mut g, 12 * S), Decision::GiveUp);
    }

    #[test]
    fn a_healthy_window_forgives() {
        let p = policy(1, 10, 10);
        let mut r = VecDeque::from([0]);
        let mut g = Some(GaveUp {
            since_ms: 0,
            attempts: 1,
            next_attempt_ms: Some(5),
        });
        assert!(
            !forgive(&p, 2 * S, &mut r, &mut g, 11 * S),
            "healthy for only 9 s"
        );
        assert!(forgive(&p, 2 * S, &mut r, &mut g, 12 * S));
        assert!(r.is_empty() && g.is_none());
        assert!(
            !forgive(&p, 2 * S, &mut r, &mut g, 100 * S),
            "nothing left to forgive"
        );
    }
}
