//! A hung file system hurts one service only: a heartbeat on a FUSE mount that never answers
//! makes that service `unreadable`; every other service is still checked and recovered on
//! time, and `status KEY`, `history` and `reload` still answer.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use watchdog_tests::fuse::HungMount;
use watchdog_tests::{expect_exit, run_ctl, wait_until};

use super::T;

/// Runs watchdogctl, failing the test if it does not finish within `within`.
fn answers_within(
    sb: &watchdog_tests::Sandbox,
    args: &[&str],
    within: Duration,
) -> std::process::Output {
    let started = Instant::now();
    let mut cmd = watchdog_tests::ctl_command();
    cmd.arg("--socket").arg(sb.socket()).args(args);
    let out = run_ctl(cmd);
    assert!(
        started.elapsed() < within,
        "watchdogctl {} took {:?}: it waited on the hung file system",
        args.join(" "),
        started.elapsed()
    );
    out
}

#[test]
fn a_hung_mount_makes_one_service_unreadable_and_the_others_carry_on() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: mounting a FUSE file system needs root");
        return;
    }
    let sb = crate::sandbox();
    let mount = match HungMount::new(&sb.path().join("hung")) {
        Ok(m) => m,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let mut stuck = sb.placeholder("stuck");
    stuck["heartbeat_path"] = json!(mount.path().join("hb.json"));
    let mut stuck2 = sb.placeholder("stuck2");
    stuck2["heartbeat_path"] = json!(mount.path().join("other.json"));
    let mut cfg = sb.config(json!({
        "stuck": stuck,
        "stuck2": stuck2,
        "ok": sb.service("ok", ""),
    }));
    cfg["check_interval_seconds"] = json!(0.5);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    // Asked before the daemon has judged the hung service: answered all the same.
    let out = answers_within(&sb, &["status", "stuck"], Duration::from_secs(5));
    expect_exit(&out, 1, "not healthy, but answered");
    sb.ctl_ok(&["on", "ok"]);
    let pid = sb.wait_settled("ok", None, T);
    wait_until("the hung service to be unreadable", T, || {
        sb.status_of("stuck")["health"] == "unreadable"
            && sb.status_of("stuck2")["health"] == "unreadable"
    });
    let detail = sb.status_of("stuck2")["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(detail.contains("hung"), "{detail}");
    // What an operator does next (restarts of the hung service, many looks at it) costs a
    // bounded number of threads and no answer waits on the hung file system.
    let socket = sb.socket();
    let storm: Vec<_> = (0..26)
        .map(|i| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let args: &[&str] = if i % 4 == 0 {
                    &["restart", "stuck"]
                } else {
                    &["status", "stuck"]
                };
                let started = Instant::now();
                let out = watchdog_tests::ctl_at(&socket, args);
                (args.join(" "), out.status.code(), started.elapsed())
            })
        })
        .collect();
    for t in storm {
        let (what, code, took) = t.join().unwrap();
        assert!(
            took < Duration::from_secs(20),
            "watchdogctl {what} took {took:?}"
        );
        assert!(matches!(code, Some(0..=1)), "watchdogctl {what}: {code:?}");
    }
    let metrics = sb.ctl_ok(&["metrics"]);
    let stuck_threads: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("watchdogd_reader_threads_stuck "))
        .expect("the stuck-thread gauge")
        .trim()
        .parse()
        .unwrap();
    assert!(
        stuck_threads <= 3.0,
        "one hung mount holds {stuck_threads} threads"
    );
    // The healthy service was left alone through all of it (a hung file system gets nobody
    // killed), and is still checked and recovered on time.
    assert_eq!(
        sb.status_of("ok")["pid"].as_u64(),
        Some(pid),
        "ok was restarted"
    );
    assert_eq!(sb.starts("ok").len(), 1, "ok was started again");
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    sb.wait_healthy("ok", Some(pid), Duration::from_secs(10));
    // Reads of the daemon's own go on: the detail view, history, reload.
    let out = answers_within(&sb, &["status", "stuck"], Duration::from_secs(5));
    let detail = expect_exit(&out, 1, "unhealthy, but answered").stdout;
    assert!(detail.contains("not read"), "{detail}");
    let out = answers_within(
        &sb,
        &["history", "stuck", "--limit", "5"],
        Duration::from_secs(5),
    );
    expect_exit(&out, 0, "history of the hung service");
    let out = answers_within(&sb, &["reload"], Duration::from_secs(5));
    expect_exit(&out, 0, "reload");
    drop(mount);
}

#[test]
fn a_user_whose_heartbeats_lead_into_a_hung_mount_stalls_only_its_own_services() {
    let Some((_nobody, sb)) = super::hostile_sandbox("a user's own hung mount") else {
        return;
    };
    let mount = match HungMount::new(&sb.path().join("hung")) {
        Ok(m) => m,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    // Two services of one user whose heartbeat names, in the ordinary folder everyone's lie
    // in, are links into a file system that never answers (a FUSE mount it stopped).
    let mut processes = serde_json::Map::new();
    for key in ["evil1", "evil2", "evil3"] {
        std::os::unix::fs::symlink(mount.path().join(format!("{key}.json")), sb.heartbeat(key))
            .unwrap();
        let mut svc = sb.placeholder(key);
        svc["user"] = json!("nobody");
        processes.insert(key.into(), svc);
    }
    processes.insert("ok".into(), sb.service("ok", ""));
    let mut cfg = sb.config(serde_json::Value::Object(processes));
    cfg["check_interval_seconds"] = json!(0.5);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    sb.ctl_ok(&["on", "ok"]);
    let pid = sb.wait_settled("ok", None, T);
    wait_until("the user's services to be unreadable", T, || {
        ["evil1", "evil2", "evil3"]
            .iter()
            .all(|k| sb.status_of(k)["health"] == "unreadable")
    });
    // Root's service, whose heartbeat lies in the same folder, is still read, judged and
    // recovered on time.
    for _ in 0..5 {
        assert_eq!(sb.status_of("ok")["health"], "healthy");
    }
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    sb.wait_healthy("ok", Some(pid), Duration::from_secs(10));
    drop(mount);
}
