//! `dial-stdio`: stdin and stdout bridged to the daemon's socket, frame for frame.
//!
//! This is what `watchdogctl -H ssh://HOST …` runs on HOST, so the daemon gains no network
//! listener: ssh carries the frames, and the daemon sees an ordinary local client whose peer
//! credentials are the SSH login user's, and checks its protocol version itself. The bridge
//! does not decode anything, so it works for clients of other versions, but it reads every
//! length prefix and refuses a frame over the protocol's limit (requests
//! [`MAX_REQUEST_FRAME`], replies [`MAX_RESPONSE_FRAME`]) before allocating, so neither side
//! can make it buffer without bound.
//!
//! Ends: stdin's EOF half-closes the socket (the daemon still answers what it was asked, then
//! closes); the daemon closing ends the bridge with exit 0. Failures go to stderr, where the
//! calling watchdogctl reads them, with the usual exit codes (3: no daemon at the socket).

use std::io::{self, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;

use interprocess::local_socket::Stream;
use protocol::codec::{CodecError, write_frame};
use protocol::{MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};

use super::context::note;
use crate::cli::Cli;
use crate::client::connect_socket;
use crate::exit::{Exit, Failure};
use crate::frames::next_frame;
use crate::socket::{SocketInputs, resolve_socket};

/// Runs the bridge until the daemon closes the connection or stdout goes away.
pub(super) fn dial_stdio(cli: &Cli) -> Result<Exit, Failure> {
    if cli.host.is_some() || !cli.hosts.is_empty() {
        return Err(Failure::new(
            Exit::Usage,
            "dial-stdio bridges to a local socket; it takes --socket, not -H or --hosts",
        ));
    }
    let (socket, source) = resolve_socket(SocketInputs::from_env(
        cli.socket.clone(),
        cli.config.clone(),
    ))?;
    note(
        cli.verbose > 0,
        &format!("dial-stdio to {} ({source})", socket.display()),
    );
    let Stream::UdSocket(stream) = connect_socket(&socket, Some(&source.explain()))?;
    let daemon: UnixStream = stream
        .inner()
        .try_clone()
        .map_err(|e| io_failure("socket", &e))?;
    let upstream = daemon.try_clone().map_err(|e| io_failure("socket", &e))?;
    drop(stream);

    // Requests: stdin → socket, on a thread of its own, because stdin may stay open (and
    // silent) long after the daemon has closed; that thread is never joined.
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let outcome = forward_requests(&upstream);
        let refused = outcome.is_err();
        // Said before the socket is closed, so the reply side finds it when it ends.
        let _ = done_tx.send(outcome);
        if refused {
            let _ = upstream.shutdown(Shutdown::Both);
        }
    });

    // Replies: socket → stdout, here.
    let mut stdout = io::stdout().lock();
    let mut reader = &daemon;
    let replies = loop {
        match next_frame(&mut reader, MAX_RESPONSE_FRAME) {
            Ok(Some(frame)) => {
                if write_frame(&mut stdout, &frame).is_err() {
                    // Our caller went away: nothing left to bridge to.
                    break Ok(());
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let _ = stdout.flush();
    if let Ok(Err(message)) = done_rx.try_recv() {
        return Err(Failure::new(Exit::Usage, message));
    }
    match replies {
        Ok(()) => Ok(Exit::Success),
        Err(e) => Err(Failure::new(
            Exit::Unreachable,
            format!(
                "dial-stdio: bad reply from watchdogd at {}: {e}",
                socket.display()
            ),
        )),
    }
}

/// Copies request frames from stdin to the daemon until stdin ends (then half-closes, so the
/// daemon answers and closes) or sends a frame we refuse (the caller then closes both ways).
fn forward_requests(daemon: &UnixStream) -> Result<(), String> {
    let mut stdin = io::stdin().lock();
    let mut writer = daemon;
    loop {
        match next_frame(&mut stdin, MAX_REQUEST_FRAME) {
            Ok(Some(frame)) => {
                if write_frame(&mut writer, &frame).is_err() {
                    // The daemon closed; the reply side sees it and ends the bridge.
                    return Ok(());
                }
            }
            Ok(None) => {
                let _ = daemon.shutdown(Shutdown::Write);
                return Ok(());
            }
            Err(e) => {
                return Err(match e {
                    CodecError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        "dial-stdio: stdin ended inside a request frame".to_owned()
                    }
                    e => format!("dial-stdio: bad request frame on stdin: {e}"),
                });
            }
        }
    }
}

fn io_failure(what: &str, e: &io::Error) -> Failure {
    Failure::new(
        Exit::Usage,
        format!("dial-stdio: cannot use the {what}: {e}"),
    )
}
