//! Maintenance windows (`watchdogctl off KEY --for 10m`): the service is off, and turned back
//! on by itself when the window ends.

use std::time::Duration;

use protocol::EventKind;

use super::{Service, Until};
use crate::clock::Now;
use crate::store::Record;
use crate::supervisor::effects::Effects;

impl Service {
    /// Opens a maintenance window of `length` (after the `off` it goes with was admitted).
    pub fn open_window(&mut self, length: Duration, now: &Now) -> Effects {
        let mut fx = Effects::default();
        let at = now.mono + length;
        let wall_ms = now.wall_ms_of(at);
        self.off_until = Some(Until { at, wall_ms });
        let until = protocol::time::format_millis(wall_ms);
        fx.note(tracing::Level::INFO, format!("off until {until}"));
        fx.records.push(Record::event(
            self.key(),
            EventKind::MaintenanceStarted,
            format!("off until {until}"),
            now.wall_ms(),
        ));
        fx.records.push(Record::State(self.saved(now)));
        fx
    }

    /// Whether its maintenance window has ended.
    pub fn window_over(&self, now: &Now) -> bool {
        self.off_until.is_some_and(|u| u.at <= now.mono)
    }

    /// Closes an ended maintenance window; the owner then turns the service on.
    pub fn close_window(&mut self, now: &Now) -> Effects {
        let mut fx = Effects::default();
        self.off_until = None;
        fx.note(
            tracing::Level::INFO,
            "maintenance window over; turning it back on",
        );
        fx.records.push(Record::event(
            self.key(),
            EventKind::MaintenanceOver,
            "maintenance window over: turned back on".into(),
            now.wall_ms(),
        ));
        fx
    }
}
