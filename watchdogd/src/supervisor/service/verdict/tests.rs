//! Table tests of what a verdict does: every health, in and out of supervision, grace, stalls,
//! sampling, waiters and forgiveness.

use protocol::{Health, Response, Trigger, WaitOutcome};
use tokio::time::Instant;

use crate::clock::Now;
use crate::store::{Intent, Record};
use crate::supervisor::service::{Service, StartRecord, Task};

use crate::supervisor::service::fixtures::{Clock, S, service, verdict};

fn checks(fx: &crate::supervisor::effects::Effects) -> usize {
    fx.records
        .iter()
        .filter(|r| matches!(r, Record::Check { .. }))
        .count()
}

#[test]
fn an_unreadable_heartbeat_neither_counts_nor_forgives() {
    let clock = Clock(Instant::now());
    let mut svc = service(serde_json::json!({}));
    svc.apply_verdict(verdict(Health::TimedOut, 1, &clock.at(1)), &clock.at(1), S);
    assert_eq!(svc.failures, 1);
    for t in 2..6 {
        let fx = svc.apply_verdict(
            verdict(Health::Unreadable, 1, &clock.at(t)),
            &clock.at(t),
            S,
        );
        assert_eq!((svc.failures, fx.recover), (1, false), "at {t}s");
        assert_eq!(checks(&fx), 1, "still shown and kept in the audit log");
    }
}

#[test]
fn every_unhealthy_health_counts_and_recovers_at_the_threshold() {
    for health in [
        Health::NoHeartbeat,
        Health::StalePid,
        Health::TimedOut,
        Health::ErrorStatus,
    ] {
        let clock = Clock(Instant::now());
        let mut svc = service(serde_json::json!({}));
        let fx = svc.apply_verdict(verdict(health, 1, &clock.at(1)), &clock.at(1), S);
        assert_eq!((svc.failures, fx.recover), (1, false), "{health:?}");
        assert_eq!(checks(&fx), 1, "an unhealthy check is always written");
        let fx = svc.apply_verdict(verdict(health, 1, &clock.at(2)), &clock.at(2), S);
        assert_eq!((svc.failures, fx.recover), (2, true), "{health:?}");
        let fx = svc.apply_verdict(verdict(Health::Healthy, 2, &clock.at(3)), &clock.at(3), S);
        assert_eq!((svc.failures, fx.recover), (0, false), "healthy resets");
        assert_eq!(svc.state(&clock.at(3)), protocol::ServiceState::Running);
    }
}

#[test]
fn unhealthy_checks_outside_supervision_do_not_count() {
    let clock = Clock(Instant::now());
    let now = clock.at(1);
    // (setup, expected failures after two unhealthy checks)
    type Setup = fn(&mut Service, &Now);
    let cases: [(&str, Setup, u32); 5] = [
        ("supervised", |_, _| {}, 2),
        ("off by intent", |s, _| s.intent = Intent::Off, 0),
        ("monitoring off", |s, n| drop(s.set_monitoring(false, n)), 0),
        (
            "pipeline running",
            |s, _| {
                s.begin(
                    1,
                    Task::new(Trigger::Restart),
                    tokio_util::sync::CancellationToken::new(),
                    Vec::new(),
                );
            },
            0,
        ),
        ("waiting for a slot", |s, _| s.set_waiting_slot(true), 0),
    ];
    for (name, setup, want) in cases {
        let mut svc = service(serde_json::json!({}));
        setup(&mut svc, &now);
        let mut recovered = false;
        for t in 1..=2 {
            let fx = svc.apply_verdict(
                verdict(Health::NoHeartbeat, 1, &clock.at(t)),
                &clock.at(t),
                S,
            );
            recovered |= fx.recover;
        }
        assert_eq!(svc.failures, want, "{name}");
        assert_eq!(recovered, want >= 2, "{name}");
    }
}

#[test]
fn a_service_off_by_intent_writes_only_changes_and_never_warns() {
    let clock = Clock(Instant::now());
    let mut svc = service(serde_json::json!({}));
    svc.intent = Intent::Off;
    let mut rows = 0;
    for t in 1..=10 {
        let fx = svc.apply_verdict(
            verdict(Health::NoHeartbeat, 1, &clock.at(t)),
            &clock.at(t),
            S,
        );
        rows += checks(&fx);
        assert!(
            fx.notes.iter().all(|n| n.level == tracing::Level::DEBUG),
            "{:?}",
            fx.notes
        );
    }
    assert_eq!(rows, 1, "one row for the change, none recurring");
    assert_eq!(svc.state(&clock.at(10)), protocol::ServiceState::Stopped);
}

#[test]
fn the_start_grace_forgives_the_old_heartbeat_only() {
    let clock = Clock(Instant::now());
    let mut svc = service(serde_json::json!({ "start_grace_seconds": 5 }));
    let start = clock.at(1);
    svc.started = Some(StartRecord {
        session: crate::session::Session {
            pid: 77,
            at_us: start.wall_us,
            at_step_us: 0,
            ticks: None,
        },
        alive: true,
    });
    svc.grace_until = Some(start.mono + 5 * S);
    // The old process's last heartbeat, from before the start: forgiven, state starting.
    let mut old = verdict(Health::StalePid, 1, &clock.at(2));
    old.heartbeat_us = Some(start.wall_us - 1);
    let fx = svc.apply_verdict(old.clone(), &clock.at(2), S);
    assert_eq!(svc.failures, 0);
    assert_eq!(svc.state(&clock.at(2)), protocol::ServiceState::Starting);
    // A start not yet seen healthy is looked at again soon, not at its next regular check.
    assert_eq!(
        fx.check_by,
        Some(clock.at(2).mono + crate::supervisor::service::verdict::STARTING_CADENCE)
    );
    // A heartbeat written after the start that is unhealthy counts, grace or not.
    let mut fresh = verdict(Health::ErrorStatus, 1, &clock.at(3));
    fresh.heartbeat_us = Some(start.wall_us + 1);
    svc.apply_verdict(fresh, &clock.at(3), S);
    assert_eq!(svc.failures, 1);
    // After the grace the old heartbeat counts too.
    svc.apply_verdict(old, &clock.at(7), S);
    assert_eq!(svc.failures, 2);
    assert_eq!(svc.state(&clock.at(7)), protocol::ServiceState::Failing);
}

#[test]
fn a_frozen_iteration_stalls_after_stall_seconds() {
    let clock = Clock(Instant::now());
    let mut svc = service(serde_json::json!({}));
    let cases = [
        (0, 1, Health::Healthy),
        (3, 1, Health::Healthy),
        (6, 1, Health::Stalled),
        (7, 2, Health::Healthy),
        (11, 2, Health::Healthy),
        (13, 2, Health::Stalled),
    ];
    for (t, iteration, want) in cases {
        let now = clock.at(t);
        svc.apply_verdict(verdict(Health::Healthy, iteration, &now), &now, S);
        assert_eq!(
            svc.verdict.as_ref().unwrap().health,
            want,
            "t={t} iteration={iteration}"
        );
    }
}

#[test]
fn healthy_checks_are_sampled_but_every_change_is_kept() {
    let clock = Clock(Instant::now());
    let mut svc = service(serde_json::json!({}));
    let sample = 10 * S;
    let mut written = Vec::new();
    for (t, health) in [
        (0, Health::Healthy),
        (1, Health::Healthy),
        (2, Health::Healthy),
        (3, Health::TimedOut),
        (4, Health::Healthy),
        (5, Health::Healthy),
        (15, Health::Healthy),
    ] {
        let now = clock.at(t);
        let fx = svc.apply_verdict(verdict(health, t + 1, &now), &now, sample);
        if checks(&fx) > 0 {
            written.push(t);
        }
    }
    assert_eq!(written, [0, 3, 4, 15]);
}

#[test]
fn waiters_are_answered_by_a_healthy_check_of_another_pid() {
    let clock = Clock(Instant::now());
    let mut svc = service(serde_json::json!({}));
    let (old_tx, mut old_rx) = tokio::sync::oneshot::channel();
    let (any_tx, mut any_rx) = tokio::sync::oneshot::channel();
    svc.add_waiter(Some(4242), clock.at(60).mono, old_tx);
    svc.add_waiter(None, clock.at(60).mono, any_tx);
    let fx = svc.apply_verdict(verdict(Health::Healthy, 1, &clock.at(1)), &clock.at(1), S);
    assert_eq!(fx.replies.len(), 1, "only the waiter that accepts pid 4242");
    for (tx, resp) in fx.replies {
        let _ = tx.send(resp);
    }
    assert!(
        matches!(any_rx.try_recv(), Ok(Response::Wait(w)) if w.outcome == WaitOutcome::Healthy)
    );
    assert!(old_rx.try_recv().is_err());
    let fx = svc.expire_waiters(&clock.at(61));
    for (tx, resp) in fx.replies {
        let _ = tx.send(resp);
    }
    assert!(
        matches!(old_rx.try_recv(), Ok(Response::Wait(w)) if w.outcome == WaitOutcome::TimedOut)
    );
}

#[test]
fn a_healthy_window_forgives_a_give_up() {
    let clock = Clock(Instant::now());
    let mut svc = service(serde_json::json!({ "max_restarts": 1 }));
    let (d, _) = svc.decide_recovery(&clock.at(0));
    assert_eq!(d, crate::supervisor::service::flap::Decision::Recover);
    let (d, fx) = svc.decide_recovery(&clock.at(1));
    assert_eq!(d, crate::supervisor::service::flap::Decision::GiveUp);
    assert!(fx.records.iter().any(|r| matches!(
        r,
        Record::Event {
            kind: protocol::EventKind::GaveUp,
            ..
        }
    )));
    assert_eq!(svc.state(&clock.at(1)), protocol::ServiceState::GaveUp);
    svc.apply_verdict(verdict(Health::Healthy, 1, &clock.at(2)), &clock.at(2), S);
    let fx = svc.apply_verdict(verdict(Health::Healthy, 2, &clock.at(40)), &clock.at(40), S);
    assert!(fx.records.iter().any(|r| matches!(
        r,
        Record::Event {
            kind: protocol::EventKind::FlapReset,
            ..
        }
    )));
    assert_eq!(svc.state(&clock.at(40)), protocol::ServiceState::Running);
}

#[test]
fn a_healthy_service_is_rechecked_when_its_heartbeat_would_time_out() {
    let clock = Clock(Instant::now());
    let mut svc = service(serde_json::json!({}));
    let now = clock.at(1);
    let fx = svc.apply_verdict(verdict(Health::Healthy, 1, &now), &now, S);
    // Timeout 10 s, heartbeat 1 s old: due again in about 9 s.
    let by = fx.check_by.unwrap();
    assert!(by > now.mono + 8 * S && by < now.mono + 10 * S);
}

/// Every health after every health (or none): the failure count, whether it recovers, the state
/// shown, and whether the check is written.
#[test]
fn every_health_transition() {
    use protocol::ServiceState::{Failing, Running};
    const ALL: [Health; 7] = [
        Health::Healthy,
        Health::NoHeartbeat,
        Health::StalePid,
        Health::TimedOut,
        Health::ErrorStatus,
        Health::Stalled,
        Health::Unreadable,
    ];
    // What one verdict does to the failure count (threshold 2).
    let count = |h: Health, before: u32| match h {
        Health::Healthy => 0,
        Health::Unreadable => before,
        _ => before + 1,
    };
    let previous = std::iter::once(None).chain(ALL.map(Some));
    for prev in previous {
        for next in ALL {
            let clock = Clock(Instant::now());
            let mut svc = service(serde_json::json!({ "healthy_sample_seconds": 3600 }));
            let mut failures = 0;
            if let Some(p) = prev {
                // Iterations move on, so a healthy one is not stalled by these.
                svc.apply_verdict(verdict(p, 1, &clock.at(1)), &clock.at(1), S * 3600);
                failures = count(p, 0);
            }
            let fx = svc.apply_verdict(verdict(next, 2, &clock.at(2)), &clock.at(2), S * 3600);
            let want = count(next, failures);
            let what = format!("{prev:?} → {next:?}");
            assert_eq!(svc.failures, want, "{what}: failures");
            assert_eq!(fx.recover, want >= 2 && want > failures, "{what}: recover");
            let state = if next == Health::Healthy {
                Running
            } else {
                Failing
            };
            assert_eq!(svc.state(&clock.at(2)), state, "{what}: state");
            // Unhealthy checks are always written, a healthy one only when it is a change (or
            // the first: sampling is off here).
            let written = next != Health::Healthy || prev != Some(Health::Healthy);
            assert_eq!(checks(&fx) == 1, written, "{what}: written");
        }
    }
}
