//! The control socket: claiming it safely, and the accept loop.
//!
//! Claiming: a lock on `lock_path` makes the daemon single-instance (a second one fails at once
//! with a clear message, and two starting together cannot both win). Holding the lock, a socket
//! file left by a crashed daemon is removed; one that still answers means a daemon we cannot
//! see holds it, and we refuse rather than steal it (interprocess's `try_overwrite` would). The
//! umask is tightened while binding so the socket is never briefly wider than its mode.
//!
//! Serving: one task per connection, counted by a `TaskTracker` so shutdown can wait for them,
//! and capped by a semaphore: past the cap a client gets an immediate error, not a queue.

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::traits::tokio::Listener as _;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use interprocess::os::unix::local_socket::ListenerOptionsExt;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::stat::{Mode, umask};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::access::AccessPolicy;
use crate::config::Config;
use crate::connection;
use crate::supervisor::SupervisorHandle;

/// Most connections served at once; more get an "unavailable" reply. Each costs a file
/// descriptor, so [`raise_fd_limit`] makes room for them.
pub const MAX_CONNECTIONS: usize = 2048;

/// Raises the soft open-files limit to the hard one (often 1024 → 1M under systemd), so that
/// connections and the services' files fit. Returns the soft limit now in force.
pub fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(_) => soft,
        },
        Ok((soft, _)) => soft,
        Err(_) => 1024,
    }
}
/// Longest path a Unix socket address holds (sun_path, less the terminator).
const MAX_SOCKET_PATH: usize = 107;

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("another watchdogd holds the lock {0} (is it already running?)")]
    Locked(PathBuf),
    #[error("cannot lock {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another watchdogd is answering on {0}; refusing to take over its socket")]
    Live(PathBuf),
    #[error("{0} exists and is not a socket; refusing to remove it")]
    NotSocket(PathBuf),
    #[error("socket path {0} is {1} bytes long; the limit is {MAX_SOCKET_PATH}")]
    TooLong(PathBuf, usize),
    #[error("socket_group {0:?} does not exist")]
    NoGroup(String),
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The bound socket plus the lock that makes it ours; drop both together.
pub struct Bound {
    pub listener: Listener,
    pub lock: Flock<File>,
}

/// Takes the lock, clears a stale socket and binds with `socket_mode` (and `socket_group`).
/// Must run inside a runtime.
pub fn bind(config: &Config) -> Result<Bound, BindError> {
    let sock = &config.socket_path;
    let len = sock.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(BindError::TooLong(sock.clone(), len));
    }
    let group = match &config.access.socket_group {
        Some(name) => Some(resolve_group(name).ok_or_else(|| BindError::NoGroup(name.clone()))?),
        None => None,
    };
    let socket_dir = sock.parent().filter(|d| !d.as_os_str().is_empty());
    for dir in [socket_dir, config.lock_path.parent()]
        .into_iter()
        .flatten()
    {
        if dir.as_os_str().is_empty() || dir.exists() {
            continue;
        }
        // Private, unless a group is to share the socket: then group-searchable too.
        let shared = group.is_some() && Some(dir) == socket_dir;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(if shared { 0o750 } else { 0o700 })
            .create(dir)
            .map_err(|source| BindError::Io {
                what: "create folder",
                path: dir.into(),
                source,
            })?;
        if let (Some(gid), true) = (group, shared) {
            chown_group(dir, gid)?;
        }
    }
    let lock = take_lock(&config.lock_path)?;
    clear_stale(sock)?;
    let name = sock
        .as_path()
        .to_fs_name::<GenericFilePath>()
        .map_err(|source| BindError::Io {
            what: "name socket",
            path: sock.clone(),
            source,
        })?;
    let mode = config.access.socket_mode;
    // The umask would cut the mode, so while binding it is exactly what the mode leaves out:
    // the socket never exists with other permissions than asked for.
    let old = umask(Mode::from_bits_truncate(!mode & 0o777));
    let listener = ListenerOptions::new()
        .name(name)
        .mode(mode as libc::mode_t)
        .create_tokio();
    umask(old);
    let listener = listener.map_err(|source| BindError::Io {
        what: "listen on",
        path: sock.clone(),
        source,
    })?;
    if let Some(gid) = group {
        chown_group(sock, gid)?;
    }
    Ok(Bound { listener, lock })
}

fn resolve_group(name: &str) -> Option<u32> {
    match name.parse::<u32>() {
        Ok(id) => Some(id),
        Err(_) => nix::unistd::Group::from_name(name)
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw()),
    }
}

fn chown_group(path: &Path, gid: u32) -> Result<(), BindError> {
    std::os::unix::fs::chown(path, None, Some(gid)).map_err(|source| BindError::Io {
        what: "set the group of",
        path: path.into(),
        source,
    })
}

fn take_lock(path: &Path) -> Result<Flock<File>, BindError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|source| BindError::Lock {
            path: path.into(),
            source,
        })?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(lock),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(BindError::Locked(path.into())),
        Err((_, e)) => Err(BindError::Lock {
            path: path.into(),
            source: e.into(),
        }),
    }
}

fn clear_stale(sock: &Path) -> Result<(), BindError> {
    let meta = match std::fs::symlink_metadata(sock) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(BindError::Io {
                what: "inspect",
                path: sock.into(),
                source,
            });
        }
    };
    if !meta.file_type().is_socket() {
        return Err(BindError::NotSocket(sock.into()));
    }
    match std::os::unix::net::UnixStream::connect(sock) {
        Ok(_) => Err(BindError::Live(sock.into())),
        Err(_) => {
            tracing::info!(target: "server", "removing stale socket {}", sock.display());
            std::fs::remove_file(sock).map_err(|source| BindError::Io {
                what: "remove stale socket",
                path: sock.into(),
                source,
            })
        }
    }
}

/// Places under the connection cap kept for root and control users.
pub const RESERVED_CONNECTIONS: usize = 64;
/// How long shutdown waits for open connections to finish.
pub const SHUTDOWN_CLIENTS: std::time::Duration = std::time::Duration::from_secs(2);

/// Accepts connections until `shutdown`, then gives the open ones [`SHUTDOWN_CLIENTS`] to
/// finish (a client that never reads its reply cannot hold the daemon up).
pub async fn serve(
    listener: Listener,
    handle: SupervisorHandle,
    policy: Arc<AccessPolicy>,
    shutdown: CancellationToken,
) {
    let tracker = TaskTracker::new();
    // Leave descriptors for the database, logs, heartbeat reads and children.
    let fds = usize::try_from(raise_fd_limit()).unwrap_or(usize::MAX);
    let cap = MAX_CONNECTIONS.min(fds.saturating_sub(256)).max(16);
    let reserve = RESERVED_CONNECTIONS.min(cap / 4);
    let general = Arc::new(Semaphore::new(cap - reserve));
    let reserved = Arc::new(Semaphore::new(reserve));
    let shared = Arc::new(connection::Shared {
        handle,
        policy,
        refusals: std::sync::Mutex::new(crate::refusals::Refusals::default()),
    });
    tracker.spawn(flush_refusals(shared.clone(), shutdown.clone()));
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(target: "server", "accept failed: {e}");
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let permit = match general.clone().try_acquire_owned() {
            Ok(p) => connection::Permit::General(p),
            // The reserve is decided here, by uid, so that a crowd of refused clients cannot
            // hold its places while their tasks have yet to run (groups are looked up later).
            Err(_) if may_reserve(&stream, &shared.policy) => {
                match reserved.clone().try_acquire_owned() {
                    Ok(p) => connection::Permit::Reserve(p),
                    Err(_) => connection::Permit::Full,
                }
            }
            Err(_) => connection::Permit::Full,
        };
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move { connection::serve(stream, shared, permit, shutdown).await });
    }
    tracker.close();
    drop(listener); // unlinks the socket: no new client finds a daemon that will not answer
    if tokio::time::timeout(SHUTDOWN_CLIENTS, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            target: "server",
            "{} client connection(s) still open after {}s; closing them",
            tracker.len(),
            SHUTDOWN_CLIENTS.as_secs()
        );
    }
}

/// Whether a connection may take a reserved place: its uid has control rights, or control
/// groups exist and its groups must be looked up first.
fn may_reserve(stream: &interprocess::local_socket::tokio::Stream, policy: &AccessPolicy) -> bool {
    use interprocess::local_socket::traits::StreamCommon as _;
    match stream.peer_creds().ok().and_then(|c| c.euid()) {
        Some(uid) => policy.controls_by_uid(uid) || policy.controls_by_group(),
        None => false,
    }
}

/// Writes the summaries of refusal windows that ended, once a minute, and of all the rest at
/// shutdown.
async fn flush_refusals(shared: Arc<connection::Shared>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(crate::refusals::WINDOW);
    loop {
        let stopping = tokio::select! {
            () = stop.cancelled() => true,
            _ = tick.tick() => false,
        };
        let summaries = {
            let mut refusals = shared.refusals.lock().unwrap_or_else(|p| p.into_inner());
            let now = tokio::time::Instant::now();
            if stopping {
                refusals.flush_all(now)
            } else {
                refusals.flush(now)
            }
        };
        for s in summaries {
            shared.summarize(&s);
        }
        if stopping {
            return;
        }
    }
}
