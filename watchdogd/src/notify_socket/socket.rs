//! The notify sockets on disk, and receiving one datagram with its sender's credentials.
//!
//! The folder (`notify_dir`) is made by root, mode 0711: anyone may pass through it, nobody
//! but root may list it or change its entries. It is reached without following a planted link
//! ([`crate::guard::path::walk`] for its parent, `O_NOFOLLOW` for itself), and refused when it
//! exists but is not root's (or the daemon user's). In it, each service's socket is
//! `KEY.sock`, mode 0600, owned by the service's `user` (root's without one): only that user
//! can send to it, and only root can replace it. The mode is set on the socket before it is
//! bound (Linux creates the file with the socket's own mode), the bind goes through the
//! folder's descriptor (`/proc/self/fd/N/KEY.sock`), and the owner is changed relative to that
//! descriptor without following links: nothing a service user can do makes root create,
//! chmod or chown anything else. The name never changes, so a service still running across a
//! daemon restart finds its socket again at the path it was given.

use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::sender::Credentials;
use crate::guard::path::PathError;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SocketAddrUnix, SocketFlags, SocketType,
};

/// The largest datagram taken whole; longer ones are malformed (systemd's own limit is the
/// same order: a page).
pub const MAX_DATAGRAM: usize = 4096;
/// Longest path a Unix socket address holds.
const MAX_SOCKET_PATH: usize = 107;

/// Why a folder or socket could not be made. Each names the path it is about.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("{0} has no parent folder")]
    NoParent(PathBuf),
    #[error("{0} is a symbolic link or not a folder; refusing to use it for notify sockets")]
    NotAFolder(PathBuf),
    #[error(
        "{path} belongs to uid {uid}, not root or watchdogd's user; refusing to put notify sockets in it"
    )]
    Foreign { path: PathBuf, uid: u32 },
    #[error("{0} exists and is not a socket; refusing to replace it")]
    NotSocket(PathBuf),
    #[error(
        "socket path {0} is {1} bytes long; the limit is {MAX_SOCKET_PATH} (shorten notify_dir or the key)"
    )]
    TooLong(PathBuf, usize),
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(what: &'static str, path: &Path, e: Errno) -> SocketError {
    SocketError::Io {
        what,
        path: path.to_path_buf(),
        source: e.into(),
    }
}

/// Makes (or checks) the folder `dir` as the module note says; returns it open.
pub fn open_dir(dir: &Path) -> Result<OwnedFd, SocketError> {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return Err(SocketError::NoParent(dir.to_path_buf()));
    };
    let parent = crate::guard::path::walk(parent, true)?;
    match rustix::fs::mkdirat(&parent.fd, name, Mode::from_raw_mode(0o711)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(io("create folder", dir, e)),
    }
    let fd = rustix::fs::openat(
        &parent.fd,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::LOOP | Errno::NOTDIR => SocketError::NotAFolder(dir.to_path_buf()),
        e => io("open folder", dir, e),
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| io("inspect", dir, e))?;
    if !crate::guard::trusted_owner(st.st_uid) {
        return Err(SocketError::Foreign {
            path: dir.to_path_buf(),
            uid: st.st_uid,
        });
    }
    // The umask may have cut the mode at creation, and an older folder may be wider.
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o711))
        .map_err(|e| io("set the mode of", dir, e))?;
    Ok(fd)
}

/// The socket path of service `key` in `dir`.
pub fn path_of(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.sock"))
}

/// Makes the socket of service `key` in the folder `dir_fd` (at `dir`), owned by `owner`.
pub fn bind(
    dir_fd: &OwnedFd,
    dir: &Path,
    key: &str,
    owner: Option<u32>,
) -> Result<OwnedFd, SocketError> {
    let name = format!("{key}.sock");
    let path = dir.join(&name);
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(SocketError::TooLong(path, len));
    }
    match rustix::fs::statat(dir_fd, name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => match FileType::from_raw_mode(st.st_mode) {
            // Root's folder: only the daemon left something here (the last run's socket).
            FileType::Socket | FileType::Symlink => {
                rustix::fs::unlinkat(dir_fd, name.as_str(), AtFlags::empty())
                    .map_err(|e| io("remove the old socket", &path, e))?;
            }
            _ => return Err(SocketError::NotSocket(path)),
        },
        Err(Errno::NOENT) => {}
        Err(e) => return Err(io("inspect", &path, e)),
    }
    let sock = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
    .map_err(|e| io("create a socket for", &path, e))?;
    rustix::net::sockopt::set_socket_passcred(&sock, true)
        .map_err(|e| io("ask for credentials on", &path, e))?;
    // Linux creates the socket file with the socket's mode (less the umask): never wider.
    rustix::fs::fchmod(&sock, Mode::from_raw_mode(0o600))
        .map_err(|e| io("set the mode of", &path, e))?;
    let through_fd = PathBuf::from(format!("/proc/self/fd/{}/{name}", dir_fd.as_raw_fd()));
    let at = if Path::new("/proc/self/fd").exists() {
        &through_fd
    } else {
        &path
    };
    let addr = SocketAddrUnix::new(at.as_path()).map_err(|e| io("name", &path, e))?;
    rustix::net::bind(&sock, &addr).map_err(|e| io("bind", &path, e))?;
    if let Some(uid) = owner.filter(|&u| u != crate::guard::daemon_uid()) {
        rustix::fs::chownat(
            dir_fd,
            name.as_str(),
            Some(rustix::fs::Uid::from_raw(uid)),
            None,
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io("give the service's user", &path, e))?;
    }
    Ok(sock)
}

/// Removes the socket of service `key` (a reload took notify away from it).
pub fn unbind(dir_fd: &OwnedFd, key: &str) {
    let name = format!("{key}.sock");
    if let Ok(st) = rustix::fs::statat(dir_fd, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
        && FileType::from_raw_mode(st.st_mode) == FileType::Socket
    {
        let _ = rustix::fs::unlinkat(dir_fd, name.as_str(), AtFlags::empty());
    }
}

/// One `recvmsg`: the bytes received (at most the buffer), whether the datagram was longer,
/// and who sent it.
pub(super) fn receive_one(
    fd: std::os::fd::BorrowedFd<'_>,
    buf: &mut [u8],
    space: &mut [MaybeUninit<u8>],
) -> Result<(usize, bool, Credentials), Errno> {
    let mut control = RecvAncillaryBuffer::new(space);
    let msg = rustix::net::recvmsg(
        fd,
        &mut [IoSliceMut::new(buf)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC | RecvFlags::TRUNC,
    )?;
    // Without credentials (which SO_PASSCRED always adds) nobody can be told apart: pid 0 is
    // no process, so the message is refused.
    let mut creds = Credentials {
        pid: 0,
        uid: u32::MAX,
    };
    for message in control.drain() {
        match message {
            RecvAncillaryMessage::ScmCredentials(c) => {
                creds = Credentials {
                    pid: c.pid.as_raw_nonzero().get(),
                    uid: c.uid.as_raw(),
                };
            }
            // Dropped, hence closed: systemd-notify waits for exactly that.
            RecvAncillaryMessage::ScmRights(fds) => fds.for_each(drop),
            _ => {}
        }
    }
    let truncated = msg.bytes > buf.len() || msg.flags.contains(ReturnFlags::TRUNC);
    Ok((msg.bytes.min(buf.len()), truncated, creds))
}
