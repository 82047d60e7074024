//! The daemon driven in-process through its library entry point, on a paused clock: a check
//! cycle, a recovery and a clean shutdown in well under a second of real time.

use std::path::Path;
use std::time::Duration;

use protocol::{Health, PipelineResult, Request, Response, ServiceState, Trigger};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request on a fresh connection, as watchdogctl would send it.
async fn call(socket: &Path, request: &Request) -> Response {
    let mut stream = tokio::net::UnixStream::connect(socket).await.unwrap();
    let payload = protocol::codec::encode_request(request).unwrap();
    stream
        .write_all(&(payload.len() as u32).to_be_bytes())
        .await
        .unwrap();
    stream.write_all(&payload).await.unwrap();
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).await.unwrap();
    protocol::codec::decode_response(&body).unwrap()
}

async fn status(socket: &Path) -> protocol::ServiceStatus {
    match call(socket, &Request::Status { key: None }).await {
        Response::Status(mut s) => s.services.remove(0),
        other => panic!("{other:?}"),
    }
}

/// Waits (on the paused clock) until `cond` holds for the service's status.
async fn until(socket: &Path, what: &str, cond: impl Fn(&protocol::ServiceStatus) -> bool) {
    for _ in 0..600 {
        let s = status(socket).await;
        if cond(&s) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never {what}: {:?}", status(socket).await);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_check_cycle_a_recovery_and_a_shutdown() {
    let real = std::time::Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("wdp")
        .tempdir_in("/tmp")
        .unwrap();
    let hb = dir.path().join("svc.json");
    let config = serde_json::json!({
        "socket_path": "s.sock",
        "db_path": "w.db",
        "check_interval_seconds": 1,
        "consecutive_failures_threshold": 2,
        "verify_delay": 0.5,
        "processes": {"svc": {
            "timeout_seconds": 30,
            "heartbeat_path": "svc.json",
            "commands": {"start": "true"},
        }},
    });
    let path = dir.path().join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let config = watchdogd::config::load(&path).unwrap().config;
    let socket = config.socket_path.clone();
    // A heartbeat naming this (live) process: healthy.
    protocol::HeartbeatWriter::new(&hb, "svc")
        .beat("running")
        .unwrap();
    let bound = watchdogd::server::bind(&config).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (_reloads_tx, reloads) = tokio::sync::mpsc::channel(1);
    let daemon = tokio::spawn(watchdogd::run(
        config,
        bound.listener,
        async move {
            let _ = stopped.await;
        },
        reloads,
    ));
    until(&socket, "healthy", |s| s.health == Some(Health::Healthy)).await;
    // The heartbeat goes: two failed checks, then the recovery pipeline (kill, start).
    std::fs::remove_file(&hb).unwrap();
    until(&socket, "recovered", |s| {
        s.last_recovery
            .as_ref()
            .is_some_and(|r| r.trigger == Trigger::Automatic)
    })
    .await;
    let s = status(&socket).await;
    let r = s.last_recovery.unwrap();
    assert_eq!(r.result, PipelineResult::Succeeded, "{}", s.detail);
    // What the recovery answered is what status shows: a new start, starting (not judged yet,
    // or judged at once and forgiven inside its start grace), never the old verdict.
    assert_eq!(s.state, ServiceState::Starting, "{}", s.detail);
    assert!(
        s.health.is_none() || s.detail == "heartbeat file missing",
        "{:?}: {}",
        s.health,
        s.detail
    );
    // Shutdown: the run ends cleanly and the socket is gone.
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    drop(bound.lock);
    assert!(!socket.exists());
    assert!(
        real.elapsed() < Duration::from_secs(3),
        "took {:?} of real time",
        real.elapsed()
    );
}
