//! The seed's pipeline habits: no `recovery_actions` means `kill → clear_db → start`; a cleanup
//! naming a script runs that script directly with `--force` (a path with a space included); a
//! heartbeat writer that writes its PID and iteration as strings is read as the seed read it.

use serde_json::json;

use super::T;

#[test]
fn the_default_pipeline_runs_clear_db_from_a_path_with_a_space() {
    let sb = crate::sandbox();
    let scripts = sb.path().join("my scripts");
    std::fs::create_dir(&scripts).unwrap();
    let script = scripts.join("reset db.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\n[ \"$1\" = --force ] || exit 3\necho \"reset $*\" >> \"$(dirname \"$0\")/../cleaned\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut svc = sb.service("api", "");
    svc.as_object_mut().unwrap().remove("recovery_actions");
    svc["commands"]["clear_db"] = json!("my scripts/reset db.sh");
    sb.write_config(&sb.config(json!({ "api": svc })));
    let _d = sb.start_daemon();
    let out = sb.ctl_ok(&["restart", "api", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let actions: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["kill", "clear_db", "start"], "{report}");
    assert_eq!(report["steps"][1]["outcome"], "ok", "{report}");
    assert_eq!(
        std::fs::read_to_string(sb.path().join("cleaned")).unwrap(),
        "reset --force\n"
    );
    sb.wait_healthy("api", None, T);
}

#[test]
fn string_pids_and_iterations_are_read_as_the_seed_read_them() {
    let sb = crate::sandbox();
    let mut svc = sb.placeholder("py");
    svc["stall_seconds"] = json!(60);
    sb.write_config(&sb.config(json!({ "py": svc })));
    let beat = |i: u64| {
        json!({
            "process_key": "py",
            "pid": std::process::id().to_string(),
            "timestamp": protocol::time::format_rfc3339(protocol::time::now_micros()),
            "status": "running",
            "iteration": i.to_string(),
        })
        .to_string()
    };
    std::fs::write(sb.heartbeat("py"), beat(41)).unwrap();
    let _d = sb.start_daemon();
    watchdog_tests::wait_until("healthy", T, || sb.status_of("py")["health"] == "healthy");
    let row = sb.status_of("py");
    assert_eq!(row["pid"].as_u64(), Some(u64::from(std::process::id())));
    assert!(
        row["detail"].as_str().unwrap().contains("iteration 41"),
        "{row}"
    );
}
