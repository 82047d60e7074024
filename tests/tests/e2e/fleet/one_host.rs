//! One host over ssh (`-H`, `WATCHDOG_HOST`) behaves exactly as the local socket does: same
//! output, same exit codes, for queries, actions with `--wait` and the live event stream. And
//! `dial-stdio`, the remote end of it all, run directly without ssh.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use protocol::codec::{decode_response, encode_request, write_frame};
use protocol::{MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME, PROTOCOL_VERSION, Request, Response};
use serde_json::Value;
use watchdog_tests::{ctl_command, expect_exit, run_ctl};

use super::{
    T, host_with_placeholder, host_with_service, json_of, protocol_frames, run_with_stdin,
    sshd_or_skip, stderr, stdout,
};

#[test]
fn status_restart_and_history_over_ssh_match_the_local_socket() {
    let sshd = sshd_or_skip!();
    let (sb, _d, pid) = host_with_service("api");
    let url = sshd.url(&sb.socket());

    let remote = json_of(&sshd.ctl(&["-H", &url, "status", "--json"]), 0);
    let local = json_of(&sb.ctl(&["status", "--json"]), 0);
    for field in ["key", "display_name", "state", "health", "pid", "enabled"] {
        assert_eq!(
            remote[0][field], local[0][field],
            "{field}: {remote} vs {local}"
        );
    }
    let out = sshd.ctl(&["-H", &url, "status"]);
    expect_exit(&out, 0, "watchdogctl");
    assert!(stdout(&out).starts_with("KEY  NAME"), "{}", stdout(&out));
    assert!(stdout(&out).contains(&format!("api  Service api  running  healthy  {pid}")));
    // The detail view, exit 0 because the service is healthy.
    let out = sshd.ctl(&["-H", &url, "status", "api"]);
    expect_exit(&out, 0, "watchdogctl");
    assert!(stdout(&out).contains("\ndetail: "), "{}", stdout(&out));
    // A refusal comes through word for word, with the same exit.
    let remote = sshd.ctl(&["-H", &url, "status", "nope"]);
    let local = sb.ctl(&["status", "nope"]);
    expect_exit(&remote, 2, "watchdogctl");
    assert_eq!(stderr(&remote), stderr(&local));
    assert_eq!(stdout(&remote), "");

    // restart --wait: answered only once a new process is healthy.
    let report = json_of(
        &sshd.ctl(&["-H", &url, "restart", "api", "--wait", "--json"]),
        0,
    );
    assert_eq!(report["restart"]["old_pid"], pid, "{report}");
    assert_eq!(report["wait"]["outcome"], "healthy", "{report}");
    let new_pid = report["wait"]["service"]["pid"].as_u64().expect("new pid");
    assert_ne!(new_pid, pid);
    let row = sb.status_of("api");
    assert_eq!(
        (row["pid"].as_u64(), &row["health"]),
        (Some(new_pid), &Value::from("healthy"))
    );
    assert_eq!(sb.starts("api"), [pid as i32, new_pid as i32]);

    // WATCHDOG_HOST does what -H does; the history shows the restart made over ssh.
    let mut cmd = sshd.ctl_command();
    cmd.env("WATCHDOG_HOST", &url)
        .args(["history", "api", "--limit", "50", "--json"]);
    let history = json_of(&run_ctl(cmd), 0);
    let restarts: Vec<&Value> = history
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| e["kind"] == "recovery" && e["trigger"] == "restart")
        .collect();
    assert_eq!(restarts.len(), 1, "{history}");
    assert_eq!(restarts[0]["outcome"], "succeeded");
}

#[test]
fn events_follow_over_ssh_streams_until_stdout_closes() {
    let sshd = sshd_or_skip!();
    let (sb, _d, _) = host_with_service("api");
    let url = sshd.url(&sb.socket());
    let mut follower = sshd
        .ctl_command()
        .args(["-H", &url, "events", "--follow"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the follower");
    let out = follower.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    // Reads until one whole restart went by, then drops the pipe, as `| head` would.
    let reader = std::thread::spawn(move || {
        let mut started = false;
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            started |= line.contains(" api pipeline_started ");
            let finished = started && line.contains(" api pipeline_finished ");
            let _ = tx.send(line);
            if finished {
                return;
            }
        }
    });
    // The follower subscribes once ssh has connected: restart until a whole pipeline arrives.
    let deadline = Instant::now() + T;
    let mut lines = Vec::new();
    'restarts: loop {
        assert!(Instant::now() < deadline, "no events over ssh: {lines:?}");
        sb.ctl_ok(&["restart", "api"]);
        loop {
            match rx.recv_timeout(Duration::from_secs(2)) {
                Ok(line) => lines.push(line),
                Err(mpsc::RecvTimeoutError::Timeout) => continue 'restarts,
                Err(mpsc::RecvTimeoutError::Disconnected) => break 'restarts,
            }
        }
    }
    reader.join().expect("reader");
    let text = lines.join("\n");
    for expected in [
        " api pipeline_started restart pipeline: kill → start",
        " api step_finished kill: ok",
        " api step_finished start: ok",
        " api pipeline_finished ",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
    // Its stdout is closed now: the next event ends it with exit 0, like a Unix filter.
    let status = loop {
        if let Some(status) = follower.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the follower did not end");
        sb.ctl_ok(&["restart", "api"]);
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(status.code(), Some(0), "{status}");
}

#[test]
fn dial_stdio_bridges_frames_to_the_socket_and_refuses_oversized_ones() {
    let (sb, _d) = host_with_placeholder("api");
    let dial = || {
        let mut cmd = ctl_command();
        cmd.arg("dial-stdio").arg("--socket").arg(sb.socket());
        cmd
    };
    // Two requests on one connection, then EOF: both answered, then the daemon closes.
    let mut input = Vec::new();
    for request in [Request::Status { key: None }, Request::Version] {
        write_frame(&mut input, &encode_request(&request).expect("encode")).expect("frame");
    }
    let out = run_with_stdin(dial(), input);
    expect_exit(&out, 0, "watchdogctl");
    let replies: Vec<Response> = protocol_frames(&out.stdout, MAX_RESPONSE_FRAME)
        .iter()
        .map(|f| decode_response(f).expect("a reply"))
        .collect();
    assert_eq!(replies.len(), 2, "{replies:?}");
    match &replies[0] {
        Response::Status(s) => assert_eq!(s.services[0].key, "api"),
        other => panic!("not a status: {other:?}"),
    }
    match &replies[1] {
        Response::Version(v) => assert_eq!(v.protocol, PROTOCOL_VERSION),
        other => panic!("not a version: {other:?}"),
    }

    // A length over the request limit is refused before anything is read or forwarded.
    let mut input = (MAX_REQUEST_FRAME as u32 + 1).to_be_bytes().to_vec();
    input.extend_from_slice(&[0; 64]);
    let out = run_with_stdin(dial(), input);
    expect_exit(&out, 2, "watchdogctl");
    assert!(
        stderr(&out).contains("bad request frame"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());

    // No daemon there: exit 3 and the local client's message, which ssh carries back.
    let mut cmd = ctl_command();
    cmd.arg("dial-stdio")
        .arg("--socket")
        .arg(sb.path().join("none.sock"));
    let out = run_with_stdin(cmd, Vec::new());
    expect_exit(&out, 3, "watchdogctl");
    assert!(
        stderr(&out).starts_with("watchdogctl: cannot reach watchdogd at "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn metrics_and_on_off_over_ssh_act_as_locally() {
    let sshd = sshd_or_skip!();
    let (sb, _d, pid) = host_with_service("api");
    let url = sshd.url(&sb.socket());

    // metrics: the same exposition as the local socket gives, line for line except the
    // values that move between two reads (ages, uptime, tick timings).
    let remote = sshd.ctl(&["-H", &url, "metrics"]);
    expect_exit(&remote, 0, "watchdogctl");
    let local = sb.ctl(&["metrics"]);
    expect_exit(&local, 0, "watchdogctl");
    let names = |out: &std::process::Output| -> Vec<String> {
        stdout(out)
            .lines()
            .map(|l| l.split([' ', '{']).next().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(names(&remote), names(&local));
    let text = stdout(&remote);
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        text.contains("watchdog_service_healthy{key=\"api\"} 1"),
        "{text}"
    );

    // off over ssh: the process goes, the service stays off.
    let out = sshd.ctl(&["-H", &url, "off", "api"]);
    expect_exit(&out, 0, "watchdogctl");
    assert!(stdout(&out).starts_with("api: "), "{}", stdout(&out));
    watchdog_tests::wait_until("the service process to be gone", T, || {
        !watchdog_tests::alive(pid as i32)
    });
    let row = json_of(&sshd.ctl(&["-H", &url, "status", "api", "--json"]), 1);
    assert_eq!(row[0]["state"], "off", "{row}");
    assert_eq!(sb.status_of("api")["state"], "off");

    // on over ssh: started again, a new process, healthy.
    let report = json_of(&sshd.ctl(&["-H", &url, "on", "api", "--json"]), 0);
    assert_eq!(report["result"], "succeeded", "{report}");
    let back = sb.wait_healthy("api", Some(pid), T);
    assert_eq!(sb.starts("api"), [pid as i32, back as i32]);
    assert_eq!(sb.status_of("api")["state"], "running");
    // Both were audited as the daemon's own actions, the same as from the local socket.
    let history = json_of(&sb.ctl(&["history", "api", "--limit", "200", "--json"]), 0);
    let triggers: Vec<&str> = history
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| e["kind"] == "recovery")
        .filter_map(|e| e["trigger"].as_str())
        .collect();
    assert!(
        triggers.contains(&"on") && triggers.contains(&"off"),
        "{history}"
    );
}
