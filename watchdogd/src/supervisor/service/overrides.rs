//! Runtime overrides: turning monitoring of a service, or one of its recovery actions, off and
//! on again without editing the config.
//!
//! The seed's menu saved such toggles into `config.json`; the daemon never rewrites its config,
//! so it keeps them as overrides beside the service's state, in the database: they survive
//! restarts and reloads, show in `status`, and go when the key leaves the config (with a log
//! line). Setting a toggle back to what the config says drops the override.

use protocol::EventKind;

use super::Service;
use crate::clock::Now;
use crate::store::Record;
use crate::supervisor::effects::Effects;

/// A toggle of a recovery action the service does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} has no recovery action {action:?}; its recovery_actions are: {}", known.join(", "))]
pub struct NoSuchRecoveryAction {
    pub key: String,
    pub action: String,
    pub known: Vec<String>,
}

impl Service {
    /// Monitoring on or off (`watchdogctl enable|disable KEY`).
    pub fn set_monitoring(&mut self, enabled: bool, now: &Now) -> Effects {
        let mut fx = Effects::default();
        let wanted = (enabled != self.cfg.enabled).then_some(enabled);
        if self.overrides.monitoring == wanted {
            return fx;
        }
        self.overrides.monitoring = wanted;
        let message = match wanted {
            Some(false) => "monitoring disabled at runtime (`watchdogctl enable` undoes it)".into(),
            Some(true) => {
                "monitoring enabled at runtime, though the config says enabled: false".into()
            }
            None => format!(
                "monitoring as configured again (enabled: {})",
                self.cfg.enabled
            ),
        };
        if !enabled {
            // Not monitored: nothing counts, nothing is recovered.
            self.failures = 0;
        }
        self.record(&mut fx, message, now);
        fx
    }

    /// One recovery action off or on (`watchdogctl actions KEY --disable|--enable ACTION`).
    pub fn set_action(
        &mut self,
        action: &str,
        enabled: bool,
        now: &Now,
    ) -> Result<Effects, NoSuchRecoveryAction> {
        if !self.cfg.recovery_actions.iter().any(|a| a == action) {
            return Err(NoSuchRecoveryAction {
                key: self.cfg.key.clone(),
                action: action.to_owned(),
                known: self.cfg.recovery_actions.clone(),
            });
        }
        let mut fx = Effects::default();
        let changed = if enabled {
            self.overrides.actions_off.remove(action)
        } else {
            self.overrides.actions_off.insert(action.to_owned())
        };
        if changed {
            let message = if enabled {
                format!("recovery action {action} enabled again")
            } else {
                format!("recovery action {action} disabled at runtime")
            };
            self.record(&mut fx, message, now);
        }
        Ok(fx)
    }

    /// Whether it has any override (for the log line when its key leaves the config).
    pub fn describe_overrides(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(m) = self.overrides.monitoring {
            parts.push(format!("monitoring {}", if m { "on" } else { "off" }));
        }
        if !self.overrides.actions_off.is_empty() {
            let actions: Vec<&str> = self
                .overrides
                .actions_off
                .iter()
                .map(String::as_str)
                .collect();
            parts.push(format!("actions off: {}", actions.join(", ")));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Drops every override (its key left the config).
    pub fn clear_overrides(&mut self) {
        self.overrides = super::Overrides::default();
    }

    fn record(&mut self, fx: &mut Effects, message: String, now: &Now) {
        fx.note(tracing::Level::INFO, message.clone());
        fx.records.push(Record::event(
            self.key(),
            EventKind::OverrideChanged,
            message,
            now.wall_ms(),
        ));
        self.persisted = self.state_fingerprint();
        fx.records.push(Record::State(self.saved(now)));
    }
}
