//! Noticing a process's exit the moment it happens, instead of at its next check.
//!
//! On Linux a pidfd (`pidfd_open`, 5.3+) becomes readable when its process exits. The owner
//! watches the PID each healthy heartbeat names; an exit triggers an immediate check (the
//! failure threshold still applies). Where pidfds are not available the watch is simply not
//! made and the periodic check finds the death instead. Children watchdogd started itself
//! need no watch: tokio reaps them and reports at once.
//!
//! One thread waits on one epoll set for every watched pidfd and hands exits to the owner: a
//! watch costs a descriptor and a map entry, not a task and a reactor registration each (at
//! thousands of services that was most of the daemon's memory per service). Services whose
//! heartbeats name the same PID share its watch. Each pidfd is armed once (`EPOLLONESHOT`):
//! an exit is reported once, and the owner then drops the watch.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// The watches, owned by the supervisor.
pub struct ExitWatcher {
    epoll: Arc<OwnedFd>,
    /// Per watched PID: its pidfd and the services whose heartbeats name it.
    pids: HashMap<u32, Watched>,
    exits: tokio::sync::mpsc::Receiver<u32>,
}

struct Watched {
    _fd: OwnedFd,
    keys: Vec<Box<str>>,
}

impl ExitWatcher {
    /// A watcher, or `None` where there is no epoll or no thread to spare (exits are then
    /// found by the periodic checks).
    #[cfg(target_os = "linux")]
    pub fn new() -> Option<ExitWatcher> {
        use rustix::event::epoll;
        let epoll = Arc::new(epoll::create(epoll::CreateFlags::CLOEXEC).ok()?);
        let (tx, exits) = tokio::sync::mpsc::channel(256);
        let waiting = epoll.clone();
        std::thread::Builder::new()
            .name("exits".into())
            .stack_size(64 * 1024)
            .spawn(move || wait_for_exits(&waiting, &tx))
            .ok()?;
        Some(ExitWatcher {
            epoll,
            pids: HashMap::new(),
            exits,
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn new() -> Option<ExitWatcher> {
        None
    }

    /// Watches `pid` for service `key`; false when it cannot be watched (it exited already,
    /// or this kernel has no pidfds).
    pub fn watch(&mut self, pid: u32, key: &str) -> bool {
        if let Some(w) = self.pids.get_mut(&pid) {
            if !w.keys.iter().any(|k| &**k == key) {
                w.keys.push(key.into());
            }
            return true;
        }
        let Some(fd) = open(pid, &self.epoll) else {
            return false;
        };
        self.pids.insert(
            pid,
            Watched {
                _fd: fd,
                keys: vec![key.into()],
            },
        );
        true
    }

    /// Stops watching `pid` for service `key` (the last service's watch closes the pidfd).
    pub fn unwatch(&mut self, pid: u32, key: &str) {
        if let Some(w) = self.pids.get_mut(&pid) {
            w.keys.retain(|k| &**k != key);
            if w.keys.is_empty() {
                self.pids.remove(&pid);
            }
        }
    }

    /// The next PID that exited (`None` once the waiting thread has stopped).
    pub async fn next_exit(&mut self) -> Option<u32> {
        self.exits.recv().await
    }

    /// The services that watched `pid`, which exited: its watch is gone.
    pub fn take(&mut self, pid: u32) -> Vec<Box<str>> {
        self.pids.remove(&pid).map(|w| w.keys).unwrap_or_default()
    }

    /// PIDs watched now (for tests and metrics).
    pub fn watched(&self) -> usize {
        self.pids.len()
    }
}

/// A pidfd for `pid`, armed in `epoll` with the PID as its data.
#[cfg(target_os = "linux")]
fn open(pid: u32, epoll: &OwnedFd) -> Option<OwnedFd> {
    use rustix::event::epoll;
    let raw = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
    let fd = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()).ok()?;
    epoll::add(
        epoll,
        &fd,
        epoll::EventData::new_u64(u64::from(pid)),
        epoll::EventFlags::IN | epoll::EventFlags::ONESHOT,
    )
    .ok()?;
    Some(fd)
}

#[cfg(not(target_os = "linux"))]
fn open(_pid: u32, _epoll: &OwnedFd) -> Option<OwnedFd> {
    None
}

/// The waiting thread: reports each exit once; stops when the owner is gone.
#[cfg(target_os = "linux")]
fn wait_for_exits(epoll: &OwnedFd, tx: &tokio::sync::mpsc::Sender<u32>) {
    use rustix::event::epoll;
    let mut events = [std::mem::MaybeUninit::<epoll::Event>::uninit(); 64];
    let second = rustix::event::Timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    loop {
        let ready = match epoll::wait(epoll, &mut events, Some(&second)) {
            Ok((ready, _)) => ready,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        };
        if ready.is_empty() && tx.is_closed() {
            return;
        }
        for event in ready.iter() {
            let pid = u32::try_from(event.data.u64()).unwrap_or(0);
            if tx.blocking_send(pid).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn an_unrelated_process_exit_is_reported_once_to_every_service_watching_it() {
        // Spawned through std (not tokio) and reaped by hand: the watch must not depend on
        // being the parent's wait.
        let mut child = std::process::Command::new("sleep")
            .arg("0.3")
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut w = ExitWatcher::new().unwrap();
        assert!(w.watch(pid, "a"));
        assert!(w.watch(pid, "b"));
        assert!(w.watch(pid, "c"));
        w.unwatch(pid, "c");
        assert_eq!(w.watched(), 1, "one pidfd for the PID");
        let start = std::time::Instant::now();
        let exited = tokio::time::timeout(Duration::from_secs(5), w.next_exit())
            .await
            .unwrap();
        assert_eq!(exited, Some(pid));
        assert!(start.elapsed() >= Duration::from_millis(200));
        let mut keys = w.take(pid);
        keys.sort();
        assert_eq!(keys, vec!["a".into(), "b".into()] as Vec<Box<str>>);
        assert_eq!(w.watched(), 0);
        child.wait().unwrap();
    }

    #[tokio::test]
    async fn a_missing_process_cannot_be_watched() {
        let mut w = ExitWatcher::new().unwrap();
        assert!(!w.watch(i32::MAX as u32 - 7, "a"));
        assert_eq!(w.watched(), 0);
    }
}
