//! Making one call: connect, one request frame, one reply frame (the socket is found in
//! `socket`).
//!
//! The client is deliberately blocking and single-shot (no tokio): a call is a few syscalls, so
//! `watchdogctl status` stays around a millisecond. A call goes to a [`Target`]: the local
//! socket, or a remote daemon through ssh (see `remote`); both speak the same frames over a
//! [`Connection`]. Every failure is classified here, once, into the few cases a user can act on
//! (not running, permission, closed, incompatible, ssh's own reasons), so commands only decide
//! what to print.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use interprocess::ConnectWaitMode;
use interprocess::local_socket::{ConnectOptions, GenericFilePath, Stream, prelude::*};
use protocol::codec::{CodecError, decode_response, encode_request};
use protocol::{Request, Response};

use crate::exit::{Exit, Failure};
use crate::remote::failure::RemoteError;
use crate::remote::session::SshSession;
use crate::remote::ssh::SshTarget;
use crate::transport::Connection;

/// How long to wait for the daemon to accept a connection (only a full backlog makes this wait).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a call over ssh may take in all when its caller sets no reply timeout (actions and
/// `check`, whose pipelines only the daemon bounds). Locally such a call waits as long as the
/// daemon works; over ssh a silent host must not hold a fleet command forever. ssh's own
/// timeouts catch a host that does not answer within seconds; this catches a remote daemon or
/// client that stays silent on a live connection.
pub const REMOTE_CALL_LIMIT: Duration = Duration::from_secs(300);

/// Why a call produced no reply. `at` names the daemon: its socket, or the host.
#[derive(Debug)]
pub enum CallError {
    /// Connecting failed: no socket file, a stale one, or no listener. `chosen`: how the socket
    /// was chosen ([`crate::socket::SocketSource::explain`]), when known.
    Connect {
        socket: PathBuf,
        source: io::Error,
        chosen: Option<String>,
    },
    /// The path cannot name a Unix socket (e.g. longer than `sun_path`).
    BadPath { socket: PathBuf, source: io::Error },
    /// The socket's mode does not let us in.
    PermissionDenied { socket: PathBuf, source: io::Error },
    /// The daemon closed the connection (or reset it) before replying.
    Closed { at: String },
    /// No reply within the allowed time.
    NoReply { at: String, after: Duration },
    /// Another I/O error during the exchange.
    Io { at: String, source: io::Error },
    /// The request could not be encoded (a local bug or an oversized key).
    Encode(CodecError),
    /// The reply could not be read as a `Response`: another protocol version.
    Decode {
        at: String,
        source: CodecError,
        /// It came over ssh, where a remote shell startup file printing to stdout is the other
        /// usual suspect.
        remote: bool,
    },
    /// ssh, the remote shell or the remote `dial-stdio` said why there is no reply.
    Remote(RemoteError),
}

impl CallError {
    /// The reason alone, without the socket, for `--version`'s one-line report.
    pub fn cause(&self) -> String {
        match self {
            CallError::Connect { source, .. } | CallError::Io { source, .. } => source.to_string(),
            CallError::BadPath { source, .. } => format!("invalid socket path: {source}"),
            CallError::PermissionDenied { source, .. } => format!("not allowed: {source}"),
            CallError::Closed { .. } => "closed the connection before replying".to_owned(),
            CallError::NoReply { after, .. } => format!("no reply within {}s", after.as_secs()),
            CallError::Encode(e) => e.to_string(),
            CallError::Decode { source, .. } => {
                format!("cannot read its reply: {source}; is it another version?")
            }
            CallError::Remote(e) => e.to_string(),
        }
    }

    /// Whether the call ran out of time (rather than being refused or cut).
    pub fn timed_out(&self) -> bool {
        matches!(
            self,
            CallError::NoReply { .. } | CallError::Remote(RemoteError::NoReply { .. })
        )
    }

    /// The exit this failure leads to.
    pub fn exit(&self) -> Exit {
        match self {
            CallError::BadPath { .. }
            | CallError::PermissionDenied { .. }
            | CallError::Encode(_) => Exit::Usage,
            CallError::Connect { .. }
            | CallError::Closed { .. }
            | CallError::NoReply { .. }
            | CallError::Io { .. }
            | CallError::Decode { .. } => Exit::Unreachable,
            CallError::Remote(e) => e.exit(),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Connect {
                socket,
                source,
                chosen,
            } => {
                write!(f, "cannot reach watchdogd at {}", socket.display())?;
                if let Some(how) = chosen {
                    write!(f, " ({how})")?;
                }
                write!(
                    f,
                    ": {source}. Is watchdogd running? If it runs with another config, say which: \
                     `watchdogctl -c CONFIG …` (or {}=CONFIG), or `--socket PATH`",
                    protocol::paths::CONFIG_ENV
                )
            }
            CallError::BadPath { socket, source } => {
                write!(f, "invalid socket path {}: {source}", socket.display())
            }
            CallError::PermissionDenied { socket, source } => write!(
                f,
                "not allowed to connect to watchdogd at {}: {source} (check the socket's owner and mode)",
                socket.display()
            ),
            CallError::Closed { at } => write!(
                f,
                "watchdogd at {at} closed the connection before replying (see its log)"
            ),
            CallError::NoReply { at, after } => write!(
                f,
                "watchdogd at {at} did not reply within {}s",
                after.as_secs()
            ),
            CallError::Io { at, source } => {
                write!(f, "talking to watchdogd at {at} failed: {source}")
            }
            CallError::Encode(e) => write!(f, "cannot encode the request: {e}"),
            CallError::Decode {
                at,
                source,
                remote: false,
            } => write!(
                f,
                "cannot read the reply of watchdogd at {at}: {source} (is it another version?)"
            ),
            CallError::Decode {
                at,
                source,
                remote: true,
            } => write!(
                f,
                "cannot read the reply of watchdogd at {at}: {source} (is it another version, or does a shell startup file on that host print to stdout?)"
            ),
            CallError::Remote(e) => e.fmt(f),
        }
    }
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        Failure::new(e.exit(), e.to_string())
    }
}

/// Where a client's daemon is.
#[derive(Debug, Clone)]
pub enum Target {
    /// Listening on this local socket.
    Socket(PathBuf),
    /// On another host, reached with `ssh HOST watchdogctl dial-stdio`.
    Ssh(Box<SshTarget>),
}

/// A connection-per-call client of one daemon.
#[derive(Debug, Clone)]
pub struct Client {
    target: Target,
    /// How the socket was chosen, for "cannot reach" messages.
    chosen: Option<String>,
}

impl Client {
    /// A client of the daemon listening at `socket`.
    pub fn new(socket: PathBuf) -> Self {
        Client {
            target: Target::Socket(socket),
            chosen: None,
        }
    }

    /// A client of the daemon listening at `socket`, chosen as `chosen` says.
    pub fn local(socket: PathBuf, chosen: &crate::socket::SocketSource) -> Self {
        Client {
            target: Target::Socket(socket),
            chosen: Some(chosen.explain()),
        }
    }

    /// A client of the daemon on another host.
    pub fn ssh(target: SshTarget) -> Self {
        Client {
            target: Target::Ssh(Box::new(target)),
            chosen: None,
        }
    }

    /// The daemon's name in messages: its socket path, or the host as the user wrote it.
    pub fn describe(&self) -> String {
        match &self.target {
            Target::Socket(socket) => socket.display().to_string(),
            Target::Ssh(t) => t.label.clone(),
        }
    }

    /// Sends one request on a fresh connection and reads its one reply. `reply_timeout` bounds
    /// the wait for the reply (over ssh, connecting counts too); `None` waits as long as the
    /// daemon works (a pipeline's length depends on the config, so only the daemon can bound
    /// it), except over ssh, where [`REMOTE_CALL_LIMIT`] applies.
    pub fn call(
        &self,
        request: &Request,
        reply_timeout: Option<Duration>,
    ) -> Result<Response, CallError> {
        let payload = encode_request(request).map_err(CallError::Encode)?;
        let started = Instant::now();
        let reply_timeout = match self.target {
            Target::Socket(_) => reply_timeout,
            Target::Ssh(_) => Some(reply_timeout.unwrap_or(REMOTE_CALL_LIMIT)),
        };
        let mut conn = self.open(reply_timeout)?;
        // If sending fails the daemon may still have written a refusal before closing, so the
        // reply is read either way and the send error only reported when there is none.
        let sent = conn.send(&payload);
        let frame = match conn.recv(reply_timeout) {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                return Err(match (conn.failure(), sent) {
                    (Some(remote), _) => CallError::Remote(remote),
                    (None, Err(send)) => self.classify(send, started.elapsed(), reply_timeout),
                    (None, Ok(())) => CallError::Closed {
                        at: self.describe(),
                    },
                });
            }
            Err(CodecError::Io(e)) if e.kind() == io::ErrorKind::TimedOut => {
                let after = reply_timeout.unwrap_or_else(|| started.elapsed());
                return Err(match conn.give_up(after) {
                    Some(remote) => CallError::Remote(remote),
                    None => self.classify(CodecError::Io(e), started.elapsed(), reply_timeout),
                });
            }
            Err(e) => {
                let e = match (e, sent) {
                    (CodecError::Io(_), Err(send)) => send,
                    (e, _) => e,
                };
                return Err(match conn.failure() {
                    Some(remote) => CallError::Remote(remote),
                    None => self.classify(e, started.elapsed(), reply_timeout),
                });
            }
        };
        decode_response(&frame).map_err(|source| self.undecodable(source))
    }

    /// A fresh connection to the daemon, for a call that may take `limit` in all (`None`: a
    /// stream without end).
    pub(crate) fn open(&self, limit: Option<Duration>) -> Result<Connection, CallError> {
        match &self.target {
            Target::Socket(socket) => {
                connect_socket(socket, self.chosen.as_deref()).map(Connection::Local)
            }
            Target::Ssh(target) => SshSession::spawn(target, limit.unwrap_or(Duration::MAX))
                .map(|session| Connection::Ssh(Box::new(session)))
                .map_err(CallError::Remote),
        }
    }

    pub(crate) fn undecodable(&self, source: CodecError) -> CallError {
        CallError::Decode {
            at: self.describe(),
            source,
            remote: matches!(self.target, Target::Ssh(_)),
        }
    }

    /// Sorts an exchange error into closed / timed out / other I/O / undecodable.
    pub(crate) fn classify(
        &self,
        e: CodecError,
        elapsed: Duration,
        timeout: Option<Duration>,
    ) -> CallError {
        let at = self.describe();
        match e {
            CodecError::Io(source) => match source.kind() {
                io::ErrorKind::UnexpectedEof
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted => CallError::Closed { at },
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => CallError::NoReply {
                    at,
                    after: timeout.unwrap_or(elapsed),
                },
                _ => CallError::Io { at, source },
            },
            source => self.undecodable(source),
        }
    }
}

/// Connects to a local daemon socket (waiting at most [`CONNECT_TIMEOUT`] for a full backlog);
/// `chosen` says how it was chosen, for the message when nothing listens there.
pub fn connect_socket(socket: &Path, chosen: Option<&str>) -> Result<Stream, CallError> {
    let connect = || {
        let name = socket.to_fs_name::<GenericFilePath>()?;
        ConnectOptions::new()
            .name(name)
            .wait_mode(ConnectWaitMode::Timeout(CONNECT_TIMEOUT))
            .connect_sync()
    };
    connect().map_err(|source| {
        let socket = socket.to_path_buf();
        match source.kind() {
            io::ErrorKind::PermissionDenied => CallError::PermissionDenied { socket, source },
            io::ErrorKind::InvalidInput => CallError::BadPath { socket, source },
            _ => CallError::Connect {
                socket,
                source,
                chosen: chosen.map(str::to_owned),
            },
        }
    })
}

/// The name of a reply's variant, for messages.
pub(crate) fn reply_kind(response: &Response) -> &'static str {
    match response {
        Response::Error { .. } => "error",
        Response::Status(_) => "status",
        Response::Action(_) => "action",
        Response::Bulk(_) => "bulk",
        Response::Wait(_) => "wait",
        Response::Reload(_) => "reload",
        Response::History(_) => "history",
        Response::Event(_) => "event",
        Response::Detail(_) => "detail",
        Response::Metrics(_) => "metrics",
        Response::Version(_) => "version",
        Response::Check(_) => "check",
        Response::Changes(_) => "changes",
    }
}

#[cfg(test)]
mod tests;
