//! `watchdogctl beat`: one heartbeat for a service that is a shell script or a cron job.
//!
//! The file is written the way every writer writes it (the protocol crate's JSON and its
//! temp-file-plus-rename, so the daemon never reads half a file). Unlike a long-lived
//! `HeartbeatWriter`, each `beat` is a new process, so the beat count would restart at 1 every
//! time and a service with `stall_seconds` would look stalled; instead the count goes on from the
//! file's previous `iteration` when that file is a heartbeat of the same key.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use protocol::Heartbeat;
use protocol::heartbeat::{MAX_HEARTBEAT_BYTES, write_atomic};
use protocol::time::now_micros;

/// The `iteration` to write after `previous` (the file's bytes, if any) for `key`.
pub fn next_iteration(previous: Option<&[u8]>, key: &str) -> u64 {
    previous
        .and_then(|bytes| Heartbeat::parse(bytes).ok())
        .filter(|hb| hb.process_key == key)
        .and_then(|hb| hb.iteration)
        .map_or(1, |i| i.saturating_add(1))
}

/// The file's current bytes, if it can be read and is not oversized (then it is no heartbeat).
fn read_previous(path: &Path) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    fs::File::open(path)
        .ok()?
        .take(MAX_HEARTBEAT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(bytes)
}

/// Writes one heartbeat naming `pid` with `status`, creating the folder if needed, and returns
/// what was written.
pub fn write(path: &Path, key: &str, pid: u32, status: &str) -> io::Result<Heartbeat> {
    let hb = Heartbeat {
        process_key: key.to_owned(),
        pid: i64::from(pid),
        timestamp_us: now_micros(),
        status: status.to_owned(),
        iteration: Some(next_iteration(read_previous(path).as_deref(), key)),
    };
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    write_atomic(path, hb.to_json().as_bytes())?;
    Ok(hb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_goes_on_for_the_same_key_only() {
        let previous = br#"{"process_key":"job","pid":1,"timestamp":"2026-02-05T06:17:29Z","status":"running","iteration":41}"#;
        assert_eq!(next_iteration(Some(previous), "job"), 42);
        assert_eq!(next_iteration(Some(previous), "other"), 1);
        assert_eq!(next_iteration(Some(b"garbage"), "job"), 1);
        assert_eq!(next_iteration(None, "job"), 1);
        let no_count = br#"{"process_key":"job","pid":1,"timestamp":"2026-02-05T06:17:29Z","status":"running"}"#;
        assert_eq!(next_iteration(Some(no_count), "job"), 1);
    }

    #[test]
    fn writes_parseable_heartbeats_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/job.json");
        write(&path, "job", 4242, "running").unwrap();
        let hb = write(&path, "job", 4242, "degraded").unwrap();
        let read = Heartbeat::parse(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(read, hb);
        assert_eq!(read.pid, 4242);
        assert_eq!(read.status, "degraded");
        assert_eq!(read.iteration, Some(2));
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn an_unwritable_place_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        fs::write(&file, "").unwrap();
        assert!(write(&file.join("hb.json"), "job", 1, "running").is_err());
    }
}
