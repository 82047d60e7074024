//! The `watch` stream behind `watchdogctl top`: one status, then what changes, as it changes.
//!
//! A dashboard needs every service's row kept current (pid, age, failures, restarts, last
//! recovery), not only the health and state changes the events stream carries. Rather than
//! have it poll `status`, the daemon diffs the snapshots it publishes anyway: each new snapshot
//! shares the `Arc` of every service that did not change, so the diff is a pointer comparison
//! per service, and only the changed rows travel. The first status and the changes come from
//! the same chain of snapshots, and the live events are subscribed to before the first status
//! is taken, so nothing falls between them.
//!
//! A slow client is never queued for: the snapshot channel keeps only the latest, so a client
//! that falls behind gets one diff covering everything it missed.

use std::sync::Arc;

use futures_util::StreamExt;
use protocol::{ServiceStatus, StatusChanges};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;

use crate::frames::{self, send};
use crate::supervisor::{Snapshot, SupervisorHandle};

/// Streams [`protocol::Response::Status`], then changes and events, until the client goes away
/// or the daemon stops.
pub async fn stream<R, W>(
    out: &mut FramedWrite<W, LengthDelimitedCodec>,
    frames: &mut FramedRead<R, LengthDelimitedCodec>,
    handle: &SupervisorHandle,
    shutdown: &CancellationToken,
) where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    use protocol::Response;
    use tokio::sync::broadcast::error::RecvError;
    let mut live = handle.subscribe();
    let mut snapshots = handle.watch();
    let mut last = snapshots.borrow_and_update().clone();
    let all = last
        .services
        .iter()
        .map(|s| ServiceStatus::clone(s))
        .collect();
    if send(out, &Response::Status(last.status_reply(all)))
        .await
        .is_err()
    {
        return;
    }
    loop {
        let response = tokio::select! {
            () = shutdown.cancelled() => return,
            // Anything from the client (or its going away) ends the stream.
            _ = frames.next() => return,
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = snapshots.borrow_and_update().clone();
                let changes = diff(&last, &now);
                last = now;
                match changes {
                    Some(c) => Response::Changes(c),
                    None => continue,
                }
            }
            event = live.recv() => match event {
                Ok(e) => Response::Event(e),
                Err(RecvError::Lagged(n)) => Response::Event(frames::lagged(n)),
                Err(RecvError::Closed) => return,
            },
        };
        if send(out, &response).await.is_err() {
            return;
        }
    }
}

/// What changed from `before` to `after`, or `None` when nothing a client shows did. Both
/// lists are sorted by key (the snapshot's order), so this is one merge pass; an unchanged
/// service is the same `Arc` in both.
pub fn diff(before: &Snapshot, after: &Snapshot) -> Option<StatusChanges> {
    let changes = diff_services(&before.services, &after.services);
    if changes.services.is_empty()
        && changes.removed.is_empty()
        && before.dropped_rows == after.dropped_rows
    {
        return None;
    }
    Some(StatusChanges {
        audit_rows_dropped: after.dropped_rows,
        ..changes
    })
}

fn diff_services(before: &[Arc<ServiceStatus>], after: &[Arc<ServiceStatus>]) -> StatusChanges {
    let mut changes = StatusChanges {
        services: Vec::new(),
        removed: Vec::new(),
        audit_rows_dropped: 0,
    };
    let (mut i, mut j) = (0, 0);
    while i < before.len() || j < after.len() {
        match (before.get(i), after.get(j)) {
            (Some(b), Some(a)) if b.key == a.key => {
                if !Arc::ptr_eq(b, a) && **b != **a {
                    changes.services.push(ServiceStatus::clone(a));
                }
                i += 1;
                j += 1;
            }
            (Some(b), Some(a)) if b.key < a.key => {
                changes.removed.push(b.key.clone());
                i += 1;
            }
            (Some(b), None) => {
                changes.removed.push(b.key.clone());
                i += 1;
            }
            (_, Some(a)) => {
                changes.services.push(ServiceStatus::clone(a));
                j += 1;
            }
            (None, None) => break,
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Health, ServiceState};

    fn svc(key: &str, pid: u32) -> Arc<ServiceStatus> {
        Arc::new(ServiceStatus {
            key: key.into(),
            display_name: String::new(),
            enabled: true,
            state: ServiceState::Running,
            health: Some(Health::Healthy),
            pid: Some(pid),
            heartbeat_age_ms: Some(0),
            consecutive_failures: 0,
            last_check_ms: Some(1),
            last_recovery: None,
            detail: String::new(),
            clock_skew_ms: None,
            restarts_in_window: 0,
            next_attempt_ms: None,
            off_until_ms: None,
            monitoring_override: None,
            actions_disabled: Vec::new(),
            status_text: None,
        })
    }

    fn keys(list: &[ServiceStatus]) -> Vec<(&str, Option<u32>)> {
        list.iter().map(|s| (s.key.as_str(), s.pid)).collect()
    }

    #[test]
    fn only_changed_added_and_removed_services_travel() {
        let (a, b, c) = (svc("a", 1), svc("b", 2), svc("c", 3));
        let before = vec![a.clone(), b.clone(), c.clone()];
        // Same Arcs: nothing.
        let d = diff_services(&before, &before);
        assert!(d.services.is_empty() && d.removed.is_empty());
        // b rebuilt with the same content (a cache miss) is not a change; c's new pid is.
        let after = vec![a.clone(), svc("b", 2), svc("c", 4)];
        let d = diff_services(&before, &after);
        assert_eq!(keys(&d.services), [("c", Some(4))]);
        assert!(d.removed.is_empty());
        // A reload removed a and c, added 0 and d.
        let after = vec![svc("0", 9), b.clone(), svc("d", 5)];
        let d = diff_services(&before, &after);
        assert_eq!(keys(&d.services), [("0", Some(9)), ("d", Some(5))]);
        assert_eq!(d.removed, ["a", "c"]);
        // From nothing, and to nothing.
        assert_eq!(diff_services(&[], &before).services.len(), 3);
        assert_eq!(diff_services(&before, &[]).removed, ["a", "b", "c"]);
    }
}
