use super::*;
use crate::top::model::tests::{reply, status};
use protocol::{ActionReport, Health, StatusChanges};

fn live() -> App {
    let mut app = App::default();
    let tasks = app.on_feed(
        Feed::Frame(Response::Status(reply(vec![
            status("api", Some(Health::Healthy), 1, 10),
            status("db", Some(Health::Healthy), 2, 10),
        ]))),
        0,
    );
    assert_eq!(tasks, [Task::FetchHistory(48)]);
    app
}

fn detail_of(key: &str) -> Box<ServiceDetail> {
    Box::new(ServiceDetail {
        status: status(key, Some(Health::Healthy), 1, 10),
        config_json: r#"{"recovery_actions": ["kill", "start"], "commands": {"start": "x"}}"#
            .into(),
        heartbeat: String::new(),
        history: vec![],
        heartbeat_source: String::new(),
    })
}

#[test]
fn the_history_is_asked_for_once_and_a_lost_daemon_refuses_calls() {
    let mut app = live();
    let again = app.on_feed(
        Feed::Frame(Response::Status(reply(vec![status(
            "api",
            Some(Health::Healthy),
            1,
            10,
        )]))),
        5,
    );
    assert!(again.is_empty(), "no second seed after a reconnect");
    app.on_feed(Feed::Lost("connection refused".into()), 6);
    assert!(app.on_key(Key::Char('r'), 10, 7).is_empty());
    let (text, tone) = app.ui.message.clone().unwrap();
    assert_eq!(tone, Tone::Bad);
    assert!(text.contains("not connected"), "{text}");
}

#[test]
fn a_call_says_it_is_running_then_how_it_ended() {
    let mut app = live();
    let tasks = app.on_key(Key::Char('r'), 10, 1);
    assert_eq!(
        tasks,
        [Task::Call {
            request: Request::Restart { key: "api".into() },
            label: "restart api".into()
        }]
    );
    assert_eq!(app.ui.message.as_ref().unwrap().0, "restart api …");
    app.on_feed(
        Feed::Done {
            label: "restart api".into(),
            result: Ok(Response::Action(ActionReport {
                key: "api".into(),
                result: PipelineResult::Succeeded,
                message: "restart done".into(),
                steps: vec![],
                old_pid: Some(1),
            })),
        },
        2,
    );
    assert_eq!(
        app.ui.message.as_ref().unwrap().0,
        "restart api: succeeded — restart done"
    );
    app.on_feed(
        Feed::Done {
            label: "restart api".into(),
            result: Ok(Response::Error {
                kind: ErrorKind::PermissionDenied,
                message: "permission denied: uid 65534 may not restart".into(),
            }),
        },
        3,
    );
    assert_eq!(
        app.ui.message.clone().unwrap(),
        (
            "restart api: permission denied: uid 65534 may not restart".into(),
            Tone::Bad
        )
    );
}

#[test]
fn the_detail_pane_is_fetched_on_open_and_when_its_service_changes_at_most_each_second() {
    let mut app = live();
    assert_eq!(
        app.on_key(Key::Enter, 10, 1_000),
        [Task::FetchDetail("api".into())]
    );
    assert!(app.detail().is_none());
    // Changes of another service do not make it stale; its own do, but one fetch at a time.
    let changes = |key: &str| {
        Feed::Frame(Response::Changes(StatusChanges {
            services: vec![status(key, Some(Health::StalePid), 1, 20)],
            removed: vec![],
            audit_rows_dropped: 0,
        }))
    };
    assert!(app.on_feed(changes("db"), 1_100).is_empty());
    assert!(
        app.on_feed(changes("api"), 1_200).is_empty(),
        "one in flight"
    );
    app.on_feed(
        Feed::Detail {
            key: "api".into(),
            result: Ok(detail_of("api")),
        },
        1_300,
    );
    assert!(app.detail().is_some());
    assert_eq!(app.actions().len(), 2);
    assert!(
        app.tick(1_900).is_empty(),
        "not within a second of the last"
    );
    assert_eq!(app.tick(2_000), [Task::FetchDetail("api".into())]);
    // Back to the table: nothing more is fetched.
    app.on_feed(
        Feed::Detail {
            key: "api".into(),
            result: Ok(detail_of("api")),
        },
        2_100,
    );
    app.on_key(Key::Esc, 10, 2_200);
    assert!(app.on_feed(changes("api"), 5_000).is_empty());
}

#[test]
fn refusals_of_the_stream_end_the_dashboard_and_outages_do_not() {
    let mut app = App::default();
    let tasks = app.on_feed(
        Feed::Frame(Response::Error {
            kind: ErrorKind::Unavailable,
            message: "too many connections; try again".into(),
        }),
        0,
    );
    assert!(tasks.is_empty());
    assert!(matches!(app.model.link, Link::Lost { .. }));
    let tasks = app.on_feed(
        Feed::Frame(Response::Error {
            kind: ErrorKind::PermissionDenied,
            message: "permission denied: uid 65534 may not top".into(),
        }),
        0,
    );
    assert_eq!(tasks, [Task::Quit]);
    assert_eq!(
        app.fatal.as_deref(),
        Some("permission denied: uid 65534 may not top")
    );
}
