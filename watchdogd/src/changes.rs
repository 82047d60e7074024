//! Noticing heartbeat changes as they happen, so that a file is read only when it changed and a
//! silent service is found at its deadline, not by polling every file every interval.
//!
//! One inotify instance watches the folders that hold heartbeat files (not the files: writers
//! replace them by rename, and a folder watch sees the new file arrive). A change to a
//! heartbeat's name makes its service due for a read (at most one read per check interval, so
//! a service beating ten times a second costs one read a second). A healthy service whose file
//! does not change is next looked at when its heartbeat would time out; its process's exit is
//! seen through its pidfd. Unhealthy services are still checked every interval, since their
//! failures are counted check by check.
//!
//! Folders are watched only where change events can be trusted: not on network or FUSE file
//! systems (a change made on another machine, or by the FUSE daemon, raises no event here), and
//! not for a heartbeat that is itself a symlink (a change to the file it points at raises no
//! event in its folder); those services are polled every interval, as before, and `status KEY`
//! says which mode a service is in and why. Adding a watch may block on a hung file system, so
//! it runs on the reader threads; until it is in place the folder is polled. An overflowed
//! event queue makes every watched service due at once (one full scan); a folder that goes
//! away falls back to polling and is watched again once a read finds it back.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustix::fs::inotify::{self, ReadFlags, WatchFlags};
use rustix::io::Errno;

/// How a service's heartbeat is noticed, for `status KEY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Its folder is watched: read when it changes, and at its deadline.
    Watched,
    /// Read every check interval; why.
    Polled(&'static str),
}

impl Mode {
    pub fn describe(self) -> String {
        match self {
            Mode::Watched => "watched for changes (inotify)".into(),
            Mode::Polled(why) => format!("polled every check interval ({why})"),
        }
    }
}

/// What a folder's watch is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Folder {
    /// Being added on a reader thread.
    Pending,
    Watched(i32),
    /// Not watchable; why.
    Polled(&'static str),
}

/// The inotify descriptor, shared with the reader threads that add watches.
#[derive(Debug, Clone)]
pub struct Inotify(Arc<OwnedFd>);

impl AsRawFd for Inotify {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl Inotify {
    /// Adds a watch on `dir` when change events there can be trusted: returns its descriptor,
    /// or why the folder is polled instead. Blocking (a hung file system hangs it).
    pub fn watch(&self, dir: &Path) -> Result<i32, &'static str> {
        match rustix::fs::statfs(dir) {
            // (f_type's width differs between targets.)
            #[allow(clippy::unnecessary_cast)]
            Ok(fs) if untrustworthy(fs.f_type as i64) => {
                return Err(
                    "a network or FUSE file system raises no events for changes made elsewhere",
                );
            }
            Ok(_) => {}
            Err(_) => return Err("its folder cannot be inspected yet"),
        }
        // No CREATE: a writer's new file is seen when it is closed or renamed into place, and
        // every event not about a heartbeat (a writer's temp file) is one more to read.
        let mask = WatchFlags::CLOSE_WRITE
            | WatchFlags::MOVED_TO
            | WatchFlags::DELETE
            | WatchFlags::MOVED_FROM
            | WatchFlags::ATTRIB
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF
            | WatchFlags::ONLYDIR
            | WatchFlags::EXCL_UNLINK;
        inotify::add_watch(&*self.0, dir, mask).map_err(|e| match e {
            Errno::NOSPC => "the inotify watch limit is reached (fs.inotify.max_user_watches)",
            Errno::NOENT => "its folder does not exist (yet)",
            _ => "its folder cannot be watched",
        })
    }
}

/// File systems on which inotify misses changes (made by other machines or a FUSE daemon).
fn untrustworthy(magic: i64) -> bool {
    const NFS: i64 = 0x6969;
    const SMB: i64 = 0x517b;
    const SMB2: i64 = 0xfe53_4d42;
    const CIFS: i64 = 0xff53_4d42;
    const FUSE: i64 = 0x6573_5546;
    const V9FS: i64 = 0x0102_1997;
    const CEPH: i64 = 0x00c3_6400;
    const AFS: i64 = 0x5346_414f;
    const GFS2: i64 = 0x0116_1970;
    const OCFS2: i64 = 0x7461_636f;
    const LUSTRE: i64 = 0x0bd0_0bd0;
    const CODA: i64 = 0x7375_7245;
    let magic = magic & 0xffff_ffff;
    [
        NFS, SMB, SMB2, CIFS, FUSE, V9FS, CEPH, AFS, GFS2, OCFS2, LUSTRE, CODA,
    ]
    .contains(&magic)
}

/// Events from one drain of the queue.
#[derive(Debug, Default)]
pub struct Drained {
    /// Services whose heartbeat name changed.
    pub changed: Vec<usize>,
    /// Services whose folder's watch went away (deleted, moved, unmounted).
    pub lost: Vec<usize>,
    /// The kernel's queue overflowed: anything may have changed.
    pub overflow: bool,
    /// Events taken in all (of any file in the watched folders).
    pub events: usize,
}

impl Drained {
    /// Empties it for the next take, keeping its room.
    pub fn clear(&mut self) {
        self.changed.clear();
        self.lost.clear();
        self.overflow = false;
        self.events = 0;
    }
}

/// The watches, and which services each folder's names belong to.
pub struct Watcher {
    inotify: Inotify,
    folders: HashMap<PathBuf, Folder>,
    /// Per watch descriptor: its folder and the services by file name.
    names: HashMap<i32, (PathBuf, HashMap<OsString, Vec<usize>>)>,
    /// Raw events, a burst at a time, from the collector thread.
    batches: tokio::sync::mpsc::Receiver<Vec<u8>>,
}

/// How long the collector lets a burst of events pile up before it hands them over: thousands
/// of writers rewriting their files cost the owner one turn per this, not one per event.
pub const COLLECT_FOR: Duration = Duration::from_millis(50);
/// How long the collector rests after handing a burst over, letting the next pile up in the
/// kernel's queue: a steady stream of changes (services beating faster than they are checked)
/// costs at most one hand-over every `COLLECT_FOR + REST`, while a change after a quiet spell
/// is still handed over within `COLLECT_FOR`. A change is read at most once per check interval
/// anyway; a service that is starting or waited for is looked at on a cadence of its own, and a
/// silent one at its deadline, so none of those waits for an event. After a burst of
/// [`BUSY`] bytes or more it does not rest: the kernel's queue (16,384 events by default) must
/// not overflow, which would cost a read of every watched heartbeat.
pub const REST: Duration = Duration::from_millis(200);
/// A burst this large (about a thousand events) is handed over without resting after it.
pub const BUSY: usize = 32 * 1024;

impl Watcher {
    /// A watcher, or `None` where inotify is not available (everything is then polled).
    pub fn new() -> Option<Watcher> {
        let fd =
            inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC).ok()?;
        let inotify = Inotify(Arc::new(fd));
        let (tx, batches) = tokio::sync::mpsc::channel(4);
        let collector = inotify.clone();
        std::thread::Builder::new()
            .name("changes".into())
            .stack_size(128 * 1024)
            .spawn(move || collect(&collector, &tx))
            .ok()?;
        Some(Watcher {
            inotify,
            folders: HashMap::new(),
            names: HashMap::new(),
            batches,
        })
    }

    pub fn inotify(&self) -> Inotify {
        self.inotify.clone()
    }

    /// Forgets which services are where (a reload renumbered them); the watches stay.
    pub fn clear_services(&mut self) {
        for (_, names) in self.names.values_mut() {
            names.clear();
        }
    }

    /// Places service `idx`, whose heartbeat is `path`: returns its mode now, and the folder
    /// to add a watch for, if one must be added (on a reader thread).
    pub fn place(&mut self, idx: usize, path: &Path) -> (Mode, Option<PathBuf>) {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return (Mode::Polled("its heartbeat path names no file"), None);
        };
        match self.folders.get(dir).cloned() {
            Some(Folder::Watched(wd)) => {
                if let Some((_, names)) = self.names.get_mut(&wd) {
                    names.entry(name.to_os_string()).or_default().push(idx);
                }
                (Mode::Watched, None)
            }
            Some(Folder::Polled(why)) => (Mode::Polled(why), None),
            Some(Folder::Pending) => (Mode::Polled("its folder's watch is being added"), None),
            None => {
                self.folders.insert(dir.to_path_buf(), Folder::Pending);
                (
                    Mode::Polled("its folder's watch is being added"),
                    Some(dir.to_path_buf()),
                )
            }
        }
    }

    /// A watch for `dir` was added (or could not be): records it. The owner then places the
    /// folder's services again.
    pub fn established(&mut self, dir: PathBuf, result: Result<i32, &'static str>) {
        match result {
            Ok(wd) => {
                self.names
                    .entry(wd)
                    .or_insert_with(|| (dir.clone(), HashMap::new()));
                self.folders.insert(dir, Folder::Watched(wd));
            }
            Err(why) => {
                self.folders.insert(dir, Folder::Polled(why));
            }
        }
    }

    /// Lets `dir` be watched again (a read found the folder back after it went away).
    pub fn retry(&mut self, dir: &Path) {
        if matches!(self.folders.get(dir), Some(Folder::Polled(_))) {
            self.folders.remove(dir);
        }
    }

    /// The next burst of raw events (`None` once the collector has stopped).
    pub async fn next_batch(&mut self) -> Option<Vec<u8>> {
        self.batches.recv().await
    }

    /// Applies a burst of raw events (see [`events`]).
    pub fn apply(&mut self, bytes: &[u8], out: &mut Drained) {
        for (wd, mask, name) in events(bytes) {
            out.events += 1;
            if mask & QUEUE_OVERFLOW != 0 {
                out.overflow = true;
                continue;
            }
            let Some((dir, names)) = self.names.get(&wd) else {
                continue;
            };
            if mask & (IGNORED | DELETE_SELF | MOVE_SELF) != 0 {
                out.lost.extend(names.values().flatten());
                let dir = dir.clone();
                self.names.remove(&wd);
                self.folders.insert(
                    dir,
                    Folder::Polled("its folder went away; watched again once it is back"),
                );
                continue;
            }
            if let Some(name) = name
                && let Some(idxs) = names.get(OsStr::from_bytes(name))
            {
                out.changed.extend(idxs);
            }
        }
    }
}

const QUEUE_OVERFLOW: u32 = ReadFlags::QUEUE_OVERFLOW.bits();
const IGNORED: u32 = ReadFlags::IGNORED.bits();
const DELETE_SELF: u32 = ReadFlags::DELETE_SELF.bits();
const MOVE_SELF: u32 = ReadFlags::MOVE_SELF.bits();

/// The events in a buffer read from an inotify descriptor: `struct inotify_event` after
/// another (`wd`, `mask`, `cookie`, `len`, then `len` bytes of NUL-padded name), as
/// `(wd, mask, name)`. A truncated tail is ignored.
pub fn events(bytes: &[u8]) -> impl Iterator<Item = (i32, u32, Option<&[u8]>)> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let head = bytes.get(at..at + 16)?;
        let word = |i: usize| [head[i], head[i + 1], head[i + 2], head[i + 3]];
        let wd = i32::from_ne_bytes(word(0));
        let mask = u32::from_ne_bytes(word(4));
        let len = u32::from_ne_bytes(word(12)) as usize;
        let raw = bytes.get(at + 16..at + 16 + len)?;
        at += 16 + len;
        let name = raw.split(|&b| b == 0).next().filter(|n| !n.is_empty());
        Some((wd, mask, name))
    })
}

/// The collector thread: waits for events, lets a burst pile up for [`COLLECT_FOR`], reads it
/// all and hands it to the owner; stops when the owner is gone.
fn collect(fd: &Inotify, tx: &tokio::sync::mpsc::Sender<Vec<u8>>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut fds = [rustix::event::PollFd::new(
            &*fd.0,
            rustix::event::PollFlags::IN,
        )];
        let second = rustix::event::Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        match rustix::event::poll(&mut fds, Some(&second)) {
            Ok(0) | Err(Errno::INTR) => {
                if tx.is_closed() {
                    return;
                }
                continue;
            }
            Ok(_) => {}
            Err(_) => return,
        }
        std::thread::sleep(COLLECT_FOR);
        let mut batch = Vec::new();
        while let Ok(n) = rustix::io::read(&*fd.0, &mut buf) {
            if n == 0 {
                break;
            }
            batch.extend_from_slice(&buf[..n]);
        }
        if !batch.is_empty() {
            let busy = batch.len() >= BUSY;
            if tx.blocking_send(batch).is_err() {
                return;
            }
            if !busy {
                std::thread::sleep(REST);
            }
        }
    }
}

#[cfg(test)]
mod tests;
