//! Reload: re-read the config file and apply it as a diff, or change nothing.
//!
//! The file is read on the blocking pool and validated whole; an invalid one is refused with
//! every problem listed, and the running config stays. A valid one is applied by key: new
//! services are monitored, removed ones are forgotten (their processes are left running, their
//! overrides dropped with a log line), changed ones take their new settings, and every key keeps
//! its failure count, intent, restart budget, give-up state and overrides. Settings bound at
//! start (socket, database, lock, logging, access) are reported as needing a restart.
//!
//! A removed service whose pipeline is running is not dropped on the spot: its pipeline is
//! cancelled at its next safe point and the service kept aside until it ends, so its run row is
//! closed and its callers get a true answer; a key added back meanwhile takes that service,
//! pipeline and all, back (so it never runs twice).

use std::collections::HashMap;
use std::sync::Arc;

use protocol::{ErrorKind, EventKind, ReloadReport, Response};

use super::effects::{Effects, Reply};
use super::event::LoadFailed;
use super::service::Service;
use super::{Event, Supervisor};
use crate::clock::Now;
use crate::config::{self, Config};
use crate::store::Record;

impl Supervisor {
    /// Reads the config file off the runtime; the result arrives as [`Event::ConfigLoaded`].
    pub(super) fn start_reload(&mut self, reply: Option<Reply>) {
        let path = self.config.source.clone();
        let events = self.events_tx.clone();
        tracing::info!(target: "supervisor", "reloading {}", path.display());
        tokio::spawn(async move {
            let result = match tokio::task::spawn_blocking(move || config::load(&path)).await {
                Ok(loaded) => loaded.map_err(LoadFailed::from),
                Err(e) => Err(LoadFailed::Reader(e)),
            };
            let result = Box::new(result);
            let _ = events.send(Event::ConfigLoaded { result, reply }).await;
        });
    }

    pub(super) fn on_config_loaded(
        &mut self,
        result: Result<config::Loaded, LoadFailed>,
        reply: Option<Reply>,
    ) {
        let response = match result {
            Err(why) => {
                tracing::error!(target: "supervisor", "reload refused, the running config stays: {why}");
                Response::Error {
                    kind: ErrorKind::InvalidConfig,
                    message: why.to_string(),
                }
            }
            Ok(loaded) => {
                for w in &loaded.warnings {
                    tracing::warn!(target: "config", "{w}");
                }
                let report = self.apply_config(loaded.config, loaded.warnings);
                let summary = format!(
                    "added {:?} removed {:?} changed {:?}",
                    report.added, report.removed, report.changed
                );
                tracing::info!(
                    target: "supervisor",
                    "reloaded: {summary}{}",
                    if report.needs_restart.is_empty() {
                        String::new()
                    } else {
                        format!("; needs a restart to apply: {}", report.needs_restart.join(", "))
                    }
                );
                self.audit(EventKind::Reloaded, summary);
                Response::Reload(report)
            }
        };
        if let Some(reply) = reply {
            self.replies.push((reply, response));
        }
    }

    fn apply_config(&mut self, mut new: Config, warnings: Vec<String>) -> ReloadReport {
        let old = &self.config;
        if old.socket_from_command_line {
            new.socket_path = old.socket_path.clone();
            new.lock_path = old.lock_path.clone();
            new.socket_from_command_line = true;
        }
        let needs_restart = bound_settings(old, &new);
        let now = Now::read();
        let mut previous: HashMap<String, Service> = std::mem::take(&mut self.services)
            .into_iter()
            .map(|s| (s.key().to_owned(), s))
            .collect();
        let (mut added, mut changed) = (Vec::new(), Vec::new());
        for (key, cfg) in &new.processes {
            let kept = previous.remove(key).or_else(|| self.retiring.remove(key));
            let svc = match kept {
                Some(mut svc) => {
                    if **svc.cfg() != **cfg {
                        changed.push(key.clone());
                        svc.reconfigure(cfg.clone());
                    }
                    svc
                }
                None => {
                    added.push(key.clone());
                    Service::new(cfg.clone(), None, &now)
                }
            };
            self.services.push(svc);
        }
        let mut removed: Vec<String> = previous.keys().cloned().collect();
        removed.sort();
        for (key, mut svc) in previous {
            self.remove(&key, &mut svc, &now);
            if svc.has_pipeline() {
                tracing::info!(target: "supervisor", "{key}: removed while a pipeline runs; it is cancelled and its callers answered when it ends");
                svc.cancel_pipeline();
                self.retiring.insert(key, svc);
            }
        }
        self.index = self
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.key().to_owned(), i))
            .collect();
        self.epoch += 1;
        for svc in &mut self.services {
            svc.probe.next = now.mono;
        }
        self.schedule.wake_at = now.mono;
        self.slots.set_limit(new.max_parallel_recoveries);
        self.place_all();
        self.config = Arc::new(new);
        self.sync_notify();
        self.dirty = true;
        self.finish_rounds();
        ReloadReport {
            added,
            removed,
            changed,
            needs_restart,
            warnings,
        }
    }

    /// What a reload's removal of `key` does: its callers are told, its watch ends, its
    /// overrides go (with a log line).
    fn remove(&mut self, key: &str, svc: &mut Service, now: &Now) {
        let gone = Response::Error {
            kind: ErrorKind::UnknownKey,
            message: format!("{key} was removed from the config by a reload"),
        };
        let mut fx: Effects = svc.drop_callers(&gone);
        if let (Some(pid), Some(w)) = (svc.exit_watch.take(), self.exits.as_mut()) {
            w.unwatch(pid, key);
        }
        if let Some(what) = svc.describe_overrides() {
            let message = format!("{key} left the config: its overrides ({what}) are dropped");
            fx.note(tracing::Level::INFO, message.clone());
            fx.records.push(Record::event(
                key,
                EventKind::OverrideDropped,
                message,
                now.wall_ms(),
            ));
            svc.clear_overrides();
            fx.records.push(Record::State(svc.saved(now)));
        }
        self.carry_out(key, fx);
    }
}

/// The global settings that changed but take effect only at the next daemon start.
fn bound_settings(old: &Config, new: &Config) -> Vec<String> {
    [
        ("socket_path", old.socket_path != new.socket_path),
        ("db_path", old.db_path != new.db_path),
        ("lock_path", old.lock_path != new.lock_path),
        ("log_dir", old.log_dir != new.log_dir),
        ("log_level", old.log_level != new.log_level),
        ("notify_dir", old.notify_dir() != new.notify_dir()),
        (
            "access settings (socket_mode, socket_group, control_*, read_*)",
            old.access != new.access,
        ),
        (
            "history_retention_days",
            old.history_retention != new.history_retention,
        ),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(name, _)| name.to_owned())
    .collect()
}
