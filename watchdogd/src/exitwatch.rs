//! Noticing a process's exit the moment it happens, instead of at its next check.
//!
//! On Linux a pidfd (`pidfd_open`, 5.3+) becomes readable when its process exits, and tokio can
//! wait for that like for a socket. The supervisor watches the PID each healthy heartbeat names;
//! an exit triggers an immediate check (the failure threshold still applies). Where pidfds are
//! not available the watch is simply not made and the periodic check finds the death instead.
//! Children watchdogd started itself need no watch: tokio reaps them and reports at once.

use std::io;

/// Resolves when `pid` exits. Errors when the process does not exist (it exited already) or
/// this kernel has no pidfds.
#[cfg(target_os = "linux")]
pub fn exited(pid: i32) -> io::Result<impl Future<Output = ()> + Send + 'static> {
    use std::os::fd::{FromRawFd, OwnedFd};
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just handed us this descriptor; nothing else owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: `owned` is a valid open descriptor that the AsyncFd owns until it is dropped;
    // OwnedFd always returns that same descriptor.
    let watched = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) }
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(async move {
        // Readable means exited; an error means the descriptor is unusable: treat it as exited
        // so that a check confirms either way.
        let _ = watched.readable().await;
    })
}

#[cfg(not(target_os = "linux"))]
pub fn exited(_pid: i32) -> io::Result<std::future::Pending<()>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no pidfd on this platform",
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[tokio::test]
    async fn resolves_when_an_unrelated_process_exits() {
        // Spawned through std (not tokio) and reaped by hand: the watch must not depend on
        // being the parent's wait.
        let mut child = std::process::Command::new("sleep")
            .arg("0.3")
            .spawn()
            .unwrap();
        let exited = super::exited(child.id() as i32).unwrap();
        let start = std::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(5), exited)
            .await
            .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(200));
        child.wait().unwrap();
    }

    #[tokio::test]
    async fn a_missing_process_is_an_error() {
        assert!(super::exited(i32::MAX - 7).is_err());
    }
}
