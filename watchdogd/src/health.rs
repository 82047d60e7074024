//! Classifying a heartbeat reading into one of the health states.
//!
//! Pure logic: the caller supplies the reading, the time and a liveness probe, so every rule is
//! table-tested here without processes. The order is the seed's: `no_heartbeat`, `stale_pid`,
//! `timed_out`, `error_status`, `healthy`; the first that applies wins. (The sixth state,
//! `stalled`, needs memory across checks: the supervisor derives it from a healthy verdict.)

use std::time::Duration;

use protocol::Health;

use crate::heartbeat::Reading;
use crate::process::Liveness;

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub health: Health,
    /// The PID the heartbeat names, when it is a plausible PID.
    pub pid: Option<u32>,
    /// The heartbeat's timestamp (µs since the epoch).
    pub heartbeat_us: Option<i64>,
    /// `now - heartbeat`, in ms; negative for a timestamp in the future.
    pub age_ms: Option<i64>,
    /// Why, in words.
    pub detail: String,
    /// The heartbeat's `iteration`, for stall detection.
    pub iteration: Option<u64>,
    /// How far (ms) the timestamp lies in the future, beyond [`SKEW_TOLERANCE_US`].
    pub clock_skew_ms: Option<i64>,
}

impl Verdict {
    /// A verdict reached without a heartbeat to go by (missing, unreadable, not the service's).
    pub fn without_heartbeat(health: Health, detail: String) -> Verdict {
        verdict(health, detail)
    }
}

/// A heartbeat timestamp this far ahead of the clock is not trusted.
pub const SKEW_TOLERANCE_US: i64 = 5_000_000;

/// Largest PID any kernel hands out (Linux caps `pid_max` at 2^22).
const MAX_PID: i64 = i32::MAX as i64;

/// What a verdict is judged by, from the service's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// `timeout_seconds`.
    pub timeout: Duration,
    /// With `user`: the uid the heartbeat file must belong to.
    pub owner: Option<u32>,
}

/// The one judge: whether a service is healthy and which process is "the service". Every
/// decision about it goes through here: the periodic check, `on`'s "already running?" and the
/// `kill` step's target, so they can never disagree (same clock correction, same identity
/// rules). A verdict names a `pid` only when that PID may be acted on: it is a plausible PID,
/// and unless the verdict is `stale_pid`, it is alive and still the process that wrote the
/// heartbeat as of `heartbeat_us` (which the `kill` step confirms again through a pidfd).
pub fn judge(
    reading: &Reading,
    rules: &Rules,
    now: &crate::clock::Now,
    alive: impl Fn(i32, i64) -> Liveness,
) -> Verdict {
    if let (Reading::Beat(b), Some(want)) = (reading, rules.owner)
        && b.owner_uid != want
    {
        // Someone else's file in the service's place: not the service's word.
        return verdict(
            Health::NoHeartbeat,
            format!(
                "heartbeat file is owned by uid {}, not the configured user (uid {want})",
                b.owner_uid
            ),
        );
    }
    // Judged by the clock it was read with: a wall-clock step since then is taken back out.
    let now_us = match reading {
        Reading::Beat(b) => now.wall_for(b.read_step_us),
        _ => now.wall_us,
    };
    classify(reading, now_us, rules.timeout, alive)
}

/// Whether the verdict's `pid` is the live process that wrote the heartbeat: what `kill` may
/// target (after confirming it again).
pub fn names_live_writer(v: &Verdict) -> Option<(i32, i64)> {
    match (v.health, v.pid, v.heartbeat_us) {
        (Health::StalePid, _, _) => None,
        (_, Some(pid), Some(written)) => Some((pid as i32, written)),
        _ => None,
    }
}

/// Classifies `reading` at `now_us`; `alive(pid, heartbeat_us)` says whether the process that
/// wrote the heartbeat is still running (not gone, not a zombie, its PID not reused since).
fn classify(
    reading: &Reading,
    now_us: i64,
    timeout: Duration,
    alive: impl Fn(i32, i64) -> Liveness,
) -> Verdict {
    let (hb, modified_us) = match reading {
        Reading::Missing => return verdict(Health::NoHeartbeat, "heartbeat file missing".into()),
        Reading::Corrupt(why) => return verdict(Health::NoHeartbeat, why.clone()),
        Reading::Beat(b) => (&b.heartbeat, b.modified_us),
    };
    // A timestamp in the future would read as fresh forever: judge by the file's mtime instead
    // (which the writer cannot set ahead without trying) and report the skew.
    let skew_us = hb.timestamp_us.saturating_sub(now_us);
    let (written_us, clock_skew_ms) = if skew_us > SKEW_TOLERANCE_US {
        (modified_us.min(now_us), Some(skew_us / 1000))
    } else {
        (hb.timestamp_us, None)
    };
    let age_ms = now_us.saturating_sub(written_us) / 1000;
    let mut v = Verdict {
        health: Health::Healthy,
        pid: None,
        heartbeat_us: Some(written_us),
        age_ms: Some(age_ms),
        detail: String::new(),
        iteration: hb.iteration,
        clock_skew_ms,
    };
    if hb.pid <= 0 || hb.pid > MAX_PID {
        v.health = Health::StalePid;
        v.detail = format!("heartbeat names an impossible pid {}", hb.pid);
        return v;
    }
    // In range by the check above.
    let pid = hb.pid as i32;
    v.pid = Some(pid as u32);
    let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
    let liveness = alive(pid, written_us);
    if liveness == Liveness::Gone {
        v.health = Health::StalePid;
        v.detail = format!("pid {pid} is not running");
    } else if liveness == Liveness::Reused {
        v.health = Health::StalePid;
        v.detail = format!(
            "pid {pid} belongs to a process that started after this heartbeat was written (pid reused, or a wrong timestamp)"
        );
    } else if age_ms > timeout_ms {
        v.health = Health::TimedOut;
        v.detail = format!(
            "heartbeat is {:.1}s old (timeout {}s)",
            age_ms as f64 / 1000.0,
            timeout.as_secs_f64()
        );
    } else if hb.status != "running" {
        v.health = Health::ErrorStatus;
        v.detail = format!("status is {:?}", truncate(&hb.status, 80));
    } else {
        v.detail = format!(
            "pid {pid} beating, iteration {}",
            hb.iteration.map_or("-".into(), |i| i.to_string())
        );
    }
    if let Some(skew) = clock_skew_ms {
        v.detail.push_str(&format!(
            "; clock skew: timestamp {:.1}s in the future, judged by file time",
            skew as f64 / 1000.0
        ));
    }
    v
}

fn verdict(health: Health, detail: String) -> Verdict {
    Verdict {
        health,
        pid: None,
        heartbeat_us: None,
        age_ms: None,
        detail,
        iteration: None,
        clock_skew_ms: None,
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heartbeat::Beat;
    use protocol::Heartbeat;

    #[test]
    fn a_future_timestamp_is_reported_as_skew() {
        let v = classify(
            &beat_at(100, NOW + 3_600_000_000, NOW, "running"),
            NOW,
            Duration::from_secs(9),
            |_, _| Liveness::Running,
        );
        assert_eq!(v.clock_skew_ms, Some(3_600_000));
        assert!(v.detail.contains("clock skew"), "{}", v.detail);
        let v = classify(
            &beat_at(100, NOW + 1_000_000, NOW, "running"),
            NOW,
            Duration::from_secs(9),
            |_, _| Liveness::Running,
        );
        assert_eq!(v.clock_skew_ms, None, "within tolerance");
    }

    const NOW: i64 = 1_800_000_000_000_000;

    fn beat(pid: i64, age_s: i64, status: &str) -> Reading {
        beat_at(
            pid,
            NOW - age_s * 1_000_000,
            NOW - age_s * 1_000_000,
            status,
        )
    }

    fn beat_at(pid: i64, timestamp_us: i64, modified_us: i64, status: &str) -> Reading {
        Reading::Beat(Beat {
            heartbeat: Heartbeat {
                process_key: "k".into(),
                pid,
                timestamp_us,
                status: status.into(),
                iteration: Some(1),
            },
            modified_us,
            owner_uid: 0,
            stamp: Default::default(),
            read_step_us: 0,
        })
    }

    #[test]
    fn the_seed_order_decides() {
        let t = Duration::from_secs(30);
        let alive = |p: i32, _| {
            if p == 100 {
                Liveness::Running
            } else {
                Liveness::Gone
            }
        };
        let cases = [
            (Reading::Missing, Health::NoHeartbeat),
            (Reading::Corrupt("bad".into()), Health::NoHeartbeat),
            (beat(200, 1, "running"), Health::StalePid),
            (beat(200, 100, "error"), Health::StalePid),
            (beat(100, 31, "error"), Health::TimedOut),
            (beat(100, 5, "error"), Health::ErrorStatus),
            (beat(100, 5, "running"), Health::Healthy),
            (beat(100, 30, "running"), Health::Healthy),
            (beat(100, -3, "running"), Health::Healthy),
            // An hour in the future, but the file was written 60 s ago: stale, not fresh.
            (
                beat_at(100, NOW + 3_600_000_000, NOW - 60_000_000, "running"),
                Health::TimedOut,
            ),
            (
                beat_at(100, NOW + 3_600_000_000, NOW - 1_000_000, "running"),
                Health::Healthy,
            ),
        ];
        for (reading, want) in cases {
            assert_eq!(
                classify(&reading, NOW, t, alive).health,
                want,
                "{reading:?}"
            );
        }
    }

    #[test]
    fn a_reused_pid_is_stale_with_its_own_reason() {
        let v = classify(
            &beat(300, 1, "running"),
            NOW,
            Duration::from_secs(30),
            |_, _| Liveness::Reused,
        );
        assert_eq!(v.health, Health::StalePid);
        assert!(v.detail.contains("pid reused"), "{}", v.detail);
    }

    #[test]
    fn impossible_pids_are_stale_and_never_probed() {
        for pid in [-1, 0, 1 << 40] {
            let v = classify(
                &beat(pid, 1, "running"),
                NOW,
                Duration::from_secs(9),
                |_, _| panic!("must not probe pid {pid}"),
            );
            assert_eq!(v.health, Health::StalePid);
            assert_eq!(v.pid, None);
        }
    }

    #[test]
    fn ancient_timestamps_time_out_without_overflow() {
        let r = beat_at(100, i64::MIN, i64::MIN, "running");
        assert_eq!(
            classify(&r, NOW, Duration::from_secs(1), |_, _| Liveness::Running).health,
            Health::TimedOut
        );
    }
}
