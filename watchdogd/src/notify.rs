//! systemd's service notification protocol, spoken directly: one datagram per message to the
//! socket named by `$NOTIFY_SOCKET` (a path, or `@name` for an abstract socket).
//!
//! watchdogd sends `READY=1` once its socket accepts connections (so `Type=notify` units order
//! correctly), `STATUS=` one-line summaries as service health changes, `STOPPING=1` when it
//! begins to shut down, and, when the unit sets `WatchdogSec=`, `WATCHDOG=1` at half that
//! period, but only while the supervisor's loop is still turning: a wedged owner stops the pings
//! and systemd restarts the daemon. Without `$NOTIFY_SOCKET` every call is a no-op.

use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::time::Duration;

use protocol::Health;
use tokio_util::sync::CancellationToken;

use crate::supervisor::{Snapshot, SupervisorHandle, Turns};

/// A connection to systemd's notify socket, if there is one.
pub struct Notifier {
    socket: Option<(UnixDatagram, std::os::unix::net::SocketAddr)>,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET`; a missing or unusable socket gives a silent notifier.
    pub fn from_env() -> Notifier {
        let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
            return Notifier { socket: None };
        };
        let addr = {
            let bytes = target.as_encoded_bytes();
            if let Some(name) = bytes.strip_prefix(b"@") {
                abstract_address(name)
            } else {
                std::os::unix::net::SocketAddr::from_pathname(&target)
            }
        };
        match (UnixDatagram::unbound(), addr) {
            (Ok(sock), Ok(addr)) => Notifier {
                socket: Some((sock, addr)),
            },
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(target: "notify", "NOTIFY_SOCKET {target:?} unusable: {e}");
                Notifier { socket: None }
            }
        }
    }

    /// Sends one message (newline-separated assignments). Never blocks for long: datagrams.
    pub fn send(&self, message: &str) {
        if let Some((sock, addr)) = &self.socket
            && let Err(e) = sock.send_to_addr(message.as_bytes(), addr)
        {
            tracing::debug!(target: "notify", "cannot notify systemd: {e}");
        }
    }

    pub fn is_active(&self) -> bool {
        self.socket.is_some()
    }
}

/// An abstract socket address (`@name`): Linux only.
#[cfg(target_os = "linux")]
fn abstract_address(name: &[u8]) -> std::io::Result<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name)
}

#[cfg(not(target_os = "linux"))]
fn abstract_address(_name: &[u8]) -> std::io::Result<std::os::unix::net::SocketAddr> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "abstract sockets are Linux-only",
    ))
}

/// The systemd watchdog period from `$WATCHDOG_USEC`, when it is meant for this process.
pub fn watchdog_period() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// A one-line summary of the services for `STATUS=`.
pub fn summary(snap: &Snapshot) -> String {
    let total = snap.services.len();
    let healthy = snap
        .services
        .iter()
        .filter(|s| s.health == Some(Health::Healthy))
        .count();
    let unhealthy = snap
        .services
        .iter()
        .filter(|s| s.health.is_some_and(|h| h != Health::Healthy) && s.enabled)
        .count();
    format!("supervising {total} services: {healthy} healthy, {unhealthy} unhealthy")
}

/// Sends READY=1, then keeps STATUS= current and the watchdog fed until `stop`.
pub fn spawn(
    notifier: Arc<Notifier>,
    handle: &SupervisorHandle,
    turns: Arc<Turns>,
    stop: CancellationToken,
) {
    if !notifier.is_active() {
        return;
    }
    let mut snapshots = handle.watch();
    let first = summary(&snapshots.borrow());
    notifier.send(&format!(
        "READY=1\nSTATUS={first}\nMAINPID={}",
        std::process::id()
    ));
    let status_notifier = notifier.clone();
    let status_stop = stop.clone();
    tokio::spawn(async move {
        let mut last = first;
        loop {
            tokio::select! {
                () = status_stop.cancelled() => return,
                changed = snapshots.changed() => if changed.is_err() { return },
            }
            let line = summary(&snapshots.borrow_and_update());
            if line != last {
                status_notifier.send(&format!("STATUS={line}"));
                last = line;
            }
            // At most one STATUS= a second, however busy the services are.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    if let Some(period) = watchdog_period() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period / 2);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                // Monotonic: a wall-clock step neither withholds a ping nor fakes one.
                let idle = turns.idle();
                if idle < period {
                    notifier.send("WATCHDOG=1");
                } else {
                    tracing::error!(target: "notify", "supervisor loop idle for {} ms: withholding the systemd watchdog ping", idle.as_millis());
                }
            }
        });
    }
}
