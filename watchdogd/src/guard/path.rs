//! Reaching a folder without following a link someone else could have planted.
//!
//! `open(path)` follows every symlink on the way. When a less-privileged user can write one of
//! the folders on `path`, they can swap a component for a link to `/etc` between any check and
//! the open, and root then creates or appends to a file of their choosing. So the walk here
//! starts at `/` and opens every component with `O_NOFOLLOW` relative to the folder opened
//! before it (nothing can be swapped under an open descriptor). A symlink on the way is followed
//! only where nobody but root or the daemon's own user could have put it: the link itself is
//! theirs, and so is the folder holding it, which nobody else may write (a sticky folder such
//! as `/tmp` counts, since others cannot replace entries they do not own there). Missing folders
//! are created on the way when asked (mode 0755, the daemon's own).
//!
//! The result is a descriptor of the folder; callers open their file relative to it
//! (`openat`), so the path is never resolved a second time.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::trusted_owner;

/// Most symlinks one walk follows (as the kernel's own limit).
const MAX_LINKS: u32 = 40;

/// Why a folder could not be reached safely. Each names the path it is about.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error("{0} is not an absolute path")]
    Relative(PathBuf),
    #[error(
        "{link} is a symbolic link in a folder that other users can write (or owned by another user); refusing to follow it"
    )]
    UntrustedLink { link: PathBuf },
    #[error("{0}: too many levels of symbolic links")]
    Loop(PathBuf),
    #[error("{0} is not a folder")]
    NotAFolder(PathBuf),
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(what: &'static str, path: &Path, e: Errno) -> PathError {
    PathError::Io {
        what,
        path: path.to_path_buf(),
        source: e.into(),
    }
}

/// A folder reached by [`walk`], open as an `O_PATH` descriptor.
#[derive(Debug)]
pub struct CheckedDir {
    pub fd: OwnedFd,
    /// The folder's path as reached (links resolved), for messages.
    pub path: PathBuf,
    /// Its metadata when it was opened.
    pub stat: Stat,
    /// Every folder on the way, this one included, was writable only by root or the daemon's
    /// user (sticky folders counting when the next entry was theirs): nobody else can change
    /// what `path` names, so it may safely be handed to code that opens by path.
    pub chain_trusted: bool,
}

/// Whether `dir` lets nobody but trusted users change which entry a name points to, given
/// the owner of the entry under it.
fn holds_steady(dir: &Stat, entry_owner: u32) -> bool {
    let writable_by_others = dir.st_mode & 0o022 != 0;
    let sticky = dir.st_mode & 0o1000 != 0;
    trusted_owner(dir.st_uid) && (!writable_by_others || (sticky && trusted_owner(entry_owner)))
}

/// Walks to the folder `dir` (absolute), as the module note describes; creates missing
/// folders when `create`.
pub fn walk(dir: &Path, create: bool) -> Result<CheckedDir, PathError> {
    if !dir.is_absolute() {
        return Err(PathError::Relative(dir.to_path_buf()));
    }
    let root_fd = rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io("open", Path::new("/"), e))?;
    let root_stat = rustix::fs::fstat(&root_fd).map_err(|e| io("inspect", Path::new("/"), e))?;
    // The chain of folders opened so far: `..` steps back along it, never through the file
    // system (where `..` of a swapped folder could lead anywhere).
    let mut chain: Vec<(OwnedFd, Stat, PathBuf)> = vec![(root_fd, root_stat, PathBuf::from("/"))];
    let mut pending: Vec<OsString> = components(dir.as_os_str());
    pending.reverse();
    let mut links = 0;
    let mut chain_trusted = trusted_owner(root_stat.st_uid);
    while let Some(name) = pending.pop() {
        if name == "." || name.is_empty() {
            continue;
        }
        if name == ".." {
            if chain.len() > 1 {
                chain.pop();
            }
            continue;
        }
        let (cur_fd, cur_stat, cur_path) = chain.last().expect("the chain always holds /");
        let here = cur_path.join(&name);
        let st = match rustix::fs::statat(cur_fd, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) if create => {
                match rustix::fs::mkdirat(cur_fd, name.as_os_str(), Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(io("create folder", &here, e)),
                }
                rustix::fs::statat(cur_fd, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| io("inspect", &here, e))?
            }
            Err(e) => return Err(io("inspect", &here, e)),
        };
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => {
                if !holds_steady(cur_stat, st.st_uid) || !trusted_owner(st.st_uid) {
                    return Err(PathError::UntrustedLink { link: here });
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(PathError::Loop(dir.to_path_buf()));
                }
                let target = rustix::fs::readlinkat(cur_fd, name.as_os_str(), Vec::new())
                    .map_err(|e| io("read link", &here, e))?;
                let target = OsStr::from_bytes(target.as_bytes());
                if target.as_bytes().first() == Some(&b'/') {
                    chain.truncate(1);
                }
                let mut more = components(target);
                more.reverse();
                pending.extend(more);
            }
            FileType::Directory => {
                let fd = rustix::fs::openat(
                    cur_fd,
                    name.as_os_str(),
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| io("open folder", &here, e))?;
                // What was opened counts, not what was inspected a moment before.
                let st = rustix::fs::fstat(&fd).map_err(|e| io("inspect", &here, e))?;
                chain_trusted &= holds_steady(cur_stat, st.st_uid);
                chain.push((fd, st, here));
            }
            _ => return Err(PathError::NotAFolder(here)),
        }
    }
    let (fd, stat, path) = chain.pop().expect("the chain always holds /");
    chain_trusted &= trusted_owner(stat.st_uid) && stat.st_mode & 0o022 == 0;
    Ok(CheckedDir {
        fd,
        path,
        stat,
        chain_trusted,
    })
}

/// The path's components as written (`/a//b/./c` → `a`, `b`, `.`, `c`).
fn components(path: &OsStr) -> Vec<OsString> {
    path.as_bytes()
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .map(|c| OsStr::from_bytes(c).to_os_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_through_trusted_links_and_creates_folders() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let reached = walk(&dir.path().join("link/new/deeper"), true).unwrap();
        assert_eq!(
            reached.path,
            real.canonicalize().unwrap().join("new/deeper")
        );
        assert!(real.join("new/deeper").is_dir());
        let again = walk(&dir.path().join("link/new/../new/deeper"), false).unwrap();
        assert_eq!(again.stat.st_ino, reached.stat.st_ino);
    }

    #[test]
    fn a_missing_folder_without_create_and_a_file_on_the_way_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            walk(&dir.path().join("nope"), false),
            Err(PathError::Io { .. })
        ));
        std::fs::write(dir.path().join("file"), b"x").unwrap();
        assert!(matches!(
            walk(&dir.path().join("file/below"), true),
            Err(PathError::NotAFolder(_))
        ));
        assert!(matches!(
            walk(Path::new("relative"), true),
            Err(PathError::Relative(_))
        ));
    }

    #[test]
    fn a_link_loop_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("b", dir.path().join("a")).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
        assert!(matches!(
            walk(&dir.path().join("a"), false),
            Err(PathError::Loop(_))
        ));
    }

    #[test]
    fn a_link_in_a_folder_others_may_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::os::unix::fs::symlink("/etc", open.join("etc")).unwrap();
        let err = walk(&open.join("etc"), false).unwrap_err();
        assert!(
            matches!(&err, PathError::UntrustedLink { link } if link.ends_with("open/etc")),
            "{err}"
        );
        let reached = walk(&open, false).unwrap();
        assert!(!reached.chain_trusted, "others may write it");
    }
}
