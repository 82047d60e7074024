//! One client connection: frames in, requests to the supervisor, frames out.
//!
//! Every failure here is the client's or the socket's, never the daemon's: an oversized or
//! undecodable frame, another protocol version, an idle client. Each gets an error reply where
//! one can still be sent, a warning in the log, and the connection is closed; nothing else is
//! affected. Reading and writing use separate codecs because requests are capped far lower
//! than responses.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::StreamCommon as _;
use protocol::codec;
use protocol::{ErrorKind, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME, Request, Response, RunRequest};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;

use crate::access::{self, AccessPolicy, Peer, Right};
use crate::answers;
use crate::frames::{self, error, send, send_encoded};
use crate::refusals::{RefusalKind, Refusals, Report};
use crate::supervisor::{Act, Command, SupervisorHandle};

/// A client that sends nothing for this long is disconnected.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// What every connection shares: the supervisor, the access rules, the refusal limiter.
pub struct Shared {
    pub handle: SupervisorHandle,
    pub policy: Arc<AccessPolicy>,
    pub refusals: std::sync::Mutex<Refusals>,
}

/// A connection's place under the connection cap.
pub enum Permit {
    /// One of the ordinary places.
    General(OwnedSemaphorePermit),
    /// One of the places kept for root and control users, so that read-only clients (many
    /// `events --follow`, say) can never lock them out.
    Reserve(OwnedSemaphorePermit),
    /// None left.
    Full,
}

impl Shared {
    /// Reports a refusal of `uid`: now, or counted for the minute's summary (see
    /// [`crate::refusals`]). Permission refusals are audited, the rest only logged.
    pub fn refused(&self, uid: u32, kind: RefusalKind, message: &str) {
        let (report, summary) = self
            .refusals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .note(uid, kind, tokio::time::Instant::now());
        if let Some(s) = summary {
            self.summarize(&s);
        }
        if report == Report::Now {
            tracing::warn!(target: "server", "{message}");
            if kind == RefusalKind::PermissionDenied {
                self.handle
                    .audit(protocol::EventKind::PermissionDenied, message.to_owned());
            }
        }
    }

    /// Logs (and for permission refusals audits) a minute's summary.
    pub fn summarize(&self, s: &crate::refusals::Summary) {
        let message = format!(
            "uid {} was refused {} more times ({}) in the last {}s",
            s.uid,
            s.more,
            s.kind,
            s.over.as_secs()
        );
        tracing::warn!(target: "server", "{message}");
        if s.kind == RefusalKind::PermissionDenied {
            self.handle
                .audit(protocol::EventKind::PermissionDenied, message);
        }
    }
}

pub async fn serve(
    stream: Stream,
    shared: Arc<Shared>,
    permit: Permit,
    shutdown: CancellationToken,
) {
    let handle = &shared.handle;
    let policy = &shared.policy;
    let peer = match stream.peer_creds() {
        Ok(c) => Peer {
            uid: c.euid().unwrap_or(u32::MAX),
            gid: c.egid().unwrap_or(u32::MAX),
            pid: c.pid(),
        },
        Err(e) => {
            tracing::warn!(target: "server", "cannot read peer credentials: {e}; closing");
            return;
        }
    };
    // The peer's supplementary groups, looked up at most once and only when the lists use them.
    let mut groups: Option<Vec<u32>> = None;
    let (rx, tx) = tokio::io::split(stream);
    let mut frames = FramedRead::new(
        rx,
        LengthDelimitedCodec::builder()
            .max_frame_length(MAX_REQUEST_FRAME)
            .new_codec(),
    );
    let mut out = FramedWrite::new(
        tx,
        LengthDelimitedCodec::builder()
            .max_frame_length(MAX_RESPONSE_FRAME)
            .new_codec(),
    );
    let privileged = |groups: &[u32]| policy.allows(&peer, groups, Right::Control);
    let admitted = match permit {
        Permit::General(p) => Some(p),
        Permit::Reserve(p) => {
            if policy.uses_groups() && peer.uid != 0 {
                groups = Some(peer_groups(peer).await);
            }
            privileged(groups.as_deref().unwrap_or(&[peer.gid])).then_some(p)
        }
        Permit::Full => None,
    };
    let Some(_permit) = admitted else {
        shared.refused(
            peer.uid,
            RefusalKind::TooManyConnections,
            &format!(
                "connection of uid {} refused: too many connections already open",
                peer.uid
            ),
        );
        let _ = send(
            &mut out,
            &error(ErrorKind::Unavailable, "too many connections; try again"),
        )
        .await;
        return;
    };
    loop {
        let frame = tokio::select! {
            () = shutdown.cancelled() => return,
            f = tokio::time::timeout(IDLE_TIMEOUT, frames.next()) => f,
        };
        let payload = match frame {
            Err(_) => {
                tracing::debug!(target: "server", "closing idle connection");
                return;
            }
            Ok(None) => return,
            Ok(Some(Err(e))) => {
                shared.refused(
                    peer.uid,
                    RefusalKind::BadRequest,
                    &format!("bad frame from uid {}: {e}", peer.uid),
                );
                let _ = send(
                    &mut out,
                    &error(ErrorKind::BadRequest, &format!("bad frame: {e}")),
                )
                .await;
                return;
            }
            Ok(Some(Ok(p))) => p,
        };
        let request = match codec::decode_request(&payload) {
            Ok(r) => r,
            Err(e) => {
                shared.refused(
                    peer.uid,
                    RefusalKind::BadRequest,
                    &format!("refusing a request of uid {}: {e}", peer.uid),
                );
                let _ = send(&mut out, &error(e.kind(), &e.to_string())).await;
                return;
            }
        };
        tracing::debug!(target: "server", "request {request:?} from uid {}", peer.uid);
        let right = if request.is_mutating() {
            Right::Control
        } else {
            Right::Read
        };
        if groups.is_none() && policy.uses_groups() && peer.uid != 0 {
            groups = Some(peer_groups(peer).await);
        }
        if !policy.allows(&peer, groups.as_deref().unwrap_or(&[peer.gid]), right) {
            let message = format!(
                "permission denied: uid {} may not {} (needs {} rights: see control_users/read_users in the config)",
                peer.uid,
                request.name(),
                right.as_str()
            );
            shared.refused(peer.uid, RefusalKind::PermissionDenied, &message);
            if send(&mut out, &error(ErrorKind::PermissionDenied, &message))
                .await
                .is_err()
            {
                return;
            }
            continue;
        }
        let response = match request {
            // The whole table, encoded from the snapshot itself (no copy of every status).
            Request::Status { key: None } => {
                let snap = handle.snapshot();
                let view = codec::StatusView {
                    daemon_version: protocol::VERSION,
                    daemon_pid: std::process::id(),
                    services: &snap.services,
                    audit_rows_dropped: snap.dropped_rows,
                    daemon_started_ms: snap.daemon.started_ms,
                };
                let bytes = codec::encode_status(&view);
                drop(snap);
                if let Err(e) = send_encoded(&mut out, bytes).await {
                    tracing::debug!(target: "server", "cannot reply: {e}");
                    return;
                }
                continue;
            }
            Request::Events => return follow(&mut out, &mut frames, handle, &shutdown).await,
            Request::Watch => {
                return crate::watch::stream(&mut out, &mut frames, handle, &shutdown).await;
            }
            other => answer(handle, other).await,
        };
        if let Err(e) = send(&mut out, &response).await {
            tracing::debug!(target: "server", "cannot reply: {e}");
            return;
        }
    }
}

/// Streams live events until the client goes away (or the daemon stops). A follower that falls
/// behind is told how many events it missed, and goes on.
async fn follow<R, W>(
    out: &mut FramedWrite<W, LengthDelimitedCodec>,
    frames: &mut FramedRead<R, LengthDelimitedCodec>,
    handle: &SupervisorHandle,
    shutdown: &CancellationToken,
) where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::sync::broadcast::error::RecvError;
    let mut live = handle.subscribe();
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => return,
            // Anything from the client (or its going away) ends the stream.
            _ = frames.next() => return,
            e = live.recv() => e,
        };
        let event = match event {
            Ok(e) => e,
            Err(RecvError::Lagged(n)) => frames::lagged(n),
            Err(RecvError::Closed) => return,
        };
        if send(out, &Response::Event(event)).await.is_err() {
            return;
        }
    }
}

/// The answer to one request: read ones from the snapshot and the database right here, the
/// rest as a [`Command`] to the owner. The only place the wire's request type is matched.
async fn answer(handle: &SupervisorHandle, request: Request) -> Response {
    use std::time::Duration;
    let act = |key: String, act: Act| move |reply| Command::Act { key, act, reply };
    let bulk = |act: Act| move |reply| Command::Bulk { act, reply };
    match request {
        Request::Status { key } => handle.status(key.as_deref()),
        Request::History(h) => answers::history(handle, h).await,
        Request::Detail { key } => answers::detail(handle, key).await,
        Request::Metrics => answers::metrics(handle),
        Request::Version => answers::version(handle),
        // Answered by `serve` itself, as a stream.
        Request::Events => error(ErrorKind::BadRequest, "events is a stream"),
        Request::Watch => error(ErrorKind::BadRequest, "watch is a stream"),
        Request::On { key } => handle.ask(act(key, Act::On)).await,
        Request::Off { key } => handle.ask(act(key, Act::Off)).await,
        Request::OffFor { key, for_ms } => {
            handle
                .ask(act(key, Act::OffFor(Duration::from_millis(for_ms))))
                .await
        }
        Request::Restart { key } => handle.ask(act(key, Act::Restart)).await,
        Request::Run(RunRequest {
            key: Some(key),
            action,
        }) => handle.ask(act(key, Act::Run(action))).await,
        Request::Run(RunRequest { key: None, action }) => handle.ask(bulk(Act::Run(action))).await,
        Request::StartAll => handle.ask(bulk(Act::On)).await,
        Request::StopAll => handle.ask(bulk(Act::Off)).await,
        Request::RestartAll => handle.ask(bulk(Act::Restart)).await,
        Request::Check => handle.ask(|reply| Command::Check { reply }).await,
        Request::Reload => {
            handle
                .ask(|reply| Command::Reload { reply: Some(reply) })
                .await
        }
        Request::Wait(w) => {
            handle
                .ask(|reply| Command::Wait {
                    key: w.key,
                    timeout: Duration::from_millis(w.timeout_ms),
                    not_pid: w.not_pid,
                    reply,
                })
                .await
        }
        Request::Monitor(m) => {
            handle
                .ask(|reply| Command::Monitor {
                    key: m.key,
                    enabled: m.enabled,
                    reply,
                })
                .await
        }
        Request::ToggleAction(t) => {
            handle
                .ask(|reply| Command::ToggleAction {
                    key: t.key,
                    action: t.action,
                    enabled: t.enabled,
                    reply,
                })
                .await
        }
    }
}

/// The peer's groups (blocking user-database lookups, off the runtime).
async fn peer_groups(peer: Peer) -> Vec<u32> {
    tokio::task::spawn_blocking(move || access::peer_groups(&peer))
        .await
        .unwrap_or_default()
}
