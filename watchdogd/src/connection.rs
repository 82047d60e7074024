//! One client connection: frames in, requests to the supervisor, frames out.
//!
//! Every failure here is the client's or the socket's, never the daemon's: an oversized or
//! undecodable frame, another protocol version, an idle client. Each gets an error reply where
//! one can still be sent, a warning in the log, and the connection is closed; nothing else is
//! affected. Reading and writing use separate codecs because requests are capped far lower
//! than responses.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use interprocess::local_socket::tokio::Stream;
use protocol::codec::{self, CodecError};
use protocol::{ErrorKind, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME, Response};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;

/// A client that sends nothing for this long is disconnected.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn serve(
    stream: Stream,
    handle: crate::supervisor::SupervisorHandle,
    permit: Option<OwnedSemaphorePermit>,
    shutdown: CancellationToken,
) {
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
    if permit.is_none() {
        tracing::warn!(target: "server", "connection refused: {} connections already open", crate::server::MAX_CONNECTIONS);
        let _ = send(
            &mut out,
            &error(ErrorKind::Unavailable, "too many connections; try again"),
        )
        .await;
        return;
    }
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
                tracing::warn!(target: "server", "bad frame from client: {e}");
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
                tracing::warn!(target: "server", "refusing request: {e}");
                let _ = send(&mut out, &error(e.kind(), &e.to_string())).await;
                return;
            }
        };
        tracing::debug!(target: "server", "request {request:?}");
        let response = handle.request(request).await;
        if let Err(e) = send(&mut out, &response).await {
            tracing::debug!(target: "server", "cannot reply: {e}");
            return;
        }
    }
}

fn error(kind: ErrorKind, message: &str) -> Response {
    Response::Error {
        kind,
        message: message.to_owned(),
    }
}

async fn send<W>(
    out: &mut FramedWrite<W, LengthDelimitedCodec>,
    response: &Response,
) -> Result<(), CodecError>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    let bytes = codec::encode_response(response)?;
    out.send(tokio_util::bytes::Bytes::from(bytes)).await?;
    Ok(())
}
