//! Table tests of what a finished pipeline does to its service: counts, failures, the verdict
//! it keeps or forgets, the grace of what it started, and the follow-up it hands over.

use protocol::{Health, PipelineResult, ServiceState, StepOutcome, StepReport, Trigger};
use tokio_util::sync::CancellationToken;

use crate::pipeline::Outcome;
use crate::session::Session;
use crate::store::Record;
use crate::supervisor::service::fixtures::{Clock, S, service, verdict};
use crate::supervisor::service::{Service, Task};

fn step(action: &str) -> StepReport {
    StepReport {
        action: action.into(),
        outcome: StepOutcome::Ok,
        message: "ok".into(),
        duration_ms: 1,
    }
}

fn outcome(result: PipelineResult, actions: &[&str]) -> Outcome {
    Outcome {
        result,
        steps: actions.iter().map(|a| step(a)).collect(),
        message: result.as_str().into(),
        old_pid: Some(4242),
        started: None,
        cancelled: false,
        refusals: Vec::new(),
        started_ms: 1,
        finished_ms: 2,
    }
}

fn session(pid: i32, ticks: i64) -> Session {
    Session {
        pid,
        at_us: 0,
        at_step_us: 0,
        ticks: Some(ticks),
    }
}

/// A service with two failures, running pipeline 7 for `trigger`, one caller waiting.
fn running(
    trigger: Trigger,
    clock: &Clock,
) -> (Service, tokio::sync::oneshot::Receiver<protocol::Response>) {
    let mut svc = service(serde_json::json!({ "start_grace_seconds": 5 }));
    svc.apply_verdict(verdict(Health::TimedOut, 1, &clock.at(1)), &clock.at(1), S);
    svc.apply_verdict(verdict(Health::TimedOut, 1, &clock.at(2)), &clock.at(2), S);
    assert_eq!(svc.failures, 2);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = match trigger {
        Trigger::Run => Task::run("clear_db"),
        t => Task::new(t),
    };
    svc.begin(7, task, CancellationToken::new(), vec![tx]);
    (svc, rx)
}

#[test]
fn what_a_finished_pipeline_leaves() {
    struct Case {
        trigger: Trigger,
        result: PipelineResult,
        steps: &'static [&'static str],
        started: Option<Session>,
        failures: u32,
        /// The health shown after: `None` forgotten, else what it is.
        health: Option<Health>,
        state: ServiceState,
        changed_process: bool,
        /// Recoveries by result: succeeded, warned, failed, skipped.
        counted: [u64; 4],
    }
    let cases = [
        // A recovery that started a new process: failures reset, the old verdict forgotten,
        // starting inside the grace.
        Case {
            trigger: Trigger::Automatic,
            result: PipelineResult::Succeeded,
            steps: &["kill", "start"],
            started: Some(session(900, 5)),
            failures: 0,
            health: None,
            state: ServiceState::Starting,
            changed_process: true,
            counted: [1, 0, 0, 0],
        },
        // Warned (a cleanup failed) counts as success for the failures.
        Case {
            trigger: Trigger::Restart,
            result: PipelineResult::Warned,
            steps: &["kill", "clear_db", "start"],
            started: Some(session(901, 5)),
            failures: 0,
            health: None,
            state: ServiceState::Starting,
            changed_process: true,
            counted: [0, 1, 0, 0],
        },
        // A failed start: failures stay, the verdict on the stopped process says so.
        Case {
            trigger: Trigger::Automatic,
            result: PipelineResult::Failed,
            steps: &["kill"],
            started: None,
            failures: 2,
            health: Some(Health::StalePid),
            state: ServiceState::Failing,
            changed_process: true,
            counted: [0, 0, 1, 0],
        },
        // One action by hand: nothing stopped or started, failures not forgiven.
        Case {
            trigger: Trigger::Run,
            result: PipelineResult::Succeeded,
            steps: &["clear_db"],
            started: None,
            failures: 2,
            health: Some(Health::TimedOut),
            state: ServiceState::Failing,
            changed_process: false,
            counted: [1, 0, 0, 0],
        },
        // Skipped (`on` of a healthy service): counted, but not shown as the last recovery.
        Case {
            trigger: Trigger::On,
            result: PipelineResult::Skipped,
            steps: &[],
            started: None,
            failures: 0,
            health: Some(Health::TimedOut),
            state: ServiceState::Failing,
            changed_process: false,
            counted: [0, 0, 0, 1],
        },
    ];
    for c in cases {
        let clock = Clock(tokio::time::Instant::now());
        let (mut svc, mut rx) = running(c.trigger, &clock);
        let what = format!("{:?} {:?}", c.trigger, c.result);
        let done = svc
            .finish(
                7,
                outcome(c.result, c.steps),
                c.started,
                "run-7".into(),
                &clock.at(3),
            )
            .expect("its running pipeline");
        assert_eq!(svc.failures, c.failures, "{what}");
        assert_eq!(svc.verdict.as_ref().map(|v| v.health), c.health, "{what}");
        assert_eq!(svc.state(&clock.at(3)), c.state, "{what}");
        assert_eq!(done.changed_process, c.changed_process, "{what}");
        assert_eq!(svc.counters.recoveries, c.counted, "{what}");
        assert_eq!(
            svc.last_recovery.is_some(),
            c.result != PipelineResult::Skipped,
            "{what}"
        );
        assert!(svc.pipeline.is_none(), "{what}");
        // Its caller's answer is handed back (sent once the rows are durable), not sent here.
        assert!(rx.try_recv().is_err(), "{what}");
        assert_eq!(done.replies.len(), 1, "{what}");
        assert!(
            done.effects
                .records
                .iter()
                .any(|r| matches!(r, Record::Pipeline { run_id, .. } if run_id == "run-7")),
            "{what}: the run's row is completed"
        );
        if c.started.is_some() {
            assert_eq!(svc.started_session(), c.started, "{what}");
        }
    }
}

#[test]
fn a_stale_report_changes_nothing() {
    let clock = Clock(tokio::time::Instant::now());
    let (mut svc, _rx) = running(Trigger::Automatic, &clock);
    let out = outcome(PipelineResult::Succeeded, &["kill", "start"]);
    assert!(
        svc.finish(6, out, None, "run-6".into(), &clock.at(3))
            .is_none()
    );
    assert_eq!(svc.failures, 2);
    assert!(svc.pipeline.is_some());
}

#[test]
fn a_verdict_already_given_on_the_started_process_is_kept() {
    let clock = Clock(tokio::time::Instant::now());
    let (mut svc, _rx) = running(Trigger::Restart, &clock);
    // While the start was being verified, a check judged the new process healthy.
    let mut healthy = verdict(Health::Healthy, 2, &clock.at(3));
    (healthy.pid, healthy.start_ticks) = (Some(900), Some(5));
    svc.apply_verdict(healthy, &clock.at(3), S);
    let out = outcome(PipelineResult::Succeeded, &["kill", "start"]);
    svc.finish(7, out, Some(session(900, 5)), "r".into(), &clock.at(3))
        .unwrap();
    assert_eq!(
        svc.verdict.as_ref().map(|v| v.health),
        Some(Health::Healthy)
    );
    assert_eq!(svc.state(&clock.at(3)), ServiceState::Running);
    // Proven healthy, it has no start grace left: a failure right after counts.
    svc.apply_verdict(verdict(Health::StalePid, 3, &clock.at(4)), &clock.at(4), S);
    assert_eq!(svc.failures, 1);
    assert_eq!(svc.state(&clock.at(4)), ServiceState::Failing);
    // The same pid with another kernel start is another process: forgotten.
    let (mut svc, _rx) = running(Trigger::Restart, &clock);
    let mut other = verdict(Health::Healthy, 2, &clock.at(3));
    (other.pid, other.start_ticks) = (Some(900), Some(4));
    svc.apply_verdict(other, &clock.at(3), S);
    let out = outcome(PipelineResult::Succeeded, &["kill", "start"]);
    svc.finish(7, out, Some(session(900, 5)), "r".into(), &clock.at(3))
        .unwrap();
    assert_eq!(svc.verdict, None);
}

#[test]
fn the_queued_follow_up_is_handed_over() {
    let clock = Clock(tokio::time::Instant::now());
    let (mut svc, _rx) = running(Trigger::Automatic, &clock);
    let (tx, _off) = tokio::sync::oneshot::channel();
    let fx = svc.enqueue(Task::new(Trigger::Off), tx, true);
    assert!(fx.replies.is_empty());
    let out = outcome(PipelineResult::Succeeded, &["kill"]);
    let done = svc.finish(7, out, None, "r".into(), &clock.at(3)).unwrap();
    let (task, replies) = done.next.expect("the off runs next");
    assert_eq!((task, replies.len()), (Task::new(Trigger::Off), 1));
}
