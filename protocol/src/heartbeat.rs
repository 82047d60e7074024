//! The heartbeat file: the only thing a service must do to be supervised.
//!
//! A service rewrites a small JSON object, atomically (temp file + rename), every few seconds:
//!
//! ```json
//! {"process_key": "api", "pid": 12345, "timestamp": "2026-02-05T06:17:29.601049+00:00",
//!  "status": "running", "iteration": 42}
//! ```
//!
//! `timestamp` is RFC 3339 with an offset (see [`crate::time`]); `status` is `"running"` when all
//! is well and anything else to ask for recovery; `iteration` is optional and counts beats.
//!
//! Rust services use [`HeartbeatWriter`]:
//!
//! ```no_run
//! use protocol::HeartbeatWriter;
//! let mut writer = HeartbeatWriter::new("/var/lib/myapp/heartbeats/api.json", "api");
//! loop {
//!     // ... one unit of work ...
//!     writer.beat("running")?;
//! #   break;
//! }
//! writer.stop()?; // clean shutdown: remove the file
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::time;

/// Largest heartbeat file that is read; anything bigger is corrupt.
pub const MAX_HEARTBEAT_BYTES: usize = 64 * 1024;

/// One heartbeat as read from a file. `pid` is kept as written (it may be nonsense: the daemon
/// judges it), `timestamp_us` is microseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub process_key: String,
    pub pid: i64,
    pub timestamp_us: i64,
    pub status: String,
    pub iteration: Option<u64>,
}

/// Why bytes are not a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeartbeatError {
    #[error("heartbeat is larger than {MAX_HEARTBEAT_BYTES} bytes")]
    TooLarge,
    #[error("heartbeat is not valid JSON with the required fields: {0}")]
    Json(String),
    #[error("heartbeat timestamp {0:?} is not an RFC 3339 time")]
    Timestamp(String),
}

/// The JSON shape (JSON only, never on the socket). `pid` and `iteration` are read the way
/// the seed read them (Python's `int()`): a number, or a string holding an integer
/// (`"pid": "1234"`), so its writers keep working unchanged.
#[derive(Serialize, Deserialize)]
struct RawHeartbeat<'a> {
    #[serde(borrow)]
    process_key: std::borrow::Cow<'a, str>,
    #[serde(deserialize_with = "int_like")]
    pid: i64,
    #[serde(borrow)]
    timestamp: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    status: std::borrow::Cow<'a, str>,
    #[serde(default, deserialize_with = "optional_count")]
    iteration: Option<u64>,
}

/// An integer written as a JSON integer, an integral float (`12.0`) or a string of one
/// (`"12"`, `" +12 "`), as Python's `int()` takes it.
fn int_like<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct IntLike;
    impl serde::de::Visitor<'_> for IntLike {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an integer, or a string holding one")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom(format!("integer {v} is out of range")))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
            if v.fract() == 0.0 && v.abs() < 9.0e18 {
                Ok(v as i64)
            } else {
                Err(E::custom(format!("{v} is not an integer")))
            }
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<i64, E> {
            let t = v.trim();
            t.strip_prefix('+')
                .unwrap_or(t)
                .parse::<i64>()
                .map_err(|_| E::custom(format!("{:?} is not an integer", snippet(v))))
        }
    }
    d.deserialize_any(IntLike)
}

/// At most the first 40 characters of a value from a file, for an error message: a file's
/// content is echoed to logs and `status` only as far as it helps to see what is wrong.
fn snippet(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// An optional count (`iteration`): like [`int_like`], and not negative.
fn optional_count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "int_like")] i64);
    match Option::<Wrapped>::deserialize(d)? {
        None => Ok(None),
        Some(Wrapped(n)) => u64::try_from(n)
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("iteration {n} is negative"))),
    }
}

impl Heartbeat {
    /// Parses the bytes of a heartbeat file.
    pub fn parse(bytes: &[u8]) -> Result<Heartbeat, HeartbeatError> {
        Heartbeat::parse_reusing(bytes, None)
    }

    /// [`Heartbeat::parse`], keeping the text in `reuse`'s strings (a reader that reads the
    /// same file over and over then allocates nothing for it).
    pub fn parse_reusing(
        bytes: &[u8],
        reuse: Option<Heartbeat>,
    ) -> Result<Heartbeat, HeartbeatError> {
        if bytes.len() > MAX_HEARTBEAT_BYTES {
            return Err(HeartbeatError::TooLarge);
        }
        let raw: RawHeartbeat<'_> =
            serde_json::from_slice(bytes).map_err(|e| HeartbeatError::Json(e.to_string()))?;
        let timestamp_us = time::parse_rfc3339(&raw.timestamp)
            .ok_or_else(|| HeartbeatError::Timestamp(snippet(&raw.timestamp).to_owned()))?;
        let (mut process_key, mut status) = match reuse {
            Some(old) => (old.process_key, old.status),
            None => (String::new(), String::new()),
        };
        process_key.clear();
        process_key.push_str(&raw.process_key);
        status.clear();
        status.push_str(&raw.status);
        Ok(Heartbeat {
            process_key,
            pid: raw.pid,
            timestamp_us,
            status,
            iteration: raw.iteration,
        })
    }

    /// The JSON text of this heartbeat, as writers put it in the file.
    pub fn to_json(&self) -> String {
        let raw = RawHeartbeat {
            process_key: self.process_key.as_str().into(),
            pid: self.pid,
            timestamp: time::format_rfc3339(self.timestamp_us).into(),
            status: self.status.as_str().into(),
            iteration: self.iteration,
        };
        // Serializing a struct of strings and integers to a String cannot fail.
        serde_json::to_string(&raw).unwrap_or_default()
    }
}

/// Writes a file atomically: a temp file in the same folder, then a rename over the target, so a
/// reader sees the old or the new content, never half of one.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    // A name nobody can guess ahead, created exclusively and never through a link: whoever
    // else can write the folder cannot make this write land in another file.
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.{:x}.tmp", std::process::id(), unpredictable()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(contents)?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// 64 bits that differ between calls and processes and cannot be predicted by another user:
/// the kernel's randomness (falling back to the clock, should `/dev/urandom` be unreadable).
fn unpredictable() -> u64 {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    match fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)) {
        Ok(()) => u64::from_ne_bytes(bytes),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    }
}

/// Writes heartbeats for one service (this process), like the seed's Python `HeartbeatWriter`.
#[derive(Debug)]
pub struct HeartbeatWriter {
    path: PathBuf,
    process_key: String,
    pid: u32,
    iteration: u64,
}

impl HeartbeatWriter {
    /// A writer for `path`, naming this process's PID. Creates nothing until the first beat.
    pub fn new(path: impl Into<PathBuf>, process_key: impl Into<String>) -> Self {
        HeartbeatWriter {
            path: path.into(),
            process_key: process_key.into(),
            pid: std::process::id(),
            iteration: 0,
        }
    }

    /// Names another PID than this process's (for a wrapper that beats on a child's behalf).
    pub fn with_pid(mut self, pid: u32) -> Self {
        self.pid = pid;
        self
    }

    /// The file this writer rewrites.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one heartbeat with `status` (`"running"` when healthy), creating the folder if needed.
    pub fn beat(&mut self, status: &str) -> io::Result<()> {
        self.iteration += 1;
        let hb = Heartbeat {
            process_key: self.process_key.clone(),
            pid: i64::from(self.pid),
            timestamp_us: time::now_micros(),
            status: status.to_owned(),
            iteration: Some(self.iteration),
        };
        if let Some(dir) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        write_atomic(&self.path, hb.to_json().as_bytes())
    }

    /// Removes the heartbeat file (clean shutdown). A missing file is fine.
    pub fn stop(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_example() {
        let hb = Heartbeat::parse(
            br#"{"process_key":"my_server","pid":12345,"timestamp":"2026-02-05T06:17:29.601049+00:00","status":"running","iteration":42}"#,
        )
        .unwrap();
        assert_eq!(hb.pid, 12345);
        assert_eq!(hb.status, "running");
        assert_eq!(hb.iteration, Some(42));
        assert_eq!(hb.timestamp_us, 1_770_272_249_601_049);
    }

    #[test]
    fn missing_fields_bad_types_and_bad_times_are_errors() {
        let cases: [&[u8]; 7] = [
            b"",
            b"not json",
            br#"{"pid":1,"timestamp":"2026-02-05T06:17:29Z","status":"running"}"#,
            br#"{"process_key":"a","pid":"twelve","timestamp":"2026-02-05T06:17:29Z","status":"running"}"#,
            br#"{"process_key":"a","pid":1,"timestamp":"soon","status":"running"}"#,
            b"\xff\xfe{}",
            br#"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]"#,
        ];
        for bytes in cases {
            assert!(
                Heartbeat::parse(bytes).is_err(),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        let big = vec![b' '; MAX_HEARTBEAT_BYTES + 1];
        assert_eq!(Heartbeat::parse(&big), Err(HeartbeatError::TooLarge));
    }

    #[test]
    fn integer_strings_are_read_as_the_seed_read_them() {
        let hb = Heartbeat::parse(
            br#"{"process_key":"a","pid":"1234","timestamp":"2026-02-05T06:17:29Z","status":"running","iteration":" 42 "}"#,
        )
        .unwrap();
        assert_eq!((hb.pid, hb.iteration), (1234, Some(42)));
        let hb = Heartbeat::parse(
            br#"{"process_key":"a","pid":99.0,"timestamp":"2026-02-05T06:17:29Z","status":"running","iteration":null}"#,
        )
        .unwrap();
        assert_eq!((hb.pid, hb.iteration), (99, None));
        for bad in [
            br#"{"process_key":"a","pid":"12x","timestamp":"2026-02-05T06:17:29Z","status":"running"}"#.as_slice(),
            br#"{"process_key":"a","pid":1.5,"timestamp":"2026-02-05T06:17:29Z","status":"running"}"#,
            br#"{"process_key":"a","pid":1,"timestamp":"2026-02-05T06:17:29Z","status":"running","iteration":"-3"}"#,
            br#"{"process_key":"a","pid":true,"timestamp":"2026-02-05T06:17:29Z","status":"running"}"#,
        ] {
            assert!(Heartbeat::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn writer_writes_atomically_and_stop_removes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/api.json");
        let mut w = HeartbeatWriter::new(&path, "api");
        w.beat("running").unwrap();
        w.beat("degraded").unwrap();
        let hb = Heartbeat::parse(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(hb.process_key, "api");
        assert_eq!(hb.pid, i64::from(std::process::id()));
        assert_eq!(hb.status, "degraded");
        assert_eq!(hb.iteration, Some(2));
        assert!((time::now_micros() - hb.timestamp_us).abs() < 5_000_000);
        assert_eq!(
            fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no temp files left"
        );
        w.stop().unwrap();
        assert!(!path.exists());
        w.stop().unwrap();
    }
}
