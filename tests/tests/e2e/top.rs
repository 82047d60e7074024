//! `watchdogctl top` in a real terminal: tmux runs it against the real daemon, the test types
//! keys and reads the screen. Each test has its own tmux server (socket in its sandbox).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use watchdog_tests::tmux::Tmux;
use watchdog_tests::{Sandbox, bins, users};

use crate::sandbox;

const T: Duration = Duration::from_secs(20);

/// `text` as one shell word.
fn sq(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `api` (kill, clear_db, start) and `worker` (kill, start), both real test services.
fn config(sb: &Sandbox) -> serde_json::Value {
    let mut api = sb.service("api", "");
    api["commands"]["clear_db"] = json!("echo cleared");
    api["recovery_actions"] = json!(["kill", "clear_db", "start"]);
    sb.config(json!({ "api": api, "worker": sb.service("worker", "") }))
}

/// The shell command that runs `watchdogctl --socket SOCKET top` (after `prefix`).
fn top_command(sb: &Sandbox, prefix: &str) -> String {
    format!(
        "{prefix} env -u WATCHDOG_CONFIG -u WATCHDOG_SOCKET {} --socket {} top",
        sq(&bins().watchdogctl.display().to_string()),
        sq(&sb.socket().display().to_string())
    )
}

/// tmux running `command` at 80×24, or `None` (and why, printed) when tmux is missing.
fn terminal(dir: &Path, command: &str) -> Option<Tmux> {
    match Tmux::start(dir, 80, 24, command) {
        Ok(t) => Some(t),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// The screen line of service `key` (the first starting with it), or "".
fn row<'a>(screen: &'a str, key: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.starts_with(&format!("{key} ")))
        .unwrap_or("")
}

/// Whether a row shows `key` healthy with `pid`.
fn shows(screen: &str, key: &str, health: &str, pid: u64) -> bool {
    let words: Vec<&str> = row(screen, key).split_whitespace().collect();
    words.get(2) == Some(&health) && words.get(3) == Some(&pid.to_string().as_str())
}

/// Whether the captured escapes set any foreground or background colour.
fn uses_colour(escaped: &str) -> bool {
    escaped.split('\x1b').skip(1).any(|seq| {
        let Some(params) = seq.strip_prefix('[').and_then(|s| s.split('m').next()) else {
            return false;
        };
        params.split(';').any(|p| {
            matches!(
                p.parse::<u32>(),
                Ok(30..=38 | 40..=48 | 90..=97 | 100..=107)
            )
        })
    })
}

#[test]
fn rows_for_every_service_and_a_kill_shows_without_a_keypress() {
    let sb = sandbox();
    sb.write_config(&config(&sb));
    let _d = sb.start_daemon();
    let api = sb.wait_settled("api", None, T);
    let worker = sb.wait_settled("worker", None, T);
    let Some(t) = terminal(sb.path(), &top_command(&sb, "")) else {
        return;
    };
    let screen = t.wait_for("a row per service", T, |s| {
        shows(s, "api", "healthy", api) && shows(s, "worker", "healthy", worker)
    });
    assert!(screen.contains("2 services: 2 healthy"), "{screen}");
    assert!(screen.contains("watchdogd 0.1.0 · pid "), "{screen}");
    assert!(screen.contains("audit rows dropped 0"), "{screen}");
    assert!(uses_colour(&t.screen_with_escapes()), "health is coloured");

    kill(Pid::from_raw(worker as i32), Signal::SIGKILL).unwrap();
    // No key is pressed: the stream alone must bring the change, within 2 s.
    t.wait_for(
        "the killed worker not shown healthy with its old pid",
        Duration::from_secs(2),
        |s| !shows(s, "worker", "healthy", worker),
    );
    let new = sb.wait_settled("worker", Some(worker), T);
    t.wait_for("the recovered worker's new pid", T, |s| {
        shows(s, "worker", "healthy", new)
    });

    // Smaller terminals keep key and health; a tiny one says so.
    t.resize(40, 12);
    let screen = t.wait_for("the narrow layout", T, |s| {
        s.lines()
            .any(|l| l.starts_with("KEY") && !l.contains("LAST RECOVERY"))
    });
    assert!(row(&screen, "api").contains("healthy"), "{screen}");
    assert!(screen.lines().all(|l| l.chars().count() <= 40), "{screen}");
    t.resize(15, 4);
    t.wait_for("the too-small note", T, |s| s.contains("terminal too"));
    t.resize(80, 24);
    t.wait_for("the full layout again", T, |s| s.contains("LAST RECOVERY"));
}

#[test]
fn r_restarts_the_selected_service_and_its_detail_pane_shows_the_steps() {
    let sb = sandbox();
    sb.write_config(&config(&sb));
    let _d = sb.start_daemon();
    sb.wait_settled("api", None, T);
    let worker = sb.wait_settled("worker", None, T);
    let Some(t) = terminal(sb.path(), &top_command(&sb, "")) else {
        return;
    };
    t.wait_for("the rows", T, |s| shows(s, "worker", "healthy", worker));
    // Rows are sorted by key and the first is selected: one Down selects worker.
    t.keys(&["Down"]);
    t.keys(&["r"]);
    let new = sb.wait_settled("worker", Some(worker), T);
    let screen = t.wait_for("worker's new pid", T, |s| {
        shows(s, "worker", "healthy", new)
    });
    t.wait_for("the restart's outcome on the status line", T, |s| {
        s.contains("restart worker: succeeded")
    });
    assert!(
        shows(
            &screen,
            "api",
            "healthy",
            sb.status_of("api")["pid"].as_u64().unwrap()
        ),
        "api untouched:\n{screen}"
    );

    t.keys(&["Enter"]);
    let screen = t.wait_for("the last pipeline's steps", T, |s| {
        s.contains("LAST PIPELINE  restart succeeded")
            && s.lines()
                .any(|l| l.starts_with("  kill ") && l.contains(" ok "))
            && s.lines()
                .any(|l| l.starts_with("  start ") && l.contains(&format!("started pid {new}")))
    });
    assert!(screen.contains("worker · Service worker"), "{screen}");
    // The rest of the pane is a page down, and its end further.
    t.keys(&["PageDown"]);
    t.wait_for("the heartbeat below", T, |s| {
        s.lines()
            .any(|l| l.starts_with("HEARTBEAT  ") && l.ends_with("hb/worker.json"))
    });
    t.keys(&["End"]);
    t.wait_for("the config at the end", T, |s| {
        s.contains("CONFIG") && s.contains("  recovery_actions: kill → start")
    });
    t.keys(&["Home"]);
    t.wait_for("the top of the pane", T, |s| s.contains("LAST PIPELINE"));
    // A numbered action runs from the pane: 1 is `kill`; the daemon then recovers the service.
    t.keys(&["1"]);
    t.wait_for("kill's outcome", T, |s| {
        s.contains("run kill on worker: succeeded")
    });
    sb.wait_settled("worker", Some(new), T);
}

#[test]
fn toggles_made_in_top_survive_a_daemon_restart() {
    let sb = sandbox();
    sb.write_config(&config(&sb));
    let mut d = sb.start_daemon();
    sb.wait_settled("api", None, T);
    let Some(t) = terminal(sb.path(), &top_command(&sb, "")) else {
        return;
    };
    t.wait_for("the rows", T, |s| row(s, "api").contains("healthy"));
    t.keys(&["Enter"]);
    t.wait_for("api's actions", T, |s| s.contains("2 clear_db"));
    // Action 2 (clear_db) off in recoveries, then monitoring off.
    t.keys(&["Down"]);
    t.keys(&["Space"]);
    t.wait_for("clear_db off", T, |s| {
        s.lines()
            .any(|l| l.contains("2 clear_db") && l.contains("off at runtime"))
    });
    t.keys(&["m"]);
    t.wait_for("monitoring off", T, |s| {
        s.contains("monitoring off (runtime override)")
    });
    let api = sb.status_of("api");
    assert_eq!(api["actions_disabled"], json!(["clear_db"]));
    assert_eq!(api["monitoring_override"], json!(false));

    d.stop();
    t.wait_for("the daemon gone", T, |s| s.contains("daemon gone"));
    let _d = sb.start_daemon();
    t.wait_for("reconnected, with both toggles", T, |s| {
        !s.contains("daemon gone")
            && s.contains("monitoring off (runtime override)")
            && s.lines()
                .any(|l| l.contains("2 clear_db") && l.contains("off at runtime"))
    });
    // And back on from the pane.
    t.keys(&["m"]);
    t.keys(&["Space"]);
    t.wait_for("both back as configured", T, |s| {
        s.contains("· monitored")
            && s.lines()
                .any(|l| l.contains("2 clear_db") && !l.contains("off at runtime"))
    });
}

#[test]
fn a_read_only_user_sees_everything_and_is_refused_actions() {
    let user = match users::nobody() {
        Ok(u) => u,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    if !users::reachable_by_others(&bins().watchdogctl) {
        eprintln!("skipped: `nobody` cannot reach the watchdogctl under test");
        return;
    }
    let Some(setpriv) = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("skipped: setpriv is not installed");
        return;
    };
    let sb = sandbox();
    std::fs::set_permissions(sb.path(), PermissionsExt::from_mode(0o755)).unwrap();
    let mut cfg = config(&sb);
    cfg["socket_mode"] = json!("0666");
    cfg["read_users"] = json!(["nobody"]);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    std::fs::set_permissions(sb.socket(), PermissionsExt::from_mode(0o666)).unwrap();
    let api = sb.wait_settled("api", None, T);
    let starts = sb.starts("api").len();
    let prefix = format!(
        "{setpriv} --reuid={} --regid={} --clear-groups",
        user.uid, user.gid
    );
    let Some(t) = terminal(sb.path(), &top_command(&sb, &prefix)) else {
        return;
    };
    t.wait_for("the rows, read as nobody", T, |s| {
        shows(s, "api", "healthy", api)
    });
    t.keys(&["r"]);
    let screen = t.wait_for("the refusal on the status line", T, |s| {
        s.contains("restart api: permission denied")
    });
    assert!(shows(&screen, "api", "healthy", api), "{screen}");
    t.keys(&["Enter"]);
    t.wait_for("the detail pane, read as nobody", T, |s| {
        s.contains("LAST PIPELINE")
    });
    assert_eq!(sb.starts("api").len(), starts, "nothing was restarted");
    assert_eq!(sb.status_of("api")["pid"].as_u64(), Some(api));
}

#[test]
fn quitting_restores_the_terminal_and_no_color_is_honoured() {
    let sb = sandbox();
    sb.write_config(&config(&sb));
    let _d = sb.start_daemon();
    sb.wait_settled("api", None, T);
    for quit in ["q", "C-c"] {
        let dir = sb.path().join(if quit == "q" { "q" } else { "ctrl-c" });
        std::fs::create_dir_all(&dir).unwrap();
        let command = format!(
            "sh -c {}",
            sq(&format!(
                "{}; echo \"top exited $?\"; stty -a; sleep 60",
                top_command(&sb, "NO_COLOR=1")
            ))
        );
        let Some(t) = terminal(&dir, &command) else {
            return;
        };
        t.wait_for("the rows", T, |s| row(s, "api").contains("healthy"));
        assert_eq!(
            t.display("#{alternate_on}").trim(),
            "1",
            "in the alternate screen"
        );
        assert!(
            !uses_colour(&t.screen_with_escapes()),
            "NO_COLOR is set, yet:\n{:?}",
            t.screen_with_escapes()
        );
        t.keys(&[quit]);
        let screen = t.wait_with("top to exit and stty to print", T, Tmux::history, |s| {
            s.contains("top exited 0") && s.contains("icanon")
        });
        assert_eq!(
            t.display("#{alternate_on}").trim(),
            "0",
            "alternate screen left"
        );
        assert_eq!(t.display("#{cursor_flag}").trim(), "1", "cursor visible");
        let words: Vec<&str> = screen.split_whitespace().collect();
        for mode in ["icanon", "echo", "isig", "icrnl", "opost", "iexten"] {
            assert!(
                words.contains(&mode),
                "{mode} not restored after {quit}:\n{screen}"
            );
        }
    }
}

#[test]
fn top_works_over_ssh() {
    let sshd = match watchdog_tests::sshd::Sshd::start() {
        Ok(s) => s,
        Err(why) => {
            eprintln!("skipped: no OpenSSH server for this test: {why}");
            return;
        }
    };
    let sb = sandbox();
    sb.write_config(&config(&sb));
    let _d = sb.start_daemon();
    let worker = sb.wait_settled("worker", None, T);
    let command = format!(
        "env -u WATCHDOG_CONFIG -u WATCHDOG_SOCKET WATCHDOG_SSH={} WATCHDOG_REMOTE_CTL={} {} -H {} top",
        sq(&sshd.ssh_command()),
        sq(&bins().watchdogctl.display().to_string()),
        sq(&bins().watchdogctl.display().to_string()),
        sq(&sshd.url(&sb.socket())),
    );
    let Some(t) = terminal(sb.path(), &command) else {
        return;
    };
    t.wait_for("the rows over ssh", T, |s| {
        shows(s, "worker", "healthy", worker)
    });
    t.keys(&["Down", "r"]);
    let new = sb.wait_settled("worker", Some(worker), T);
    t.wait_for("worker's new pid over ssh", T, |s| {
        shows(s, "worker", "healthy", new)
    });
}

#[test]
fn top_refuses_without_a_terminal_and_has_no_json() {
    let sb = sandbox();
    sb.write_config(&config(&sb));
    let _d = sb.start_daemon();
    for args in [&["top"][..], &["top", "--json"]] {
        let out = sb.ctl_printed(args, 2);
        let err = out.stderr;
        assert!(
            err.contains("top needs a terminal") || err.contains("top has no JSON output"),
            "{err}"
        );
        assert!(out.stdout.is_empty(), "nothing drawn into a pipe");
    }
}
