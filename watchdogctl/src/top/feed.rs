//! The threads that talk to the daemon for the dashboard, each sending what it got as a
//! [`Feed`] into the loop's channel: the watch stream (reconnecting by itself), and one thread
//! per call, detail fetch or history read, so a slow pipeline never freezes the screen.
//!
//! They go through the same [`Client`] as every other command, so `-H ssh://…` works here too:
//! each reconnect or call is one more ssh session (a ControlMaster in the ssh config makes
//! those cheap; see docs/fleet.md). Threads end with the process; nothing is left half-done by
//! that, because a call the daemon received runs to its end there either way.

use std::sync::mpsc::Sender;
use std::time::Duration;

use protocol::{HistoryRequest, Request, Response};

use super::app::Feed;
use super::incoming::Incoming;
use crate::client::{CallError, Client};
use crate::exit::Exit;

/// The first wait before reconnecting, doubled after each failure up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(2);
/// How long a detail or history read may take.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether retrying can help: only when the daemon could not be reached (not for a refusal,
/// a bad socket path or a missing remote watchdogctl).
fn retryable(e: &CallError) -> bool {
    e.exit() == Exit::Unreachable
}

/// Follows the watch stream for as long as the process lives, reconnecting after each end.
pub fn watch(client: Client, tx: Sender<Incoming>) {
    std::thread::spawn(move || {
        let mut delay = FIRST_RETRY;
        loop {
            let lost = match client.open_stream(&Request::Watch) {
                Ok(mut stream) => loop {
                    match stream.next() {
                        Ok(Some(response)) => {
                            delay = FIRST_RETRY;
                            if tx.send(Incoming::feed(Feed::Frame(response))).is_err() {
                                return;
                            }
                        }
                        Ok(None) => break "watchdogd closed the connection".to_owned(),
                        Err(e) if retryable(&e) => break e.cause(),
                        Err(e) => {
                            let _ = tx.send(Incoming::feed(Feed::Fatal(e.to_string())));
                            return;
                        }
                    }
                },
                Err(e) if retryable(&e) => e.cause(),
                Err(e) => {
                    let _ = tx.send(Incoming::feed(Feed::Fatal(e.to_string())));
                    return;
                }
            };
            if tx.send(Incoming::feed(Feed::Lost(lost))).is_err() {
                return;
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(MAX_RETRY);
        }
    });
}

/// Sends `request` and reports how it ended, labelled for the status line.
pub fn call(client: &Client, request: Request, label: String, tx: &Sender<Incoming>) {
    let (client, tx) = (client.clone(), tx.clone());
    std::thread::spawn(move || {
        let result = client.call(&request, None).map_err(|e| e.to_string());
        let _ = tx.send(Incoming::feed(Feed::Done { label, result }));
    });
}

/// Fetches one service's detail.
pub fn detail(client: &Client, key: String, tx: &Sender<Incoming>) {
    let (client, tx) = (client.clone(), tx.clone());
    std::thread::spawn(move || {
        let request = Request::Detail { key: key.clone() };
        let result = match client.call(&request, Some(READ_TIMEOUT)) {
            Ok(Response::Detail(d)) => Ok(d),
            Ok(Response::Error { message, .. }) => Err(message),
            Ok(other) => Err(format!(
                "unexpected {} reply",
                crate::client::reply_kind(&other)
            )),
            Err(e) => Err(e.cause()),
        };
        let _ = tx.send(Incoming::feed(Feed::Detail { key, result }));
    });
}

/// Reads the newest `limit` audit entries (for the strips).
pub fn history(client: &Client, limit: u32, tx: &Sender<Incoming>) {
    let (client, tx) = (client.clone(), tx.clone());
    std::thread::spawn(move || {
        let request: Request = HistoryRequest {
            key: None,
            limit,
            since_ms: None,
        }
        .into();
        let result = match client.call(&request, Some(READ_TIMEOUT)) {
            Ok(Response::History(entries)) => Ok(entries),
            Ok(_) => Err("no history".to_owned()),
            Err(e) => Err(e.cause()),
        };
        let _ = tx.send(Incoming::feed(Feed::History(result)));
    });
}
