use super::*;

#[tokio::test]
async fn a_rename_into_a_watched_folder_is_seen_and_a_deleted_folder_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let hb = dir.path().join("sub");
    std::fs::create_dir(&hb).unwrap();
    let mut w = Watcher::new().unwrap();
    let path = hb.join("a.json");
    let (mode, add) = w.place(7, &path);
    assert!(matches!(mode, Mode::Polled(_)));
    let add = add.unwrap();
    w.established(add.clone(), w.inotify().watch(&add));
    assert_eq!(w.place(7, &path).0, Mode::Watched);
    protocol::heartbeat::write_atomic(&path, b"{}").unwrap();
    protocol::heartbeat::write_atomic(&hb.join("other.json"), b"{}").unwrap();
    let mut d = Drained::default();
    while !d.changed.contains(&7) {
        let batch = tokio::time::timeout(std::time::Duration::from_secs(5), w.next_batch())
            .await
            .unwrap()
            .unwrap();
        w.apply(&batch, &mut d);
    }
    assert!(
        d.changed.iter().all(|&i| i == 7),
        "only the watched name: {d:?}"
    );
    std::fs::remove_dir_all(&hb).unwrap();
    let mut d = Drained::default();
    while d.lost.is_empty() {
        let batch = tokio::time::timeout(std::time::Duration::from_secs(5), w.next_batch())
            .await
            .unwrap()
            .unwrap();
        w.apply(&batch, &mut d);
    }
    assert!(d.lost.contains(&7), "{d:?}");
    assert!(matches!(w.place(7, &path).0, Mode::Polled(_)));
}

#[test]
fn raw_events_are_taken_apart_and_a_truncated_tail_is_ignored() {
    let event = |wd: i32, mask: u32, name: &[u8], len: u32| {
        let mut e = Vec::new();
        e.extend_from_slice(&wd.to_ne_bytes());
        e.extend_from_slice(&mask.to_ne_bytes());
        e.extend_from_slice(&0u32.to_ne_bytes());
        e.extend_from_slice(&len.to_ne_bytes());
        let mut padded = name.to_vec();
        padded.resize(len as usize, 0);
        e.extend_from_slice(&padded);
        e
    };
    let mut bytes = event(1, 0x80, b"a.json", 16);
    bytes.extend(event(2, QUEUE_OVERFLOW, b"", 0));
    bytes.extend(event(3, IGNORED, b"", 0));
    let mut cut = event(4, 0x80, b"b.json", 16);
    cut.truncate(20);
    bytes.extend(cut);
    let got: Vec<_> = events(&bytes).collect();
    assert_eq!(
        got,
        vec![
            (1, 0x80, Some(&b"a.json"[..])),
            (2, QUEUE_OVERFLOW, None),
            (3, IGNORED, None),
        ]
    );
}

#[test]
fn network_and_fuse_file_systems_are_polled() {
    assert!(untrustworthy(0x6969));
    assert!(untrustworthy(0x6573_5546));
    assert!(!untrustworthy(0xef53), "ext4");
    assert!(!untrustworthy(0x0102_1994), "tmpfs");
}
