use super::*;
use crate::top::app::Feed;
use crate::top::keys::Key;
use crate::top::model::tests::{reply, status};
use protocol::{Health, Response, ServiceState};

const NOW: i64 = 1_770_272_249_601;

fn app() -> App {
    let mut off = status("batch", Some(Health::NoHeartbeat), 3, NOW);
    off.state = ServiceState::Stopped;
    let mut bad = status("worker", Some(Health::StalePid), 4, NOW);
    bad.consecutive_failures = 1;
    let mut r = reply(vec![
        status("api", Some(Health::Healthy), 4242, NOW),
        off,
        bad,
    ]);
    r.daemon_started_ms = NOW - 3_725_000;
    let mut app = App::default();
    app.on_feed(Feed::Frame(Response::Status(r)), NOW);
    app
}

fn text(lines: &[Line]) -> Vec<String> {
    lines.iter().map(Line::text).collect()
}

#[test]
fn the_table_at_80_by_24() {
    let app = app();
    let lines = compose(&app, NOW + 2_000, 80, 24);
    assert_eq!(lines.len(), 24);
    let t = text(&lines);
    assert_eq!(
        t[0],
        "watchdogd 0.1.0 · pid 7 · up 1h02m · audit rows dropped 0"
    );
    assert_eq!(
        t[1],
        "3 services: 1 healthy · 1 no_heartbeat · 1 stale_pid  (sorted by key)"
    );
    assert!(t[2].starts_with("KEY        STATE      HEALTH"), "{}", t[2]);
    assert!(
        t[3].starts_with("api        running    healthy      4242    3s "),
        "{}",
        t[3]
    );
    assert!(
        t[4].starts_with("batch      off        no_heartbeat"),
        "{}",
        t[4]
    );
    assert!(
        t[5].starts_with("worker     running    stale_pid    4       3s    1 "),
        "{}",
        t[5]
    );
    assert!(lines[3].highlight && !lines[4].highlight);
    assert_eq!(
        t[23],
        "↑↓ Enter detail · s on · k off · r restart · / filter · o sort · ? keys · q quit"
    );
    for l in &t {
        assert!(l.chars().count() <= 80, "{l:?}");
    }
}

#[test]
fn a_lost_daemon_is_said_and_its_rows_dimmed() {
    let mut app = app();
    app.on_feed(
        Feed::Lost("Connection refused (os error 111)\x1b[2J".into()),
        NOW,
    );
    let lines = compose(&app, NOW, 80, 24);
    assert!(
        lines[0].text().starts_with(
            "daemon gone (Connection refused (os error 111)\\u{1b}[2J); reconnecting…"
        ),
        "{}",
        lines[0].text()
    );
    assert!(lines[3].segments.iter().all(|(_, t)| *t == Tone::Dim));
}

#[test]
fn filter_status_line_help_and_small_terminals() {
    let mut app = app();
    for k in ['/', 'w', 'o'] {
        app.on_key(Key::Char(k), 10, NOW);
    }
    let t = text(&compose(&app, NOW, 80, 24));
    assert_eq!(t[22], "filter: wo▏");
    assert!(t[3].starts_with("worker"), "{}", t[3]);
    assert_eq!(t[4], "");
    app.on_key(Key::Char('x'), 10, NOW);
    let t = text(&compose(&app, NOW, 80, 24));
    assert_eq!(t[3], "no service matches the filter (Esc clears it)");
    app.on_key(Key::Esc, 10, NOW);
    app.on_key(Key::Char('?'), 10, NOW);
    let t = text(&compose(&app, NOW, 80, 24));
    assert!(t[2].starts_with("KEYS"), "{}", t[2]);
    assert!(t.iter().any(|l| l.starts_with("S K R")), "{t:?}");
    // Narrow: fewer columns, still one line per row; tiny: a note.
    let t = text(&compose(&app, NOW, 40, 10));
    assert_eq!(t.len(), 10);
    let t = text(&compose(&App::default(), NOW, 19, 24));
    assert_eq!(t, ["terminal too small", "(19x24, need 20x5)", "q quits"]);
    let t = text(&compose(&App::default(), NOW, 80, 2));
    assert_eq!(t, ["terminal too small", "(80x2, need 20x5)"]);
}

#[test]
fn many_rows_scroll_with_the_selection() {
    let services = (0..40)
        .map(|i| status(&format!("svc{i:02}"), Some(Health::Healthy), i, NOW))
        .collect();
    let mut app = App::default();
    app.on_feed(Feed::Frame(Response::Status(reply(services))), NOW);
    for _ in 0..30 {
        app.on_key(Key::Down, page(24), NOW);
    }
    let lines = compose(&app, NOW, 80, 24);
    let selected: Vec<String> = lines
        .iter()
        .filter(|l| l.highlight)
        .map(Line::text)
        .collect();
    assert_eq!(selected.len(), 1);
    assert!(selected[0].starts_with("svc30"), "{selected:?}");
    assert!(
        lines[21].highlight,
        "the selection is on the last row shown"
    );
    assert!(lines[3].text().starts_with("svc12"), "{}", lines[3].text());
}
