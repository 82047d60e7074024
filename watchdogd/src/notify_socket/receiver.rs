//! The one thread that receives on every notify socket.
//!
//! Why a thread of its own, blocked in `epoll_wait`, rather than a tokio task per socket: a
//! service pinging `WATCHDOG=1` a hundred times a second wakes whoever receives a hundred times
//! a second, and a wake of the runtime (an idle worker unparked, work-stealing peers told,
//! the task polled, then polled again after it yields) measured about 100 µs of CPU each, 1 %
//! of a core at 100 messages a second (`bench/notify.sh`). Here a message costs the thread's
//! wake, `recvmsg` until the socket is empty, and the slot's update; the owner hears only of
//! news ([`super::slot`]). Sockets are added and removed from the owner with `epoll_ctl`; an
//! eventfd stops the thread.

use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rustix::event::epoll::{self, Event, EventData, EventFlags};
use rustix::io::Errno;

use super::slot::Slot;
use super::socket::{self, MAX_DATAGRAM};

/// The token of the eventfd that stops the thread.
const STOP: u64 = 0;
/// Datagrams taken from one socket before the others get their turn.
const BATCH: usize = 256;
/// Descriptors one datagram may bring (systemd-notify's barrier sends one); the kernel closes
/// any beyond.
const MAX_FDS: usize = 16;

/// A socket watched, and the slot its datagrams go to.
struct Watched {
    sock: OwnedFd,
    slot: Arc<Slot>,
}

struct Inner {
    epoll: OwnedFd,
    stop: OwnedFd,
    watched: Mutex<HashMap<u64, Arc<Watched>>>,
    next: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The receiving thread; cheap to clone.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
}

impl Receiver {
    /// Starts the thread.
    pub fn start() -> std::io::Result<Receiver> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let stop = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )?;
        epoll::add(&epoll, &stop, EventData::new_u64(STOP), EventFlags::IN)?;
        let inner = Arc::new(Inner {
            epoll,
            stop,
            watched: Mutex::new(HashMap::new()),
            next: AtomicU64::new(STOP + 1),
        });
        let running = inner.clone();
        std::thread::Builder::new()
            .name("notify".into())
            .stack_size(256 * 1024)
            .spawn(move || run(&running))?;
        Ok(Receiver { inner })
    }

    /// Receives on `sock` for `slot` from now on; returns what [`Receiver::unwatch`] takes.
    pub fn watch(&self, sock: OwnedFd, slot: Arc<Slot>) -> std::io::Result<u64> {
        let token = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let watched = Arc::new(Watched { sock, slot });
        lock(&self.inner.watched).insert(token, watched.clone());
        if let Err(e) = epoll::add(
            &self.inner.epoll,
            &watched.sock,
            EventData::new_u64(token),
            EventFlags::IN,
        ) {
            lock(&self.inner.watched).remove(&token);
            return Err(e.into());
        }
        Ok(token)
    }

    /// Stops receiving on the socket `token` names, and closes it.
    pub fn unwatch(&self, token: u64) {
        if let Some(w) = lock(&self.inner.watched).remove(&token) {
            let _ = epoll::delete(&self.inner.epoll, &w.sock);
        }
    }

    /// Ends the thread (shutdown); the sockets close with it.
    pub fn stop(&self) {
        let _ = rustix::io::write(&self.inner.stop, &1u64.to_ne_bytes());
    }
}

fn run(inner: &Inner) {
    let mut events = [MaybeUninit::<Event>::uninit(); 32];
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut space = vec![
        MaybeUninit::<u8>::uninit();
        rustix::cmsg_space!(ScmCredentials(1), ScmRights(MAX_FDS))
    ];
    loop {
        let ready = match epoll::wait(&inner.epoll, &mut events, None) {
            Ok((ready, _)) => ready,
            Err(Errno::INTR) => continue,
            Err(e) => {
                tracing::error!(target: "notify", "the notify receiver stopped: {e}");
                return;
            }
        };
        for event in ready.iter() {
            let token = event.data.u64();
            if token == STOP {
                lock(&inner.watched).clear();
                return;
            }
            let Some(w) = lock(&inner.watched).get(&token).cloned() else {
                continue;
            };
            // Level-triggered: what is left after a batch wakes the next wait at once.
            for _ in 0..BATCH {
                match socket::receive_one(w.sock.as_fd(), &mut buf, &mut space) {
                    Ok((n, truncated, creds)) => w.slot.receive(creds, &buf[..n], truncated),
                    Err(Errno::AGAIN) => break,
                    Err(Errno::INTR) => {}
                    Err(e) => {
                        tracing::warn!(target: "notify", "{}: receiving failed: {e}", w.slot.key());
                        break;
                    }
                }
            }
        }
    }
}
