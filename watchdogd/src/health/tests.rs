use super::*;
use crate::clock::Point;
use crate::heartbeat::Seen;
use protocol::Heartbeat;

const NOW: i64 = 1_800_000_000_000_000;
const S: i64 = 1_000_000;
const HOUR: i64 = 3600 * S;
/// The boot clock at `NOW` (it never steps).
const BOOT_NOW: i64 = 9_000 * S;

/// The clocks at `NOW`, with the wall clock stepped by `step` since the daemon started.
fn now_stepped(step: i64) -> Now {
    Now {
        mono: tokio::time::Instant::now(),
        wall_us: NOW,
        step_us: step,
        boot_us: BOOT_NOW,
    }
}

fn now() -> Now {
    now_stepped(0)
}

/// A reading taken `ago` µs before `NOW` (boot clock) under wall-clock step `step`.
fn point(ago: i64, step: i64) -> Point {
    Point {
        boot_us: BOOT_NOW - ago,
        step_us: step,
    }
}

fn beat_seen(pid: i64, timestamp_us: i64, modified_us: i64, status: &str, seen: Seen) -> Reading {
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
        seen,
        via_link: false,
    })
}

/// Read just now, for the first time, with no step.
fn beat_at(pid: i64, timestamp_us: i64, modified_us: i64, status: &str) -> Reading {
    let seen = Seen {
        first: point(0, 0),
        before: None,
        last: point(0, 0),
    };
    beat_seen(pid, timestamp_us, modified_us, status, seen)
}

fn beat(pid: i64, age_s: i64, status: &str) -> Reading {
    beat_at(pid, NOW - age_s * S, NOW - age_s * S, status)
}

fn rules(timeout_s: u64) -> Rules {
    Rules {
        timeout: Duration::from_secs(timeout_s),
        ..Rules::default()
    }
}

fn running(_: i32, _: i64, _: Option<i64>) -> Identity {
    Identity::of(Liveness::Running)
}

#[test]
fn a_future_timestamp_is_reported_as_skew() {
    let v = classify(
        &beat_at(100, NOW + HOUR, NOW, "running"),
        &now(),
        &rules(9),
        running,
    );
    assert_eq!(v.clock_skew_ms, Some(3_600_000));
    assert!(v.detail.contains("clock skew"), "{}", v.detail);
    let v = classify(
        &beat_at(100, NOW + S, NOW, "running"),
        &now(),
        &rules(9),
        running,
    );
    assert_eq!(v.clock_skew_ms, None, "within tolerance");
}

#[test]
fn the_seed_order_decides() {
    let alive = |p: i32, _, _| {
        Identity::of(if p == 100 {
            Liveness::Running
        } else {
            Liveness::Gone
        })
    };
    let cases = [
        (Reading::Missing, Health::NoHeartbeat),
        (Reading::Corrupt("bad".into()), Health::NoHeartbeat),
        (Reading::Unreadable("hung".into()), Health::Unreadable),
        (beat(200, 1, "running"), Health::StalePid),
        (beat(200, 100, "error"), Health::StalePid),
        (beat(100, 31, "error"), Health::TimedOut),
        (beat(100, 5, "error"), Health::ErrorStatus),
        (beat(100, 5, "running"), Health::Healthy),
        (beat(100, 30, "running"), Health::Healthy),
        (beat(100, -3, "running"), Health::Healthy),
        // An hour in the future, but the file was written 60 s ago: stale, not fresh.
        (
            beat_at(100, NOW + HOUR, NOW - 60 * S, "running"),
            Health::TimedOut,
        ),
        (
            beat_at(100, NOW + HOUR, NOW - S, "running"),
            Health::Healthy,
        ),
    ];
    for (reading, want) in cases {
        assert_eq!(
            classify(&reading, &now(), &rules(30), alive).health,
            want,
            "{reading:?}"
        );
    }
}

/// Wall-clock steps of an hour either way, around the moment a beat was written and read:
/// the beat is judged by when it was really written.
#[test]
fn a_clock_step_changes_no_verdict() {
    // (what happened, timestamp, seen, want age in s)
    let cases = [
        (
            "read 2 s ago, then the clock stepped forward",
            NOW - HOUR - 2 * S,
            Seen {
                first: point(2 * S, 0),
                before: Some(point(3 * S, 0)),
                last: point(2 * S, 0),
            },
            HOUR,
            2,
        ),
        (
            "read 2 s ago, then the clock stepped back",
            NOW + HOUR - 2 * S,
            Seen {
                first: point(2 * S, 0),
                before: Some(point(3 * S, 0)),
                last: point(2 * S, 0),
            },
            -HOUR,
            2,
        ),
        (
            "written before a forward step, first read after it",
            NOW - HOUR - S,
            Seen {
                first: point(0, HOUR),
                before: Some(point(S, 0)),
                last: point(0, HOUR),
            },
            HOUR,
            0,
        ),
        (
            "written after a forward step",
            NOW - S,
            Seen {
                first: point(0, HOUR),
                before: Some(point(2 * S, 0)),
                last: point(0, HOUR),
            },
            HOUR,
            1,
        ),
        (
            "written before a backward step, first read after it",
            NOW + HOUR - S,
            Seen {
                first: point(0, -HOUR),
                before: Some(point(S, 0)),
                last: point(0, -HOUR),
            },
            -HOUR,
            0,
        ),
        (
            "written before a backward step and never again: it ages on the boot clock",
            NOW + HOUR - 40 * S,
            Seen {
                first: point(40 * S, -HOUR),
                before: Some(point(41 * S, 0)),
                last: point(0, -HOUR),
            },
            -HOUR,
            40,
        ),
    ];
    for (what, timestamp, seen, step, want_age_s) in cases {
        let r = beat_seen(100, timestamp, timestamp, "running", seen);
        let v = classify(&r, &now_stepped(step), &rules(30), running);
        let age_s = v.age_ms.unwrap() / 1000;
        assert!(
            (age_s - want_age_s).abs() <= 1,
            "{what}: age {age_s}s, want {want_age_s}s ({v:?})"
        );
        let want = if want_age_s > 30 {
            Health::TimedOut
        } else {
            Health::Healthy
        };
        assert_eq!(v.health, want, "{what}: {v:?}");
    }
}

#[test]
fn a_writer_whose_clock_lags_times_out_as_in_the_seed() {
    // No step anywhere: a new file every second whose timestamp is an hour old is an hour old.
    let seen = Seen {
        first: point(0, 0),
        before: Some(point(S, 0)),
        last: point(0, 0),
    };
    let r = beat_seen(100, NOW - HOUR, NOW, "running", seen);
    assert_eq!(
        classify(&r, &now(), &rules(30), running).health,
        Health::TimedOut
    );
}

#[test]
fn the_writer_is_judged_where_it_was_written_and_a_known_start_is_the_same_process() {
    let seen = Seen {
        first: point(0, HOUR),
        before: Some(point(S, 0)),
        last: point(0, HOUR),
    };
    let r = beat_seen(100, NOW - HOUR - S, NOW - HOUR - S, "running", seen);
    let asked = std::cell::Cell::new(None);
    let mut rules = rules(30);
    rules.known = Some((100, 4242));
    let v = classify(&r, &now_stepped(HOUR), &rules, |pid, written, known| {
        asked.set(Some((pid, written, known)));
        Identity {
            liveness: Liveness::Running,
            start_ticks: Some(4242),
        }
    });
    let (pid, written, known) = asked.get().unwrap();
    assert_eq!(pid, 100);
    assert!(
        (written - (NOW - S)).abs() <= S,
        "in the clock as it runs now"
    );
    assert_eq!(known, Some(4242));
    assert_eq!(v.start_ticks, Some(4242));
    assert_eq!(names_live_writer(&v), Some((100, written, Some(4242))));
    // Another PID's known start is not this one's.
    rules.known = Some((101, 4242));
    classify(&r, &now_stepped(HOUR), &rules, |_, _, known| {
        assert_eq!(known, None);
        Identity::of(Liveness::Running)
    });
}

#[test]
fn a_reused_pid_is_stale_with_its_own_reason() {
    let v = classify(&beat(300, 1, "running"), &now(), &rules(30), |_, _, _| {
        Identity::of(Liveness::Reused)
    });
    assert_eq!(v.health, Health::StalePid);
    assert!(v.detail.contains("pid reused"), "{}", v.detail);
    assert_eq!(names_live_writer(&v), None);
}

#[test]
fn impossible_pids_are_stale_and_never_probed() {
    for pid in [-1, 0, 1 << 40] {
        let v = classify(&beat(pid, 1, "running"), &now(), &rules(9), |_, _, _| {
            panic!("must not probe pid {pid}")
        });
        assert_eq!(v.health, Health::StalePid);
        assert_eq!(v.pid, None);
    }
}

#[test]
fn ancient_timestamps_time_out_without_overflow() {
    let r = beat_at(100, i64::MIN, i64::MIN, "running");
    assert_eq!(
        classify(&r, &now(), &rules(1), running).health,
        Health::TimedOut
    );
}

#[test]
fn another_users_file_is_not_the_services_word() {
    let Reading::Beat(mut b) = beat(100, 1, "running") else {
        unreachable!()
    };
    b.owner_uid = 1000;
    let mut r = rules(30);
    r.owner = Some(65534);
    let v = judge(&Reading::Beat(b), &r, &now(), running);
    assert_eq!(v.health, Health::NoHeartbeat);
    assert!(v.detail.contains("owned by uid 1000"), "{}", v.detail);
}
