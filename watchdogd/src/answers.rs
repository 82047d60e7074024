//! Answers to read-only requests that need no owner round trip: history and the detail view
//! (from the database, on the blocking pool), metrics and version (from the snapshot).

use protocol::{
    ErrorKind, HistoryRequest, PROTOCOL_VERSION, Response, ServiceDetail, VersionReply,
};

use crate::heartbeat;
use crate::metrics::{self, Format};
use crate::store::history;
use crate::supervisor::SupervisorHandle;

/// Entries of history shown in the detail view.
const DETAIL_HISTORY: u32 = 10;
/// How long the detail view waits for a read of the heartbeat.
const DETAIL_READ: std::time::Duration = std::time::Duration::from_secs(1);

pub async fn history(handle: &SupervisorHandle, req: HistoryRequest) -> Response {
    let snap = handle.snapshot();
    if let Some(key) = &req.key
        && snap.services.binary_search_by(|s| s.key.cmp(key)).is_err()
        && !snap.config.processes.contains_key(key)
    {
        return crate::supervisor::unknown_key(key);
    }
    let db = snap.config.db_path.clone();
    match tokio::task::spawn_blocking(move || history::query(&db, &req)).await {
        Ok(Ok(entries)) => Response::History(entries),
        Ok(Err(e)) => Response::Error {
            kind: ErrorKind::Internal,
            message: format!("cannot read the audit log: {e}"),
        },
        Err(e) => Response::Error {
            kind: ErrorKind::Internal,
            message: format!("history reader failed: {e}"),
        },
    }
}

pub async fn detail(handle: &SupervisorHandle, key: String) -> Response {
    let snap = handle.snapshot();
    let Some(status) = snap
        .service(&key)
        .map(|s| protocol::ServiceStatus::clone(s))
    else {
        return crate::supervisor::unknown_key(&key);
    };
    let Some(cfg) = snap.config.processes.get(&key).cloned() else {
        return crate::supervisor::unknown_key(&key);
    };
    let db = snap.config.db_path.clone();
    // Anyone with read rights sees this: environment values may be secrets.
    let mut shown = cfg.to_json();
    if let Some(serde_json::Value::Object(env)) = shown.get_mut("env") {
        for value in env.values_mut() {
            *value = serde_json::Value::String("<redacted>".into());
        }
    }
    let config_json = serde_json::to_string_pretty(&shown).unwrap_or_default();
    let req = HistoryRequest {
        key: Some(key),
        limit: DETAIL_HISTORY,
        since_ms: None,
    };
    // The reader threads answer at once for a file system known to hang, and the read is
    // bounded besides: the detail view answers whatever the file system does.
    // With `user`, only that user's file is shown: never what a link points root at.
    let file = match cfg
        .heartbeat_path
        .clone()
        .filter(|_| cfg.heartbeat.uses_file())
    {
        Some(path) => {
            let user = cfg.user.clone();
            let owner = tokio::task::spawn_blocking(move || {
                user.as_deref().and_then(crate::process::user_uid)
            })
            .await
            .unwrap_or(None);
            let beat = match handle
                .readers()
                .read_within(path.clone(), owner, None, DETAIL_READ)
                .await
            {
                heartbeat::Reading::Missing => format!("(no file at {})", path.display()),
                heartbeat::Reading::Corrupt(why) => format!("(unreadable: {why})"),
                heartbeat::Reading::Unreadable(why) => format!("({why})"),
                heartbeat::Reading::Beat(b) => b.heartbeat.to_json(),
            };
            Some((
                format!(
                    "file {}, {}",
                    path.display(),
                    snap.mode(&cfg.key)
                        .map_or_else(|| "not yet placed".to_owned(), |m| m.describe())
                ),
                beat,
            ))
        }
        None => None,
    };
    let notify = cfg
        .heartbeat
        .uses_notify()
        .then(|| match handle.notify().slot(&cfg.key) {
            Some(slot) => slot.describe(&crate::clock::Now::read()),
            None => (
                "notify socket (not made yet)".to_owned(),
                "(nothing received)".to_owned(),
            ),
        });
    let (heartbeat_source, beat) = match (file, notify) {
        (Some(f), Some(n)) => (format!("{} and {}", f.0, n.0), format!("{}\n{}", f.1, n.1)),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => ("none".to_owned(), String::new()),
    };
    let history = tokio::task::spawn_blocking(move || {
        // The detail view is still worth showing without history: say why it is missing.
        history::query(&db, &req).unwrap_or_else(|e| {
            tracing::warn!(target: "server", "detail view: cannot read the audit log: {e}");
            vec![protocol::HistoryEntry {
                kind: protocol::HistoryKind::Event,
                key: req.key.clone().unwrap_or_default(),
                at_ms: protocol::time::now_millis(),
                health: None,
                pid: None,
                failures: None,
                trigger: None,
                outcome: "audit_log_unreadable".into(),
                finished_ms: None,
                steps: Vec::new(),
                message: format!("cannot read the audit log: {e}"),
            }]
        })
    })
    .await
    .unwrap_or_default();
    Response::Detail(Box::new(ServiceDetail {
        status,
        config_json,
        heartbeat: beat,
        history,
        heartbeat_source,
    }))
}

pub fn metrics(handle: &SupervisorHandle) -> Response {
    Response::Metrics(metrics::render(&handle.snapshot(), Format::OpenMetrics))
}

pub fn version(handle: &SupervisorHandle) -> Response {
    Response::Version(VersionReply {
        daemon_version: protocol::VERSION.to_owned(),
        protocol: PROTOCOL_VERSION,
        daemon_pid: std::process::id(),
        started_ms: handle.snapshot().daemon.started_ms,
    })
}
