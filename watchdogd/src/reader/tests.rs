use std::time::Instant;

use super::pool::{BASE_THREADS, LOOKS_BUSY};
use super::*;

#[tokio::test]
async fn reads_and_checks_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hb.json");
    protocol::HeartbeatWriter::new(&path, "k")
        .beat("running")
        .unwrap();
    let readers = Readers::new();
    let reading = readers
        .read_within(path.clone(), None, None, Duration::from_secs(5))
        .await;
    assert!(matches!(reading, Reading::Beat(_)), "{reading:?}");
    let missing = readers
        .read_within(dir.path().join("none"), None, None, Duration::from_secs(5))
        .await;
    assert_eq!(missing, Reading::Missing);
    let text = serde_json::json!({"processes": {"k": {"timeout_seconds": 9, "heartbeat_path": path, "commands": {"start": "true"}}}}).to_string();
    let cfg = crate::config::parse(&text, &dir.path().join("c.json"))
        .unwrap()
        .config
        .processes["k"]
        .clone();
    readers.check((0..3).map(|idx| Job {
        idx,
        epoch: 7,
        cfg: cfg.clone(),
        known: Default::default(),
        cache: None,
        changed: false,
    }));
    let mut got = Vec::new();
    while got.len() < 3 {
        tokio::time::timeout(Duration::from_secs(5), readers.ready())
            .await
            .unwrap();
        readers.take_results(&mut got);
    }
    assert!(
        got.iter()
            .all(|p| p.epoch == 7 && p.verdict.health.is_healthy())
    );
    assert!(readers.threads().0 >= BASE_THREADS);
}

/// Work that hangs until released, as a look into a hung file system would.
fn hang(readers: &Readers, path: &str) -> std::sync::mpsc::Sender<()> {
    let (release, hold) = std::sync::mpsc::channel::<()>();
    readers.submit_work(Path::new(path), None, move |_| {
        let _ = hold.recv();
    });
    release
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_mount_holds_a_bounded_number_of_threads_and_blocks_only_its_own_paths() {
    let readers = Readers::new();
    // Three looks at two paths on one mount hang: the mount's bound.
    let releases = [
        hang(&readers, "/hung/a.json"),
        hang(&readers, "/hung/a.json"),
        hang(&readers, "/hung/b.json"),
    ];
    let started = Instant::now();
    // The pool grows past threads that stay busy (the owner nudges it every turn).
    tokio::time::sleep(LOOKS_BUSY + Duration::from_millis(50)).await;
    readers.nudge();
    // A fourth on that mount waits for the bound (it does not take a fourth thread)...
    let fourth = {
        let readers = readers.clone();
        tokio::spawn(async move { readers.run(Path::new("/hung/c.json"), None, || "ran").await })
    };
    // ...while another mount's work runs at once.
    let other = readers.run(Path::new("/proc/self/stat"), None, || 7).await;
    assert_eq!(other, Ok(7));
    // Once they count as stuck, the hung paths and, with two of them stuck, the whole mount
    // are answered at once, naming why.
    tokio::time::sleep(STUCK + Duration::from_millis(200)).await;
    let again = readers.run(Path::new("/hung/a.json"), None, || ()).await;
    let Err(Blocked(why)) = again else {
        panic!("{again:?}")
    };
    assert!(why.contains("/hung/a.json"), "{why}");
    let fourth = tokio::time::timeout(Duration::from_secs(2), fourth)
        .await
        .expect("the waiting look was answered")
        .unwrap();
    let Err(Blocked(why)) = fourth else {
        panic!("{fourth:?}")
    };
    assert!(why.contains("mounted on /"), "{why}");
    assert!(started.elapsed() < STUCK * 3);
    let (threads, stuck) = readers.threads();
    assert_eq!(stuck, 3, "{threads} threads");
    // Another user's work on that mount has a bucket of its own: the hang is not theirs.
    assert_eq!(
        readers
            .run(Path::new("/hung/d.json"), Some(65534), || 8)
            .await,
        Ok(8)
    );
    // The file system answers again: so does everything.
    for r in releases {
        r.send(()).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if readers
            .run(Path::new("/hung/a.json"), None, || ())
            .await
            .is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "the mount never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
