//! Classifying a heartbeat reading into one of the health states.
//!
//! Pure logic: the caller supplies the reading, the time and a liveness probe, so every rule is
//! table-tested here without processes. The order is the seed's: `no_heartbeat`, `stale_pid`,
//! `timed_out`, `error_status`, `healthy`; the first that applies wins. (The sixth state,
//! `stalled`, needs memory across checks: the supervisor derives it from a healthy verdict.)

use std::time::Duration;

use protocol::Health;

use crate::clock::Now;
use crate::heartbeat::{Beat, Reading};
use crate::proc_facts::{Identity, Liveness};

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub health: Health,
    /// The PID the heartbeat names, when it is a plausible PID.
    pub pid: Option<u32>,
    /// When the heartbeat was written (µs since the epoch, on the wall clock as it ran when
    /// judged; see [`judge`]).
    pub heartbeat_us: Option<i64>,
    /// `now - heartbeat`, in ms.
    pub age_ms: Option<i64>,
    /// Why, in words.
    pub detail: String,
    /// The heartbeat's `iteration`, for stall detection.
    pub iteration: Option<u64>,
    /// How far (ms) the timestamp lies in the future, beyond [`SKEW_TOLERANCE_US`].
    pub clock_skew_ms: Option<i64>,
    /// The start (ticks after boot) of the process the PID belongs to, when it was looked at:
    /// the identity the `kill` step confirms, clock-free.
    pub start_ticks: Option<i64>,
}

impl Verdict {
    /// A verdict reached without a heartbeat to go by (missing, unreadable, not the service's).
    pub fn without_heartbeat(health: Health, detail: String) -> Verdict {
        verdict(health, detail)
    }
}

/// A heartbeat timestamp this far ahead of the clock is not trusted.
pub const SKEW_TOLERANCE_US: i64 = 5_000_000;

/// Steps smaller than this (NTP slewing, rounding) are not steps.
const STEP_TOLERANCE_US: i64 = 1_000_000;

/// Largest PID any kernel hands out (Linux caps `pid_max` at 2^22).
const MAX_PID: i64 = i32::MAX as i64;

/// What a verdict is judged by, from the service's settings and what is known of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rules {
    /// `timeout_seconds`.
    pub timeout: Duration,
    /// With `user`: the uid the heartbeat file must belong to.
    pub owner: Option<u32>,
    /// The PID an earlier verdict found to be the writer, and its start (ticks after boot):
    /// the same PID with the same start is the same process, whatever the clocks did.
    pub known: Option<(u32, i64)>,
}

/// The one judge: whether a service is healthy and which process is "the service". Every
/// decision about it goes through here: the periodic check, `on`'s "already running?" and the
/// `kill` step's target, so they can never disagree (same clock correction, same identity
/// rules). A verdict names a `pid` only when that PID may be acted on: it is a plausible PID,
/// and unless the verdict is `stale_pid`, it is alive and still the process that wrote the
/// heartbeat (which the `kill` step confirms again through a pidfd).
///
/// `identify(pid, written_us, known_ticks)` says whether the process holding `pid` is still
/// the one that wrote a heartbeat at `written_us` ([`crate::proc_facts::identify`]).
///
/// Times: a heartbeat read under an earlier wall-clock step is moved into the clock as it runs
/// now; and the boot clock bounds the wall clock's word: the content was written before the
/// first read that found it, and, when the clock stepped between that read and the last one
/// before it, after that last read too (so a beat written just before a step and read just
/// after it is neither an hour old nor an hour younger than it is).
pub fn judge(
    reading: &Reading,
    rules: &Rules,
    now: &Now,
    identify: impl Fn(i32, i64, Option<i64>) -> Identity,
) -> Verdict {
    if let (Reading::Beat(b), Some(want)) = (reading, rules.owner)
        && b.owner_uid != want
    {
        // Someone else's file in the service's place: not the service's word.
        return verdict(
            Health::NoHeartbeat,
            crate::heartbeat::not_owned(b.owner_uid, want),
        );
    }
    classify(reading, now, rules, identify)
}

/// Whether the verdict's `pid` is the live process that wrote the heartbeat: what `kill` may
/// target (after confirming it again): its PID, when it was written, and its start.
pub fn names_live_writer(v: &Verdict) -> Option<(i32, i64, Option<i64>)> {
    match (v.health, v.pid, v.heartbeat_us) {
        (Health::StalePid, _, _) => None,
        (_, Some(pid), Some(written)) => Some((pid as i32, written, v.start_ticks)),
        _ => None,
    }
}

/// When the heartbeat in `b` was written, on the wall clock as it runs now (see [`judge`]),
/// and how far its timestamp lay in the future when that was not believed.
fn written(b: &Beat, now: &Now) -> (i64, Option<i64>) {
    let seen = &b.seen;
    let stepped = seen
        .before
        .is_some_and(|before| (before.step_us - seen.first.step_us).abs() > STEP_TOLERANCE_US);
    // Written under the step of its first read, or, if the clock stepped just before that, under
    // the step before: the later of the two is taken.
    let then_step = match seen.before {
        Some(before) if stepped => before.step_us.min(seen.first.step_us),
        _ => seen.first.step_us,
    };
    let shift = now.shift_since(then_step);
    let stamped = b.heartbeat.timestamp_us.saturating_add(shift);
    // A timestamp in the future would read as fresh forever: judge by the file's mtime instead
    // (which the writer cannot set ahead without trying) and report the skew.
    let skew_us = stamped.saturating_sub(now.wall_us);
    let (mut at, skew_ms) = if skew_us > SKEW_TOLERANCE_US {
        (
            b.modified_us.saturating_add(shift).min(now.wall_us),
            Some(skew_us / 1000),
        )
    } else {
        (stamped, None)
    };
    at = at.min(now.wall_of_boot(seen.first.boot_us));
    if stepped && let Some(before) = seen.before {
        at = at.max(now.wall_of_boot(before.boot_us));
    }
    (at, skew_ms)
}

/// Classifies `reading` at `now` (see [`judge`]).
fn classify(
    reading: &Reading,
    now: &Now,
    rules: &Rules,
    identify: impl Fn(i32, i64, Option<i64>) -> Identity,
) -> Verdict {
    let b = match reading {
        Reading::Missing => return verdict(Health::NoHeartbeat, "heartbeat file missing".into()),
        Reading::Corrupt(why) => return verdict(Health::NoHeartbeat, why.clone()),
        Reading::Unreadable(why) => return verdict(Health::Unreadable, why.clone()),
        Reading::Beat(b) => b,
    };
    let hb = &b.heartbeat;
    let (written_us, clock_skew_ms) = written(b, now);
    let age_ms = now.wall_us.saturating_sub(written_us) / 1000;
    let mut v = Verdict {
        health: Health::Healthy,
        pid: None,
        heartbeat_us: Some(written_us),
        age_ms: Some(age_ms),
        detail: String::new(),
        iteration: hb.iteration,
        clock_skew_ms,
        start_ticks: None,
    };
    if hb.pid <= 0 || hb.pid > MAX_PID {
        v.health = Health::StalePid;
        v.detail = format!("heartbeat names an impossible pid {}", hb.pid);
        return v;
    }
    // In range by the check above.
    let pid = hb.pid as i32;
    v.pid = Some(pid as u32);
    let timeout_ms = i64::try_from(rules.timeout.as_millis()).unwrap_or(i64::MAX);
    let known = rules
        .known
        .filter(|&(p, _)| p == pid as u32)
        .map(|(_, ticks)| ticks);
    let identity = identify(pid, written_us, known);
    v.start_ticks = identity.start_ticks;
    match identity.liveness {
        Liveness::Gone => {
            v.health = Health::StalePid;
            v.detail = format!("pid {pid} is not running");
        }
        Liveness::Reused => {
            v.health = Health::StalePid;
            v.detail = format!(
                "pid {pid} belongs to a process that started after this heartbeat was written (pid reused, or a wrong timestamp)"
            );
        }
        Liveness::Running if age_ms > timeout_ms => {
            v.health = Health::TimedOut;
            v.detail = format!(
                "heartbeat is {:.1}s old (timeout {}s)",
                age_ms as f64 / 1000.0,
                rules.timeout.as_secs_f64()
            );
        }
        Liveness::Running if hb.status != "running" => {
            v.health = Health::ErrorStatus;
            v.detail = format!("status is {:?}", truncate(&hb.status, 80));
        }
        Liveness::Running => {
            v.detail = format!(
                "pid {pid} beating, iteration {}",
                hb.iteration.map_or("-".into(), |i| i.to_string())
            );
        }
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
        start_ticks: None,
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests;
