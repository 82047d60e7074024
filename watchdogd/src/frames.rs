//! Reply frames to a client, shared by the request-reply loop (`connection`) and the streams
//! (`events --follow` there, `watch` in its own module): one response per frame, sent within a
//! deadline so a client that stops reading cannot hold its connection's task, and a reply too
//! large for a frame swapped for an error that says so rather than dropped.

use std::time::Duration;

use futures_util::SinkExt;
use protocol::codec::{self, CodecError};
use protocol::{ErrorKind, EventKind, EventRecord, Response};
use tokio_util::codec::{FramedWrite, LengthDelimitedCodec};

/// A reply that the client does not take within this long ends the connection.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// An error reply.
pub fn error(kind: ErrorKind, message: &str) -> Response {
    Response::Error {
        kind,
        message: message.to_owned(),
    }
}

/// The event a follower of the live events gets in place of the `missed` ones it fell too far
/// behind to receive; it goes on with the next.
pub fn lagged(missed: u64) -> EventRecord {
    EventRecord {
        at_ms: protocol::time::now_millis(),
        key: String::new(),
        kind: EventKind::Lagged,
        health: None,
        state: None,
        message: format!("this follower fell behind and missed {missed} events"),
    }
}

/// Sends one response, within [`SEND_TIMEOUT`]. A reply over the frame limit is replaced by an
/// error saying so (the connection stays usable), never dropped silently.
pub async fn send<W>(
    out: &mut FramedWrite<W, LengthDelimitedCodec>,
    response: &Response,
) -> Result<(), CodecError>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    send_encoded(out, codec::encode_response(response)).await
}

/// [`send`] for a reply already encoded (or that could not be).
pub async fn send_encoded<W>(
    out: &mut FramedWrite<W, LengthDelimitedCodec>,
    encoded: Result<Vec<u8>, CodecError>,
) -> Result<(), CodecError>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    let bytes = match encoded {
        Err(CodecError::FrameTooLarge { len, max }) => codec::encode_response(&error(
            ErrorKind::Internal,
            &format!(
                "the reply is {len} bytes, over the {max}-byte frame limit: ask for less (history --limit N, status KEY)"
            ),
        ))?,
        other => other?,
    };
    match tokio::time::timeout(
        SEND_TIMEOUT,
        out.send(tokio_util::bytes::Bytes::from(bytes)),
    )
    .await
    {
        Ok(sent) => Ok(sent?),
        Err(_) => Err(CodecError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the client did not take its reply",
        ))),
    }
}
