//! Reading heartbeat files, which other programs (maybe other users) write.
//!
//! The reader must never block, balloon or cause effects on a hostile file: it opens only what
//! is a regular file by type (a symlink to `/dev/zero`, a terminal, `/dev/watchdog`, a FIFO or a
//! directory is refused before any real open, see [`crate::guard::file`]), and reads at most
//! [`MAX_HEARTBEAT_BYTES`] + 1 bytes into a reused buffer. Reads are blocking I/O (and a hung
//! file system can make them hang), so callers run them on the reader threads, never on the
//! async runtime.

use std::io::Read;
use std::path::Path;

use crate::clock::Point;
use crate::guard::file::{FileError, Folders};
use rustix::fs::FileType;

use protocol::heartbeat::MAX_HEARTBEAT_BYTES;
use protocol::{Heartbeat, HeartbeatError};

/// What a heartbeat file holds right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// There is no file.
    Missing,
    /// There is something, but not a heartbeat; the reason is for humans.
    Corrupt(String),
    /// It was not read: its file system does not answer (see [`crate::reader`]).
    Unreadable(String),
    Beat(Beat),
}

/// A parsed heartbeat and facts about its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beat {
    pub heartbeat: Heartbeat,
    /// The file's modification time (µs since the epoch): freshness when the timestamp lies.
    pub modified_us: i64,
    /// The file's owner.
    pub owner_uid: u32,
    /// Identity of the file's content and metadata as read.
    pub stamp: Stamp,
    /// When the daemon saw this content (see [`Seen`]).
    pub seen: Seen,
    /// The path is a symlink (followed): a change to the file it points at raises no change
    /// event in the heartbeat's folder.
    pub via_link: bool,
}

/// When the daemon saw a heartbeat's content, on the boot clock, with the wall clock's step at
/// those moments ([`crate::clock::Point`]): the content was written before the first read that
/// found it and after the last read before that, whatever the wall clock did meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Seen {
    /// The first read that found this content.
    pub first: Point,
    /// The last read before it, which found other content.
    pub before: Option<Point>,
    /// The last read that found it (the next content's `before`).
    pub last: Point,
}

impl Seen {
    /// Content first seen now, after `previous` content (if any).
    pub fn fresh(now: Point, previous: Option<&Beat>) -> Seen {
        Seen {
            first: now,
            before: previous.map(|p| p.seen.last),
            last: now,
        }
    }
}

/// What tells that a file changed since it was read: device, inode, size, and the modification
/// and change times (ns). Writers replace the file by rename (a new inode); a `chown` or `chmod`
/// moves the change time, so a new owner is noticed too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

fn nanos(secs: i64, nsec: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

/// The stamp of what was opened (field types differ between targets, hence the casts).
#[allow(clippy::unnecessary_cast)]
fn stamp_of(st: &rustix::fs::Stat) -> Stamp {
    Stamp {
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        size: st.st_size as u64,
        mtime_ns: nanos(st.st_mtime as i64, st.st_mtime_nsec as i64),
        ctime_ns: nanos(st.st_ctime as i64, st.st_ctime_nsec as i64),
    }
}

/// Like [`read`], but skips opening and parsing a file that has not changed since `previous`
/// was read from it (same device, inode, size and mtime): one `stat` instead of open, read and
/// parse. Writers replace the file by rename, so a new beat always has a new inode or mtime.
/// `folders` holds heartbeat folders open, so a read resolves one name, not a whole path.
pub fn read_unless_unchanged(
    folders: &mut Folders,
    path: &Path,
    buf: &mut Vec<u8>,
    previous: Option<Beat>,
    owner: Option<u32>,
) -> Reading {
    let now = Point::now();
    if let Some(prev) = &previous
        && let Ok(st) = folders.stat(path)
        && FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
        && stamp_of(&st) == prev.stamp
    {
        let mut same = prev.clone();
        same.seen.last = now;
        return Reading::Beat(same);
    }
    read_changed(folders, path, buf, previous, owner)
}

/// Like [`read_unless_unchanged`] for a file known to have changed (a change event): read at
/// once, without the `stat` that would only say so, but seen after `previous`.
pub fn read_changed(
    folders: &mut Folders,
    path: &Path,
    buf: &mut Vec<u8>,
    previous: Option<Beat>,
    owner: Option<u32>,
) -> Reading {
    let seen = Seen::fresh(Point::now(), previous.as_ref());
    read_at(
        folders,
        path,
        buf,
        owner,
        seen,
        previous.map(|p| p.heartbeat),
    )
}

/// Reads and parses the heartbeat at `path`, using `buf` as scratch space. Only a regular file
/// is ever opened (see [`crate::guard::file::open_regular`]): a path pointing at a terminal, a
/// device, a FIFO or a socket reads as corrupt without having been opened. With `owner` (the
/// service's `user`), a file owned by anyone else is not read at all: a link to another
/// user's file tells nothing of what is in it.
pub fn read(path: &Path, buf: &mut Vec<u8>, owner: Option<u32>) -> Reading {
    let seen = Seen::fresh(Point::now(), None);
    read_at(&mut Folders::default(), path, buf, owner, seen, None)
}

fn read_at(
    folders: &mut Folders,
    path: &Path,
    buf: &mut Vec<u8>,
    owner: Option<u32>,
    seen: Seen,
    reuse: Option<Heartbeat>,
) -> Reading {
    let (file, st, via_link) = match folders.open_regular(path) {
        Ok(opened) => opened,
        Err(FileError::Missing(_)) => return Reading::Missing,
        Err(FileError::NotRegular { kind, .. }) => {
            return Reading::Corrupt(format!("heartbeat path is not a regular file ({kind})"));
        }
        Err(e) => return Reading::Corrupt(format!("cannot open heartbeat: {e}")),
    };
    if let Some(want) = owner
        && st.st_uid != want
    {
        return Reading::Corrupt(not_owned(st.st_uid, want));
    }
    if st.st_size as u64 > MAX_HEARTBEAT_BYTES as u64 {
        return Reading::Corrupt(format!(
            "heartbeat file is {} bytes (limit {MAX_HEARTBEAT_BYTES})",
            st.st_size
        ));
    }
    buf.clear();
    // One read of one byte more than the file had when opened: getting fewer means it was all
    // (writers replace the file whole); only a file that grew meanwhile is read on to its end.
    let size = st.st_size as usize;
    buf.resize(size + 1, 0);
    let mut file = file;
    let got = match file.read(buf) {
        Ok(n) => n,
        Err(e) => return Reading::Corrupt(format!("cannot read heartbeat: {e}")),
    };
    buf.truncate(got);
    if got > size
        && let Err(e) = file
            .take((MAX_HEARTBEAT_BYTES + 1 - got.min(MAX_HEARTBEAT_BYTES)) as u64)
            .read_to_end(buf)
    {
        return Reading::Corrupt(format!("cannot read heartbeat: {e}"));
    }
    let stamp = stamp_of(&st);
    match Heartbeat::parse_reusing(buf, reuse) {
        Ok(heartbeat) => Reading::Beat(Beat {
            heartbeat,
            modified_us: stamp.mtime_ns / 1000,
            owner_uid: st.st_uid,
            stamp,
            seen,
            via_link,
        }),
        Err(HeartbeatError::TooLarge) => {
            Reading::Corrupt(format!("heartbeat grew past {MAX_HEARTBEAT_BYTES} bytes"))
        }
        Err(e) => Reading::Corrupt(e.to_string()),
    }
}

/// Why a file owned by `uid` is not the service's word.
pub fn not_owned(uid: u32, want: u32) -> String {
    format!("heartbeat file is owned by uid {uid}, not the configured user (uid {want})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_missing_corrupt_and_good_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Vec::new();
        let path = dir.path().join("hb.json");
        assert_eq!(read(&path, &mut buf, None), Reading::Missing);

        std::fs::write(&path, b"{").unwrap();
        assert!(matches!(read(&path, &mut buf, None), Reading::Corrupt(_)));

        let mut w = protocol::HeartbeatWriter::new(&path, "k");
        w.beat("running").unwrap();
        match read(&path, &mut buf, None) {
            Reading::Beat(b) => assert_eq!(b.heartbeat.pid, i64::from(std::process::id())),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unchanged_file_is_not_read_again_and_a_rewrite_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hb.json");
        let mut buf = Vec::new();
        let mut w = protocol::HeartbeatWriter::new(&path, "k");
        w.beat("running").unwrap();
        let Reading::Beat(first) = read(&path, &mut buf, None) else {
            panic!()
        };
        // A marker the real file does not have: if it survives, the file was not re-read.
        let mut marked = first.clone();
        marked.heartbeat.status = "cached".into();
        let Reading::Beat(again) =
            read_unless_unchanged(&mut Folders::default(), &path, &mut buf, Some(marked), None)
        else {
            panic!()
        };
        assert_eq!(again.heartbeat.status, "cached");
        assert_eq!(
            again.seen.first, first.seen.first,
            "the same content, first seen then"
        );
        assert!(again.seen.last.boot_us >= first.seen.last.boot_us);
        w.beat("running").unwrap();
        let again_seen = again.seen;
        let Reading::Beat(fresh) =
            read_unless_unchanged(&mut Folders::default(), &path, &mut buf, Some(again), None)
        else {
            panic!()
        };
        assert_eq!(fresh.heartbeat.status, "running");
        assert_eq!(fresh.heartbeat.iteration, Some(2));
        assert_eq!(
            fresh.seen.before,
            Some(again_seen.last),
            "written after the last read that found the old content"
        );
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            read_unless_unchanged(&mut Folders::default(), &path, &mut buf, Some(fresh), None),
            Reading::Missing
        );
    }

    #[test]
    fn another_users_file_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hb.json");
        std::fs::write(&path, br#"{"secret": "do not show"}"#).unwrap();
        let mine = rustix::process::geteuid().as_raw();
        let Reading::Corrupt(why) = read(&path, &mut Vec::new(), Some(mine + 1)) else {
            panic!()
        };
        assert!(why.contains("owned by uid"), "{why}");
        assert!(!why.contains("secret"), "{why}");
    }

    #[test]
    fn hostile_files_are_corrupt_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Vec::new();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(matches!(read(&fifo, &mut buf, None), Reading::Corrupt(r) if r.contains("FIFO")));

        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(read(&zero, &mut buf, None), Reading::Corrupt(_)));

        assert!(
            matches!(read(dir.path(), &mut buf, None), Reading::Corrupt(r) if r.contains("directory"))
        );

        let big = dir.path().join("big");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(1 << 30).unwrap(); // sparse 1 GiB
        assert!(matches!(read(&big, &mut buf, None), Reading::Corrupt(r) if r.contains("bytes")));
        assert!(buf.capacity() <= 2 * MAX_HEARTBEAT_BYTES);
    }
}
