//! A long-lived connection for `events --follow`: one request, then reply frames until the
//! daemon closes the connection.
//!
//! Unlike [`Client::call`] there is no reply timeout: a quiet system may send nothing for hours,
//! and the follower must still be there when something happens. The stream ends cleanly when the
//! daemon closes (or resets) the connection between frames; the user ends it with Ctrl-C, whose
//! default action is fine because nothing is left half-done. Over ssh the same holds: the remote
//! `dial-stdio` exits 0 when its daemon closes, and any other end of ssh is reported as an error.

use std::time::{Duration, Instant};

use protocol::codec::{CodecError, decode_response, encode_request};
use protocol::{Request, Response};

use crate::client::{CallError, Client};
use crate::transport::Connection;

/// An open request whose replies are read one frame at a time.
pub struct ResponseStream {
    client: Client,
    conn: Connection,
    /// When the stream was opened, for error messages.
    opened: Instant,
    /// Sending the request failed; reported only if the daemon sends nothing either.
    send_error: Option<CodecError>,
}

impl Client {
    /// Connects and sends `request`, leaving the replies to [`ResponseStream::next`].
    pub fn open_stream(&self, request: &Request) -> Result<ResponseStream, CallError> {
        let payload = encode_request(request).map_err(CallError::Encode)?;
        let mut conn = self.open(None)?;
        // As in `call`: the daemon may have refused and closed before reading, so a failed send
        // still reads what it wrote.
        let send_error = conn.send(&payload).err();
        Ok(ResponseStream {
            client: self.clone(),
            conn,
            opened: Instant::now(),
            send_error,
        })
    }
}

impl ResponseStream {
    /// The next reply, or `None` once the daemon has closed the connection between frames.
    pub fn next(&mut self) -> Result<Option<Response>, CallError> {
        let frame = match self.conn.recv(None) {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                if let Some(remote) = self.conn.failure() {
                    return Err(CallError::Remote(remote));
                }
                return match self.send_error.take() {
                    Some(e) => Err(self.fail(e)),
                    None => Ok(None),
                };
            }
            Err(e) => {
                return Err(match self.conn.failure() {
                    Some(remote) => CallError::Remote(remote),
                    None => self.fail(e),
                });
            }
        };
        // Something came back, so whatever happened to the send did not stop the daemon.
        self.send_error = None;
        decode_response(&frame)
            .map(Some)
            .map_err(|source| self.client.undecodable(source))
    }

    fn fail(&self, e: CodecError) -> CallError {
        self.client
            .classify(e, self.opened.elapsed(), None::<Duration>)
    }
}
