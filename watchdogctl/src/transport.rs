//! The byte pipe a call travels: the daemon's local socket, or an `ssh` child whose remote end
//! is `watchdogctl dial-stdio` next to the remote daemon.
//!
//! Both carry the same frames, so [`Client::call`](crate::client::Client::call) and the events
//! follower are written once against [`Connection`]. What differs is how an end is explained:
//! a socket that closes is simply closed, while an ssh child that closes has an exit status and
//! a stderr that say why (could not connect, no remote watchdogctl, no remote daemon), which
//! [`Connection::failure`] returns.

use std::time::Duration;

use interprocess::local_socket::{Stream, prelude::*};
use protocol::MAX_RESPONSE_FRAME;
use protocol::codec::{CodecError, write_frame};

use crate::frames::next_frame;
use crate::remote::failure::RemoteError;
use crate::remote::session::SshSession;

/// One open connection to a daemon.
pub enum Connection {
    /// The daemon's Unix socket.
    Local(Stream),
    /// ssh's stdin and stdout (boxed: a session is a few hundred bytes, a socket one fd).
    Ssh(Box<SshSession>),
}

impl Connection {
    /// Writes one request frame.
    pub fn send(&mut self, payload: &[u8]) -> Result<(), CodecError> {
        match self {
            Connection::Local(stream) => write_frame(stream, payload),
            Connection::Ssh(session) => session.send(payload),
        }
    }

    /// The next reply frame, waiting at most `timeout` (`None`: as long as it takes), or
    /// `Ok(None)` once the peer has closed the connection between frames.
    pub fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Vec<u8>>, CodecError> {
        match self {
            Connection::Local(stream) => {
                // Unix sockets reject a zero timeout, and zero would mean "no timeout" anyway.
                stream.set_recv_timeout(timeout.map(|t| t.max(Duration::from_millis(1))))?;
                next_frame(stream, MAX_RESPONSE_FRAME)
            }
            Connection::Ssh(session) => session.recv(timeout),
        }
    }

    /// After a receive timed out: the transport's own account of the silence (over ssh: ssh is
    /// ended, and whether it had connected is told), or `None` for a local socket.
    pub fn give_up(&mut self, after: Duration) -> Option<RemoteError> {
        match self {
            Connection::Local(_) => None,
            Connection::Ssh(session) => Some(session.give_up(after)),
        }
    }

    /// After the peer closed or broke the connection: the transport's own account of why,
    /// when it has one beyond "closed".
    pub fn failure(&mut self) -> Option<RemoteError> {
        match self {
            Connection::Local(_) => None,
            Connection::Ssh(session) => session.failure(),
        }
    }
}
