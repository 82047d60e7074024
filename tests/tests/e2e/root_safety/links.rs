//! Planted links never redirect root's writes: a `nobody` service's log, a root service's log
//! in a folder `nobody` can write, the metrics text file and its temp files.

use serde_json::json;

use super::{give, hostile_sandbox, precious, untouched};

#[test]
fn a_link_planted_at_a_services_log_is_never_written_through() {
    let Some((nobody, sb)) = hostile_sandbox("planted log links") else {
        return;
    };
    let target = precious(&sb);
    // The nobody service's log folder is its own; a root service's log folder is nobody's too.
    let logs = sb.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    give(&logs, &nobody);
    std::os::unix::fs::symlink(&target, logs.join("user.log")).unwrap();
    std::os::unix::fs::symlink(&target, logs.join("root.log")).unwrap();
    std::fs::hard_link(&target, logs.join("hard.log")).unwrap();
    let mut user = sb.service("user", "");
    user["user"] = json!("nobody");
    user["stdout_log"] = json!("logs/user.log");
    let mut root = sb.service("root", "");
    root["stdout_log"] = json!("logs/root.log");
    let mut hard = sb.service("hard", "");
    hard["stderr_log"] = json!("logs/hard.log");
    let mut cfg = sb.config(json!({ "user": user, "root": root, "hard": hard }));
    cfg["consecutive_failures_threshold"] = json!(1_000_000);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    for (key, path) in [
        ("user", "logs/user.log"),
        ("root", "logs/root.log"),
        ("hard", "logs/hard.log"),
    ] {
        // Not started through a link.
        let err = sb.ctl_err(&["on", key], 1);
        assert!(
            err.contains(path),
            "{key}: the reason names the path: {err}"
        );
        assert!(sb.starts(key).is_empty(), "{key} ran");
    }
    untouched(&target);
    // A log file that is really the service's own works, and is the user's.
    std::fs::remove_file(logs.join("user.log")).unwrap();
    sb.ctl_ok(&["on", "user"]);
    sb.wait_healthy("user", None, super::T);
    let owner =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(logs.join("user.log")).unwrap());
    assert_eq!(
        owner,
        nobody.uid.as_raw(),
        "opened with the user's own rights"
    );
}

#[test]
fn the_metrics_textfile_replaces_a_planted_link_and_never_writes_through_it() {
    let Some((nobody, sb)) = hostile_sandbox("metrics textfile links") else {
        return;
    };
    let target = precious(&sb);
    let dir = sb.path().join("textfile");
    std::fs::create_dir(&dir).unwrap();
    give(&dir, &nobody);
    // At the final name and at every temp name an old writer would have used.
    for name in [
        "watchdog.prom",
        ".watchdog.prom.tmp",
        &format!(".watchdog.prom.{}.tmp", std::process::id()),
    ] {
        std::os::unix::fs::symlink(&target, dir.join(name)).unwrap();
    }
    let mut cfg = sb.config(json!({ "api": sb.placeholder("api") }));
    cfg["metrics_textfile"] = json!("textfile/watchdog.prom");
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    let file = dir.join("watchdog.prom");
    watchdog_tests::wait_until("the metrics file to be written", super::T, || {
        std::fs::symlink_metadata(&file).is_ok_and(|m| m.is_file())
            && std::fs::read_to_string(&file).is_ok_and(|t| t.contains("watchdog_service_healthy"))
    });
    untouched(&target);
}

#[test]
fn a_fifo_or_a_folder_link_at_a_log_fails_the_start_and_never_holds_the_daemon() {
    let Some((nobody, sb)) = hostile_sandbox("planted FIFOs and folder links") else {
        return;
    };
    let logs = sb.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    give(&logs, &nobody);
    // What `nobody` can plant in its own log folder: FIFOs nobody reads, and a link to a
    // folder only root may write.
    for name in ["user.log", "root.log"] {
        nix::unistd::mkfifo(
            &logs.join(name),
            nix::sys::stat::Mode::from_bits_truncate(0o666),
        )
        .unwrap();
        give(&logs.join(name), &nobody);
    }
    let secret = sb.path().join("secret");
    std::fs::create_dir(&secret).unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&secret, logs.join("sub")).unwrap();
    std::os::unix::fs::lchown(
        logs.join("sub"),
        Some(nobody.uid.as_raw()),
        Some(nobody.gid.as_raw()),
    )
    .unwrap();
    let mut user = sb.service("user", "");
    user["user"] = json!("nobody");
    user["stdout_log"] = json!("logs/user.log");
    let mut root = sb.service("root", "");
    root["stderr_log"] = json!("logs/root.log");
    // A group alone leaves the service root: its logs are root's writes.
    let mut grp = sb.service("grp", "");
    grp["group"] = json!(nobody.gid.as_raw().to_string());
    grp["stdout_log"] = json!("logs/sub/grp.log");
    let mut cfg = sb.config(json!({ "user": user, "root": root, "grp": grp }));
    cfg["consecutive_failures_threshold"] = json!(1_000_000);
    sb.write_config(&cfg);
    let _d = sb.start_daemon();
    for (key, path, why) in [
        ("user", "logs/user.log", "not a regular file"),
        ("root", "logs/root.log", "not a regular file"),
        ("grp", "logs/sub", "symbolic link"),
    ] {
        let started = std::time::Instant::now();
        let err = sb.ctl_err(&["on", key], 1);
        assert!(
            err.contains(path) && err.contains(why),
            "{key}: the reason names the path and what is wrong: {err}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{key}: the start took {:?}",
            started.elapsed()
        );
        assert!(sb.starts(key).is_empty(), "{key} ran");
        // The daemon answers meanwhile and after.
        sb.ctl_ok(&["status"]);
    }
    assert_eq!(
        std::fs::read_dir(&secret).unwrap().count(),
        0,
        "root wrote through the planted folder link"
    );
}
