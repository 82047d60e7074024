//! Reload: re-read the config file and apply it as a diff, or change nothing.
//!
//! The file is read on the blocking pool and validated whole; an invalid one is refused with
//! every problem listed, and the running config stays. A valid one is applied by key: new
//! services are monitored, removed ones are forgotten (their processes are left running),
//! changed ones take their new settings, and every key keeps its failure count, intent,
//! restart budget and give-up state. Settings bound at start (socket, database, lock, logging)
//! are reported as needing a restart. Services are renumbered, so the epoch is bumped and check
//! results dispatched before the reload are dropped (the services are re-checked at once).

use std::collections::HashMap;
use std::sync::Arc;

use protocol::{ErrorKind, ReloadReport, Response};
use tokio::time::Instant;

use super::state::{Reply, Service};
use super::{Event, Supervisor};
use crate::config::{self, Config};
use crate::store::Record;

impl Supervisor {
    /// Reads the config file off the runtime; the result arrives as [`Event::ConfigLoaded`].
    pub(super) fn start_reload(&mut self, reply: Option<Reply>) {
        let path = self.config.source.clone();
        let events = self.events_tx.clone();
        tracing::info!(target: "supervisor", "reloading {}", path.display());
        tokio::spawn(async move {
            let result =
                tokio::task::spawn_blocking(move || config::load(&path).map_err(|e| e.to_string()))
                    .await
                    .unwrap_or_else(|e| Err(format!("config reader failed: {e}")));
            let result = Box::new(result);
            let _ = events.send(Event::ConfigLoaded { result, reply }).await;
        });
    }

    pub(super) fn on_config_loaded(
        &mut self,
        result: Result<config::Loaded, String>,
        reply: Option<Reply>,
    ) {
        let response = match result {
            Err(message) => {
                tracing::error!(target: "supervisor", "reload refused, the running config stays: {message}");
                Response::Error {
                    kind: ErrorKind::InvalidConfig,
                    message,
                }
            }
            Ok(loaded) => {
                for w in &loaded.warnings {
                    tracing::warn!(target: "config", "{w}");
                }
                let report = self.apply(loaded.config, loaded.warnings);
                tracing::info!(
                    target: "supervisor",
                    "reloaded: added [{}], removed [{}], changed [{}]{}",
                    report.added.join(", "),
                    report.removed.join(", "),
                    report.changed.join(", "),
                    if report.needs_restart.is_empty() {
                        String::new()
                    } else {
                        format!("; needs a restart to apply: {}", report.needs_restart.join(", "))
                    }
                );
                self.pending.push(Record::Event {
                    key: String::new(),
                    kind: "reloaded",
                    message: format!(
                        "added {:?} removed {:?} changed {:?}",
                        report.added, report.removed, report.changed
                    ),
                    at_ms: protocol::time::now_millis(),
                });
                self.emit_for(
                    "",
                    protocol::EventKind::Reloaded,
                    None,
                    None,
                    format!(
                        "added {:?} removed {:?} changed {:?}",
                        report.added, report.removed, report.changed
                    ),
                );
                Response::Reload(report)
            }
        };
        if let Some(reply) = reply {
            let _ = reply.send(response);
        }
    }

    fn apply(&mut self, mut new: Config, warnings: Vec<String>) -> ReloadReport {
        let old = &self.config;
        if old.socket_from_command_line {
            new.socket_path = old.socket_path.clone();
            new.lock_path = old.lock_path.clone();
            new.socket_from_command_line = true;
        }
        let mut needs_restart = Vec::new();
        for (name, differs) in [
            ("socket_path", old.socket_path != new.socket_path),
            ("db_path", old.db_path != new.db_path),
            ("lock_path", old.lock_path != new.lock_path),
            ("log_dir", old.log_dir != new.log_dir),
            ("log_level", old.log_level != new.log_level),
            (
                "access settings (socket_mode, socket_group, control_*, read_*)",
                old.access != new.access,
            ),
            (
                "history_retention_days",
                old.history_retention != new.history_retention,
            ),
        ] {
            if differs {
                needs_restart.push(name.to_owned());
            }
        }
        let now = Instant::now();
        let mut previous: HashMap<String, Service> = std::mem::take(&mut self.services)
            .into_iter()
            .map(|s| (s.cfg.key.clone(), s))
            .collect();
        let (mut added, mut changed) = (Vec::new(), Vec::new());
        for (key, cfg) in &new.processes {
            let svc = match previous.remove(key) {
                Some(mut svc) => {
                    if *svc.cfg != **cfg {
                        changed.push(key.clone());
                        svc.cfg = cfg.clone();
                        svc.heartbeat_owner =
                            cfg.user.as_deref().and_then(crate::process::user_uid);
                    }
                    svc
                }
                None => {
                    added.push(key.clone());
                    Service::new(cfg.clone(), None, now)
                }
            };
            self.services.push(svc);
        }
        let mut removed: Vec<String> = previous.keys().cloned().collect();
        removed.sort();
        for (key, svc) in previous {
            let message = format!("{key} was removed from the config by a reload");
            for w in svc.waiters {
                let _ = w.reply.send(Response::Error {
                    kind: ErrorKind::UnknownKey,
                    message: message.clone(),
                });
            }
            if let Some((_, replies)) = svc.queued {
                for r in replies {
                    let _ = r.send(Response::Error {
                        kind: ErrorKind::UnknownKey,
                        message: message.clone(),
                    });
                }
            }
            if let Some((_, watch)) = &svc.exit_watch {
                watch.cancel();
            }
            if svc.pipeline.is_some() {
                tracing::info!(target: "supervisor", "{key}: removed while a pipeline runs; it finishes on its own");
            }
        }
        self.index = self
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.cfg.key.clone(), i))
            .collect();
        self.epoch += 1;
        for svc in &mut self.services {
            svc.checking = false;
            svc.next_check = now;
        }
        self.wake_at = now;
        self.config = Arc::new(new);
        self.dirty = true;
        ReloadReport {
            added,
            removed,
            changed,
            needs_restart,
            warnings,
        }
    }
}
