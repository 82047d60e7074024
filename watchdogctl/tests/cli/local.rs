//! What needs no daemon: `beat`, `completions`, `man`: mirrors `src/commands/local.rs`.

use std::path::Path;
use std::process::Stdio;

use protocol::Heartbeat;

use crate::{ctl, expect_exit, run_exit};

#[test]
fn beat_writes_a_heartbeat_without_a_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hb/job.json");
    let missing = dir.path().join("none.sock");
    // The default PID is the parent's: here, this test process.
    let o = run_exit(
        &missing,
        &["beat", "--file", file.to_str().unwrap(), "--key", "job"],
        0,
    );
    assert_eq!(o.stdout, "");
    let hb = Heartbeat::parse(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(hb.process_key, "job");
    assert_eq!(hb.pid, i64::from(std::process::id()));
    assert_eq!(hb.status, "running");
    assert_eq!(hb.iteration, Some(1));
    assert!((protocol::time::now_micros() - hb.timestamp_us).abs() < 10_000_000);

    let o = run_exit(
        &missing,
        &[
            "beat",
            "--file",
            file.to_str().unwrap(),
            "--key",
            "job",
            "--pid",
            "77",
            "--status",
            "degraded",
            "--json",
        ],
        0,
    );
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["file"], file.to_str().unwrap());
    assert_eq!(v["pid"], 77);
    assert_eq!(v["iteration"], 2);
    let hb = Heartbeat::parse(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!((hb.pid, hb.status.as_str()), (77, "degraded"));

    // An unwritable place: exit 2, naming the path.
    let blocker = dir.path().join("plain-file");
    std::fs::write(&blocker, "").unwrap();
    let bad = blocker.join("hb.json");
    let o = run_exit(
        &missing,
        &["beat", "--file", bad.to_str().unwrap(), "--key", "job"],
        2,
    );
    assert!(
        o.stderr.starts_with(&format!(
            "watchdogctl: cannot write the heartbeat file {}: ",
            bad.display()
        )),
        "{}",
        o.stderr
    );
}

#[test]
fn completions_and_man_need_no_daemon() {
    let missing = Path::new("/nonexistent/w.sock");
    for (shell, start, marker) in [
        ("bash", "_watchdogctl() {", "complete -F _watchdogctl"),
        ("zsh", "#compdef watchdogctl", "_watchdogctl()"),
        ("fish", "# Print an optspec", "complete -c watchdogctl"),
    ] {
        let script = run_exit(missing, &["completions", shell], 0).stdout;
        assert!(script.starts_with(start), "{shell}: {script}");
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("history"), "{shell}");
    }
    let page = run_exit(missing, &["man"], 0).stdout;
    // clap_mangen puts two lines defining the apostrophe string before `.TH`.
    let th = page
        .lines()
        .position(|l| l.starts_with(".TH watchdogctl 1 "));
    assert!(th.is_some_and(|i| i < 3), "{page}");
    assert!(page.contains("events"));
    // A closed pipe is not an error (clap's generators would panic on it).
    let mut child = ctl()
        .args(["man"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let o = expect_exit(&o, 0, "man into a closed pipe");
    assert_eq!(o.stderr, "");
}
