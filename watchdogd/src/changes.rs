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
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::inotify::{self, ReadFlags, WatchFlags};
use rustix::io::Errno;
use tokio::io::unix::AsyncFd;

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
        let mask = WatchFlags::CLOSE_WRITE
            | WatchFlags::MOVED_TO
            | WatchFlags::CREATE
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
    fd: AsyncFd<Inotify>,
    folders: HashMap<PathBuf, Folder>,
    /// Per watch descriptor: its folder and the services by file name.
    names: HashMap<i32, (PathBuf, HashMap<OsString, Vec<usize>>)>,
    buf: Vec<MaybeUninit<u8>>,
}

impl Watcher {
    /// A watcher, or `None` where inotify is not available (everything is then polled).
    pub fn new() -> Option<Watcher> {
        let fd =
            inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC).ok()?;
        // SAFETY: the inotify descriptor is owned by the `Inotify` (an `Arc<OwnedFd>`) that the
        // AsyncFd holds for its whole life, so it stays open and is the same descriptor.
        let fd = unsafe { AsyncFd::register(Inotify(Arc::new(fd))) }.ok()?;
        Some(Watcher {
            fd,
            folders: HashMap::new(),
            names: HashMap::new(),
            buf: vec![MaybeUninit::uninit(); 16 * 1024],
        })
    }

    pub fn inotify(&self) -> Inotify {
        self.fd.get_ref().clone()
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

    /// Resolves when events are waiting.
    pub async fn readable(&self) {
        if let Ok(mut guard) = self.fd.readable().await {
            guard.clear_ready();
        }
    }

    /// Takes every waiting event.
    pub fn drain(&mut self, out: &mut Drained) {
        let fd = self.fd.get_ref().0.clone();
        let mut reader = inotify::Reader::new(&*fd, &mut self.buf);
        while let Ok(event) = reader.next() {
            out.events += 1;
            let flags = event.events();
            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                out.overflow = true;
                continue;
            }
            let Some((dir, names)) = self.names.get(&event.wd()) else {
                continue;
            };
            if flags.intersects(ReadFlags::IGNORED | ReadFlags::DELETE_SELF | ReadFlags::MOVE_SELF)
            {
                out.lost.extend(names.values().flatten());
                let dir = dir.clone();
                self.names.remove(&event.wd());
                self.folders.insert(
                    dir,
                    Folder::Polled("its folder went away; watched again once it is back"),
                );
                continue;
            }
            if let Some(name) = event.file_name()
                && let Some(idxs) = names.get(OsStr::from_bytes(name.to_bytes()))
            {
                out.changed.extend(idxs);
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        tokio::time::timeout(std::time::Duration::from_secs(5), w.readable())
            .await
            .unwrap();
        let mut d = Drained::default();
        w.drain(&mut d);
        assert!(d.changed.contains(&7), "{d:?}");
        assert!(
            d.changed.iter().all(|&i| i == 7),
            "only the watched name: {d:?}"
        );
        std::fs::remove_dir_all(&hb).unwrap();
        let mut d = Drained::default();
        for _ in 0..50 {
            w.drain(&mut d);
            if !d.lost.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(d.lost.contains(&7), "{d:?}");
        assert!(matches!(w.place(7, &path).0, Mode::Polled(_)));
    }

    #[test]
    fn network_and_fuse_file_systems_are_polled() {
        assert!(untrustworthy(0x6969));
        assert!(untrustworthy(0x6573_5546));
        assert!(!untrustworthy(0xef53), "ext4");
        assert!(!untrustworthy(0x0102_1994), "tmpfs");
    }
}
