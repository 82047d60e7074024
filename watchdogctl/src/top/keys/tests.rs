use super::*;

fn rows() -> Vec<String> {
    ["api", "db", "web"].map(String::from).to_vec()
}

fn items() -> Vec<ActionItem> {
    vec![
        ActionItem {
            name: "kill".into(),
            in_recovery: true,
            off_in_config: false,
            off_at_runtime: false,
        },
        ActionItem {
            name: "clear_db".into(),
            in_recovery: true,
            off_in_config: false,
            off_at_runtime: true,
        },
    ]
}

/// Feeds `keys` to a fresh (or given) state on the three-row table and returns every effect.
fn press(ui: &mut Ui, keys: &[Key]) -> Vec<Effect> {
    let rows = rows();
    let actions = items();
    let screen = Screen {
        rows: &rows,
        page: 2,
        total: 3,
        actions: &actions,
        monitored: Some(true),
        pane_len: 7,
    };
    ui.settle(&rows);
    keys.iter().flat_map(|k| ui.handle(*k, &screen)).collect()
}

fn call(label: &str, request: Request) -> Effect {
    Effect::Call {
        request,
        label: label.into(),
    }
}

#[test]
fn selection_moves_within_the_rows() {
    let mut ui = Ui::default();
    press(&mut ui, &[]);
    assert_eq!(ui.selected.as_deref(), Some("api"));
    press(&mut ui, &[Key::Down, Key::Down, Key::Down]);
    assert_eq!(ui.selected.as_deref(), Some("web"));
    press(&mut ui, &[Key::PageUp]);
    assert_eq!(ui.selected.as_deref(), Some("api"));
    press(&mut ui, &[Key::End, Key::Up]);
    assert_eq!(ui.selected.as_deref(), Some("db"));
    // The selected row vanished (filtered out): the first is selected.
    ui.settle(&["web".to_owned()]);
    assert_eq!(ui.selected.as_deref(), Some("web"));
}

#[test]
fn service_keys_call_the_daemon_for_the_selected_row() {
    let mut ui = Ui::default();
    let key = || "db".to_owned();
    let effects = press(
        &mut ui,
        &[
            Key::Down,
            Key::Char('s'),
            Key::Char('k'),
            Key::Char('r'),
            Key::Char('g'),
            Key::Char('m'),
            Key::Char('x'),
        ],
    );
    assert_eq!(
        effects,
        [
            call("on db", Request::On { key: key() }),
            call("off db", Request::Off { key: key() }),
            call("restart db", Request::Restart { key: key() }),
            call("recover db", Request::Restart { key: key() }),
            call(
                "disable db",
                MonitorRequest {
                    key: key(),
                    enabled: false
                }
                .into()
            ),
        ]
    );
}

#[test]
fn bulk_actions_need_a_y() {
    let mut ui = Ui::default();
    assert!(press(&mut ui, &[Key::Char('R')]).is_empty());
    assert_eq!(ui.mode, Mode::Confirm(Bulk::Restart));
    assert_eq!(
        ui.message.as_ref().unwrap().0,
        "Restart all 3 services? y to confirm, any other key cancels"
    );
    assert_eq!(
        press(&mut ui, &[Key::Char('y')]),
        [call("restart-all", Request::RestartAll)]
    );
    assert_eq!(ui.mode, Mode::Table);
    // Anything else cancels, even a key that means something elsewhere.
    assert!(press(&mut ui, &[Key::Char('K'), Key::Char('q')]).is_empty());
    assert_eq!(ui.mode, Mode::Table);
    assert_eq!(ui.message.as_ref().unwrap().0, "cancelled");
    assert_eq!(
        press(&mut ui, &[Key::Char('S'), Key::Char('Y')]),
        [call("start-all", Request::StartAll)]
    );
}

#[test]
fn the_detail_pane_runs_and_toggles_actions() {
    let mut ui = Ui::default();
    let effects = press(&mut ui, &[Key::Down, Key::Enter]);
    assert_eq!(effects, [Effect::OpenDetail("db".into())]);
    assert_eq!(ui.mode, Mode::Detail("db".into()));
    let run = |action: &str| {
        call(
            &format!("run {action} on db"),
            RunRequest {
                key: Some("db".into()),
                action: action.into(),
            }
            .into(),
        )
    };
    assert_eq!(press(&mut ui, &[Key::Char('2')]), [run("clear_db")]);
    assert_eq!(ui.action, 1);
    assert!(press(&mut ui, &[Key::Char('9')]).is_empty());
    assert_eq!(ui.message.as_ref().unwrap().0, "no action 9");
    assert_eq!(press(&mut ui, &[Key::Up, Key::Enter]), [run("kill")]);
    // Space: kill is on, so it is turned off; clear_db is off at runtime, so it is turned on.
    assert_eq!(
        press(
            &mut ui,
            &[Key::Char(' '), Key::Down, Key::Down, Key::Char(' ')]
        ),
        [
            call(
                "disable action kill of db",
                ToggleActionRequest {
                    key: "db".into(),
                    action: "kill".into(),
                    enabled: false
                }
                .into()
            ),
            call(
                "enable action clear_db of db",
                ToggleActionRequest {
                    key: "db".into(),
                    action: "clear_db".into(),
                    enabled: true
                }
                .into()
            ),
        ]
    );
    // By name, then back, then r acts on the table's selection again.
    let typed: Vec<Key> = ":notify\n"
        .chars()
        .map(|c| if c == '\n' { Key::Enter } else { Key::Char(c) })
        .collect();
    assert_eq!(press(&mut ui, &typed), [run("notify")]);
    assert_eq!(ui.mode, Mode::Detail("db".into()));
    press(&mut ui, &[Key::Char(':'), Key::Char('x'), Key::Esc]);
    assert_eq!(ui.mode, Mode::Detail("db".into()));
    press(&mut ui, &[Key::PageDown, Key::PageDown]);
    assert_eq!(ui.scroll, 4);
    press(&mut ui, &[Key::PageDown]);
    assert_eq!(ui.scroll, 5, "not past the last page");
    press(&mut ui, &[Key::Home]);
    assert_eq!(ui.scroll, 0);
    press(&mut ui, &[Key::End, Key::PageUp]);
    assert_eq!(ui.scroll, 3);
    press(&mut ui, &[Key::Char('b')]);
    assert_eq!(ui.mode, Mode::Table);
    assert_eq!(
        press(&mut ui, &[Key::Char('r')]),
        [call("restart db", Request::Restart { key: "db".into() })]
    );
}

#[test]
fn filter_sort_help_and_quit() {
    let mut ui = Ui::default();
    press(&mut ui, &[Key::Char('/'), Key::Char('d'), Key::Char('q')]);
    assert_eq!(ui.filter, "dq");
    press(&mut ui, &[Key::Backspace, Key::Enter]);
    assert_eq!((ui.filter.as_str(), &ui.mode), ("d", &Mode::Table));
    // Esc while typing restores the filter from before.
    press(&mut ui, &[Key::Char('/'), Key::Char('x'), Key::Esc]);
    assert_eq!(ui.filter, "d");
    press(&mut ui, &[Key::Esc]);
    assert_eq!(ui.filter, "");
    press(&mut ui, &[Key::Char('o'), Key::Char('o')]);
    assert_eq!(ui.sort, Sort::Age);
    press(&mut ui, &[Key::Char('?')]);
    assert!(ui.help);
    assert!(
        press(&mut ui, &[Key::Char('r')]).is_empty(),
        "a key closes help"
    );
    assert!(!ui.help);
    assert_eq!(press(&mut ui, &[Key::Char('q')]), [Effect::Quit]);
    assert_eq!(press(&mut ui, &[Key::Ctrl('c')]), [Effect::Quit]);
    press(&mut ui, &[Key::Char('/')]);
    assert_eq!(
        press(&mut ui, &[Key::Ctrl('c')]),
        [Effect::Quit],
        "even while typing"
    );
    assert_eq!(press(&mut ui, &[Key::Ctrl('l')]), [Effect::Redraw]);
}
