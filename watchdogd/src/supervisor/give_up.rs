//! The `on_give_up` hook: run once when a service is given up on, outside any pipeline (it
//! tells someone; it does not recover), bounded by `cleanup_timeout`, its outcome logged,
//! streamed live and written to the audit log.

use crate::store::Record;

use super::Supervisor;

impl Supervisor {
    /// Runs the `on_give_up` hook of service `idx`, once, outside any pipeline.
    pub(super) fn run_give_up_hook(&self, idx: usize) {
        let svc = &self.services[idx];
        let Some(hook) = svc.cfg().on_give_up.clone() else {
            return;
        };
        let process = svc.cfg().clone();
        let reason = svc.reason();
        let timeout = self.config.cleanup_timeout;
        let store = self.store.clone();
        let live = self.live.clone();
        let readers = self.readers.clone();
        tokio::spawn(async move {
            let result =
                crate::pipeline::run_hook(&readers, &process, &hook, &reason, timeout).await;
            let (kind, message) = match result {
                Ok(m) => (
                    protocol::EventKind::GiveUpHook,
                    format!("on_give_up ran: {m}"),
                ),
                Err(m) => (
                    protocol::EventKind::GiveUpHookFailed,
                    format!("on_give_up failed: {m}"),
                ),
            };
            if kind == protocol::EventKind::GiveUpHook {
                tracing::info!(target: "supervisor", "{}: {message}", process.key);
            } else {
                tracing::warn!(target: "supervisor", "{}: {message}", process.key);
            }
            let at_ms = protocol::time::now_millis();
            if live.receiver_count() > 0 {
                let _ = live.send(protocol::EventRecord {
                    at_ms,
                    key: process.key.clone(),
                    kind,
                    health: None,
                    state: None,
                    message: message.clone(),
                });
            }
            store.write(vec![Record::event(&process.key, kind, message, at_ms)]);
        });
    }
}
