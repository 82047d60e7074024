//! The owner's side of [`crate::changes`]: placing services in watched folders, adding watches on
//! the reader threads, and turning change events into reads.

use std::path::Path;

use tokio::time::Instant;

use super::{Event, Supervisor};
use crate::changes::Mode;
use crate::clock::Now;

impl Supervisor {
    /// Places every service's heartbeat folder with the watcher (at start and after a
    /// reload), asking for the watches still missing.
    pub(super) fn place_all(&mut self) {
        let Some(w) = self.watcher.as_mut() else {
            for svc in &mut self.services {
                svc.probe.mode = Mode::Polled("inotify is not available");
            }
            return;
        };
        w.clear_services();
        let mut add = Vec::new();
        for (idx, svc) in self.services.iter_mut().enumerate() {
            let Some(path) = svc.cfg().heartbeat_path.as_deref() else {
                svc.probe.mode = Mode::Polled("it has no heartbeat file (notify only)");
                continue;
            };
            let (mode, dir) = w.place(idx, path);
            svc.probe.mode = mode;
            add.extend(dir);
        }
        for dir in add {
            self.request_watch(dir);
        }
    }

    /// Adds a watch on `dir` on a reader thread (it may block on a hung file system); the
    /// outcome arrives as [`Event::Watched`].
    fn request_watch(&mut self, dir: std::path::PathBuf) {
        let Some(w) = &self.watcher else { return };
        let inotify = w.inotify();
        let readers = self.readers.clone();
        let events = self.events_tx.clone();
        tokio::spawn(async move {
            let looked = dir.clone();
            let result = readers
                .run(&dir, None, move || inotify.watch(&looked))
                .await
                .unwrap_or(Err("its file system does not answer"));
            let _ = events.send(Event::Watched { dir, result }).await;
        });
    }

    /// A watch was added (or refused): the folder's services take their mode; the watched
    /// ones are read once now, so that no change made before the watch is missed.
    pub(super) fn on_watched(
        &mut self,
        dir: std::path::PathBuf,
        result: Result<i32, &'static str>,
    ) {
        let Some(w) = self.watcher.as_mut() else {
            return;
        };
        if let Err(why) = result {
            tracing::debug!(target: "changes", "{}: polled: {why}", dir.display());
        }
        w.established(dir.clone(), result);
        let now = Instant::now();
        for (idx, svc) in self.services.iter_mut().enumerate() {
            let Some(path) = svc.cfg().heartbeat_path.as_deref() else {
                continue;
            };
            if path.parent() == Some(dir.as_path()) {
                let (mode, _) = w.place(idx, path);
                svc.probe.mode = mode;
                if mode == Mode::Watched {
                    svc.probe.changed = true;
                    svc.probe.next = svc.probe.next.min(now);
                }
            }
        }
        self.schedule.wake_at = self.schedule.wake_at.min(now);
        self.dirty = true;
    }

    /// Change events: changed heartbeats become due (at most one read per check interval),
    /// services whose folder went away are polled, an overflow makes every watched service due.
    pub(super) fn on_changes(&mut self, batch: &[u8]) {
        let Some(w) = self.watcher.as_mut() else {
            return;
        };
        let mut d = std::mem::take(&mut self.drained);
        d.clear();
        w.apply(batch, &mut d);
        let now = Instant::now();
        if d.overflow {
            tracing::warn!(target: "changes", "the change-event queue overflowed: reading every watched heartbeat now");
            for svc in &mut self.services {
                if svc.probe.mode == Mode::Watched {
                    svc.probe.changed = true;
                    svc.probe.next = now;
                }
            }
            self.schedule.wake_at = now;
        }
        for &idx in &d.changed {
            let Some(svc) = self.services.get_mut(idx) else {
                continue;
            };
            svc.probe.changed = true;
            let gap = svc.cfg().check_interval;
            let due = svc.probe.last_sent.map_or(now, |t| (t + gap).max(now));
            svc.probe.next = svc.probe.next.min(due);
            self.schedule.wake_at = self.schedule.wake_at.min(due);
        }
        for &idx in &d.lost {
            let Some(svc) = self.services.get_mut(idx) else {
                continue;
            };
            svc.probe.mode = Mode::Polled("its folder went away; watched again once it is back");
            svc.probe.next = now;
            self.schedule.wake_at = now;
            self.dirty = true;
        }
        self.drained = d;
    }

    /// After a read of service `idx`: an unhealthy watched service is polled until healthy
    /// (its failures are counted check by check); a heartbeat that is a symlink is polled for
    /// good; a folder that went away and is back is watched again.
    pub(super) fn after_read(&mut self, idx: usize, via_link: bool, found: bool, now: &Now) {
        let svc = &mut self.services[idx];
        if via_link && svc.probe.mode == Mode::Watched {
            svc.probe.mode = Mode::Polled(
                "its heartbeat is a symlink: changes to the file it points at raise no event",
            );
            // Its next look was set as for a watched service: polled from now on.
            svc.probe.next = svc.probe.next.min(now.mono + svc.cfg().check_interval);
            self.schedule.wake_at = self.schedule.wake_at.min(svc.probe.next);
            self.dirty = true;
        }
        if svc.probe.mode == Mode::Watched && !svc.is_healthy() {
            let polled = now.mono + svc.cfg().check_interval;
            svc.probe.next = svc.probe.next.min(polled);
            self.schedule.wake_at = self.schedule.wake_at.min(polled);
        }
        let back = found
            && matches!(svc.probe.mode, Mode::Polled(why) if why.starts_with("its folder went away"));
        let path = svc.cfg().heartbeat_path.clone();
        if back
            && let Some(path) = path
            && let Some(dir) = path.parent().map(Path::to_path_buf)
        {
            if let Some(w) = self.watcher.as_mut() {
                w.retry(&dir);
            }
            let (mode, add) = match self.watcher.as_mut() {
                Some(w) => w.place(idx, &path),
                None => return,
            };
            self.services[idx].probe.mode = mode;
            if let Some(dir) = add {
                self.request_watch(dir);
            }
        }
    }
}
