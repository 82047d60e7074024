//! When the owner last turned, read from outside it: the systemd watchdog ping (`WATCHDOG=1`)
//! is sent only while the owner turns, so a wedged owner gets the daemon restarted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The monotonic time of the owner's last turn, for the systemd watchdog: it pings only while
/// the owner turns.
#[derive(Debug)]
pub struct Turns {
    base: std::time::Instant,
    last_ms: AtomicU64,
}

impl Turns {
    pub(super) fn new() -> Turns {
        Turns {
            base: std::time::Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    pub(super) fn mark(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// How long ago the owner last turned.
    pub fn idle(&self) -> Duration {
        let now = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}
