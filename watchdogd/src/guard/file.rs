//! Opening the files of a service: its heartbeat for reading, its logs and the metrics text
//! file for writing.
//!
//! Reading: a heartbeat path is the service's to point anywhere, at a terminal or at
//! `/dev/watchdog` too, and merely opening a device has effects (a session leader acquires a
//! terminal as its controlling tty; the watchdog driver arms). So the path is first opened with
//! `O_PATH`, which opens nothing, and its type checked on that descriptor; only a regular file
//! is then really opened, through the same descriptor (`/proc/self/fd/N`), so the check and the
//! open see the same inode. A symlink to a regular file (`current -> release-42/hb.json`) reads
//! as before. Every open carries `O_NOCTTY` and `O_NONBLOCK` all the same.
//!
//! Writing: the folder is reached by [`super::path::walk`], the file opened relative to it with
//! `O_NOFOLLOW` and checked after the open (a regular file with one link, owned by root or the
//! daemon's user), so neither a planted symlink nor a hard link to a root-only file redirects
//! the write. Files replaced whole (the metrics text file) go to a temp file of an
//! unpredictable name created with `O_EXCL`, then renamed over the target (a rename replaces a
//! planted link, it never writes through it).
//!
//! A service with `user` gets its log files opened with its own rights instead, in the child
//! after the switch (see [`super::spawn`]): the kernel then refuses whatever that user may not
//! write.

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::path::{self, PathError};
use super::trusted_owner;

/// Why a file was not opened.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("no file at {0}")]
    Missing(PathBuf),
    #[error("{path} is not a regular file ({kind})")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{0} is a symbolic link; refusing to write through it")]
    Link(PathBuf),
    #[error("{path} has {links} hard links; refusing to write to it")]
    HardLinked { path: PathBuf, links: u64 },
    #[error("{path} belongs to uid {uid}, not root or watchdogd's user; refusing to write to it")]
    Foreign { path: PathBuf, uid: u32 },
    #[error("{0} changed while it was being opened")]
    Changed(PathBuf),
    #[error("{0} names no file")]
    NoName(PathBuf),
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(what: &'static str, path: &Path, e: Errno) -> FileError {
    FileError::Io {
        what,
        path: path.to_path_buf(),
        source: e.into(),
    }
}

/// What a file is, in words, for messages.
pub fn describe(st: &Stat) -> &'static str {
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Fifo => "a FIFO",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Socket => "a socket",
        FileType::Symlink => "a symbolic link",
        FileType::Unknown => "of an unknown type",
    }
}

/// Opens `path` for reading if, and only if, it is a regular file (following symlinks), as the
/// module note describes. Returns the file and its metadata as opened.
pub fn open_regular(path: &Path) -> Result<(File, Stat), FileError> {
    let probe = rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty());
    finish_regular(probe, None, path)
}

/// The second half of [`open_regular`], from the `O_PATH` probe on (and its `fstat`, when the
/// caller has it already).
fn finish_regular(
    probe: Result<OwnedFd, Errno>,
    known: Option<Stat>,
    path: &Path,
) -> Result<(File, Stat), FileError> {
    let probe = probe.map_err(|e| match e {
        Errno::NOENT => FileError::Missing(path.to_path_buf()),
        e => io("open", path, e),
    })?;
    let st = match known {
        Some(st) => st,
        None => rustix::fs::fstat(&probe).map_err(|e| io("inspect", path, e))?,
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(FileError::NotRegular {
            path: path.to_path_buf(),
            kind: describe(&st),
        });
    }
    let flags = OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    match reopen(&probe, flags) {
        // The magic link opens the very inode the probe holds: no second check is needed.
        Some(Ok(fd)) => Ok((File::from(fd), st)),
        Some(Err(e)) => Err(io("open", path, e)),
        // No /proc to reopen through: open by path and insist on the same inode. A swap in the
        // moment between is then refused, though what was swapped in has been opened.
        None => {
            let fd =
                rustix::fs::open(path, flags, Mode::empty()).map_err(|e| io("open", path, e))?;
            let opened = rustix::fs::fstat(&fd).map_err(|e| io("inspect", path, e))?;
            if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino) {
                return Err(FileError::Changed(path.to_path_buf()));
            }
            Ok((File::from(fd), opened))
        }
    }
}

/// `/proc/self/fd`, opened once: a reopen then resolves one name, not four.
fn proc_fds() -> Option<&'static OwnedFd> {
    static DIR: std::sync::OnceLock<Option<OwnedFd>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        rustix::fs::open(
            "/proc/self/fd",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()
    })
    .as_ref()
}

/// Opens the file an `O_PATH` descriptor refers to, as that same inode (`/proc/self/fd/N`);
/// `None` when there is no `/proc`.
fn reopen(probe: &OwnedFd, flags: OFlags) -> Option<Result<OwnedFd, Errno>> {
    use std::os::fd::AsRawFd;
    let dir = proc_fds()?;
    let mut buf = [0u8; 16];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    // 16 bytes hold any descriptor number.
    let _ = write!(cursor, "{}", probe.as_raw_fd());
    let len = cursor.position() as usize;
    let name = std::ffi::OsStr::new(std::str::from_utf8(&buf[..len]).unwrap_or("-"));
    Some(rustix::fs::openat(dir, name, flags, Mode::empty()))
}

/// Heartbeat folders held open, so that a read resolves one name relative to its folder
/// instead of walking the whole path each time. Only folders whose path has no symlink on the
/// way are held (a `current -> release-42` folder link must be followed anew every time). What
/// a path names can change (a folder deleted and made again, renamed away and replaced): a
/// deleted folder is noticed at once, and every folder is looked up by its path again every
/// [`FOLDER_FRESH_FOR`], so a read never follows a folder that is no longer at its path for
/// longer than that.
#[derive(Debug, Default)]
pub struct Folders {
    held: std::collections::HashMap<PathBuf, Held>,
}

#[derive(Debug)]
struct Held {
    /// `None`: not holdable (a symlink on the way); go by the whole path.
    fd: Option<OwnedFd>,
    opened: std::time::Instant,
}

/// Folders held at most; past it the cache starts over.
const MAX_FOLDERS: usize = 1024;
/// How long a held folder is trusted to still be what its path names.
pub const FOLDER_FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(5);

impl Folders {
    /// The held folder of `path` and the name in it; `None`: go by the whole path.
    fn folder<'a>(&mut self, path: &'a Path) -> Option<(&OwnedFd, &'a std::ffi::OsStr)> {
        let (dir, name) = split(path).ok()?;
        let fresh = self
            .held
            .get(dir)
            .is_some_and(|h| h.opened.elapsed() < FOLDER_FRESH_FOR);
        if !fresh {
            if self.held.len() >= MAX_FOLDERS {
                self.held.clear();
            }
            let holdable = std::fs::canonicalize(dir).is_ok_and(|c| c == dir);
            let fd = holdable
                .then(|| {
                    rustix::fs::open(
                        dir,
                        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .ok()
                })
                .flatten();
            let opened = std::time::Instant::now();
            self.held.insert(dir.to_path_buf(), Held { fd, opened });
        }
        let fd = self.held.get(dir)?.fd.as_ref()?;
        Some((fd, name))
    }

    /// After a `NOENT` through the held folder: whether the folder itself is gone (then it is
    /// dropped, to be opened again by path).
    fn gone(&mut self, path: &Path) -> bool {
        let Some(dir) = path.parent() else {
            return false;
        };
        let unlinked = self
            .held
            .get(dir)
            .and_then(|h| h.fd.as_ref())
            .is_some_and(|fd| rustix::fs::fstat(fd).is_ok_and(|st| st.st_nlink == 0));
        if unlinked {
            self.held.remove(dir);
        }
        unlinked
    }

    /// `stat(path)` (following a symlink at the end).
    pub fn stat(&mut self, path: &Path) -> Result<Stat, Errno> {
        let Some((dir, name)) = self.folder(path) else {
            return rustix::fs::stat(path);
        };
        match rustix::fs::statat(dir, name, rustix::fs::AtFlags::empty()) {
            Err(Errno::NOENT) if self.gone(path) => self.stat(path),
            other => other,
        }
    }

    /// [`open_regular`], through the held folder; also says whether `path` itself is a
    /// symlink (that was followed).
    pub fn open_regular(&mut self, path: &Path) -> Result<(File, Stat, bool), FileError> {
        let Some((dir, name)) = self.folder(path) else {
            let link = rustix::fs::lstat(path)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink);
            return open_regular(path).map(|(f, st)| (f, st, link));
        };
        let flags = OFlags::PATH | OFlags::CLOEXEC;
        let probe = rustix::fs::openat(dir, name, flags | OFlags::NOFOLLOW, Mode::empty());
        let seen = probe
            .as_ref()
            .ok()
            .and_then(|fd| rustix::fs::fstat(fd).ok());
        let (probe, known, link) = match (probe, seen) {
            // The name is a symlink: the probe holds the link itself; follow it.
            (Ok(_), Some(st)) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => (
                rustix::fs::openat(dir, name, flags, Mode::empty()),
                None,
                true,
            ),
            (probe, known) => (probe, known, false),
        };
        match probe {
            Err(Errno::NOENT) if self.gone(path) => self.open_regular(path),
            probe => finish_regular(probe, known, path).map(|(f, st)| (f, st, link)),
        }
    }
}

/// Splits a file path into its folder and name.
fn split(path: &Path) -> Result<(&Path, &std::ffi::OsStr), FileError> {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => Ok((dir, name)),
        _ => Err(FileError::NoName(path.to_path_buf())),
    }
}

/// Opens (creating it and its folders if needed) a file to append to, for root's own writes on
/// a service's behalf: never through a symlink or a hard link (see the module note).
pub fn open_append(path: &Path) -> Result<File, FileError> {
    let (dir, name) = split(path)?;
    let dir = path::walk(dir, true)?;
    let fd = rustix::fs::openat(
        &dir.fd,
        name,
        OFlags::WRONLY
            | OFlags::APPEND
            | OFlags::CREATE
            | OFlags::NOFOLLOW
            | OFlags::NOCTTY
            | OFlags::NONBLOCK
            | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o640),
    )
    .map_err(|e| match e {
        Errno::LOOP => FileError::Link(path.to_path_buf()),
        // A FIFO nobody reads (or a device without its driver) refuses a non-blocking open.
        Errno::NXIO => FileError::NotRegular {
            path: path.to_path_buf(),
            kind: "a FIFO or a device",
        },
        e => io("open", path, e),
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| io("inspect", path, e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(FileError::NotRegular {
            path: path.to_path_buf(),
            kind: describe(&st),
        });
    }
    #[allow(clippy::useless_conversion)] // st_nlink is u32 on some targets, u64 on others
    let links = u64::from(st.st_nlink);
    if links != 1 {
        return Err(FileError::HardLinked {
            path: path.to_path_buf(),
            links,
        });
    }
    if !trusted_owner(st.st_uid) {
        return Err(FileError::Foreign {
            path: path.to_path_buf(),
            uid: st.st_uid,
        });
    }
    // Non-blocking was only for the open (a FIFO swapped in must not stall it).
    rustix::fs::fcntl_setfl(&fd, OFlags::APPEND).map_err(|e| io("set flags on", path, e))?;
    Ok(File::from(fd))
}

/// Replaces the file at `path` with `contents`, as the module note describes: a temp file of an
/// unpredictable name created `O_EXCL` in the checked folder, then renamed over `path`.
pub fn replace(path: &Path, contents: &[u8], mode: u32) -> Result<(), FileError> {
    let (dir, name) = split(path)?;
    let dir = path::walk(dir, true)?;
    let mut random = [0u8; 8];
    rustix::rand::getrandom(&mut random, rustix::rand::GetRandomFlags::empty())
        .map_err(|e| io("draw a temp name for", path, e))?;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".{:016x}.tmp", u64::from_ne_bytes(random)));
    let fd = rustix::fs::openat(
        &dir.fd,
        &tmp,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )
    .map_err(|e| io("create a temp file for", path, e))?;
    let written = File::from(fd).write_all(contents);
    let renamed = written
        .map_err(|e| FileError::Io {
            what: "write",
            path: path.to_path_buf(),
            source: e,
        })
        .and_then(|()| {
            rustix::fs::renameat(&dir.fd, &tmp, &dir.fd, name)
                .map_err(|e| io("rename onto", path, e))
        });
    if renamed.is_err() {
        let _ = rustix::fs::unlinkat(&dir.fd, &tmp, rustix::fs::AtFlags::empty());
    }
    renamed
}

#[cfg(test)]
mod tests;
