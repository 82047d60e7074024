//! A long-lived connection for `events --follow`: one request, then reply frames until the
//! daemon closes the connection.
//!
//! Unlike [`Client::call`] there is no reply timeout: a quiet system may send nothing for hours,
//! and the follower must still be there when something happens. The stream ends cleanly when the
//! daemon closes (or resets) the connection between frames; the user ends it with Ctrl-C, whose
//! default action is fine because nothing is left half-done.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use interprocess::local_socket::{Stream, prelude::*};
use protocol::codec::{CodecError, decode_response, encode_request, read_frame, write_frame};
use protocol::{MAX_RESPONSE_FRAME, Request, Response};

use crate::client::{CallError, Client};

/// An open request whose replies are read one frame at a time.
pub struct ResponseStream {
    client: Client,
    stream: Stream,
    /// When the stream was opened, for error messages.
    opened: Instant,
    /// Sending the request failed; reported only if the daemon sends nothing either.
    send_error: Option<CodecError>,
}

impl Client {
    /// Connects and sends `request`, leaving the replies to [`ResponseStream::next`].
    pub fn open_stream(&self, request: &Request) -> Result<ResponseStream, CallError> {
        let payload = encode_request(request).map_err(CallError::Encode)?;
        let mut stream = self.connect()?;
        stream.set_recv_timeout(None).map_err(|e| self.io(e))?;
        // As in `call`: the daemon may have refused and closed before reading, so a failed send
        // still reads what it wrote.
        let send_error = write_frame(&mut stream, &payload).err();
        Ok(ResponseStream {
            client: self.clone(),
            stream,
            opened: Instant::now(),
            send_error,
        })
    }
}

impl ResponseStream {
    /// The next reply, or `None` once the daemon has closed the connection between frames.
    pub fn next(&mut self) -> Result<Option<Response>, CallError> {
        let mut first = [0u8; 1];
        let n = loop {
            match self.stream.read(&mut first) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_close(&e) => break 0,
                Err(e) => return Err(self.fail(CodecError::Io(e))),
            }
        };
        if n == 0 {
            return match self.send_error.take() {
                Some(e) => Err(self.fail(e)),
                None => Ok(None),
            };
        }
        let frame = read_frame(
            &mut (&first[..]).chain(&mut self.stream),
            MAX_RESPONSE_FRAME,
        )
        .map_err(|e| self.fail(e))?;
        // Something came back, so whatever happened to the send did not stop the daemon.
        self.send_error = None;
        decode_response(&frame)
            .map(Some)
            .map_err(|source| CallError::Decode {
                socket: self.client.socket().to_path_buf(),
                source,
            })
    }

    fn fail(&self, e: CodecError) -> CallError {
        self.client
            .classify(e, self.opened.elapsed(), None::<Duration>)
    }
}

/// A reset or a closed pipe between frames is the daemon going away, not a failure.
fn is_close(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}
