//! A scripted daemon: the real framing and codec, answers from a list, and a record of the
//! requests it got.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use interprocess::local_socket::{GenericFilePath, ListenerOptions, prelude::*};
use protocol::codec::{decode_request, encode_response, read_frame, write_frame};
use protocol::{MAX_REQUEST_FRAME, Request, Response};

/// A listener that answers each connection with the next scripted reply (`None` closes without
/// replying) and records the requests it got.
pub struct FakeDaemon {
    _dir: tempfile::TempDir,
    pub socket: PathBuf,
    requests: Arc<Mutex<Vec<Request>>>,
}
impl FakeDaemon {
    pub fn start(replies: Vec<Option<Response>>) -> Self {
        Self::start_gated(replies, None)
    }

    /// Like `start`, but each reply waits for a message on `gate` first.
    pub fn start_gated(replies: Vec<Option<Response>>, gate: Option<mpsc::Receiver<()>>) -> Self {
        let frames = replies
            .into_iter()
            .map(|r| r.into_iter().collect())
            .collect();
        Self::start_streams(frames, gate)
    }

    /// Each connection gets the next list of frames, then is closed (an empty list: closed
    /// without a reply).
    pub fn start_streams(streams: Vec<Vec<Response>>, gate: Option<mpsc::Receiver<()>>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("w.sock");
        let name = socket.as_path().to_fs_name::<GenericFilePath>().unwrap();
        let listener = ListenerOptions::new().name(name).create_sync().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        thread::spawn(move || {
            for frames in streams {
                let Ok(mut conn) = listener.accept() else {
                    return;
                };
                let frame = read_frame(&mut conn, MAX_REQUEST_FRAME).unwrap();
                seen.lock().unwrap().push(decode_request(&frame).unwrap());
                if let Some(gate) = &gate {
                    let _ = gate.recv();
                }
                for reply in frames {
                    let _ = write_frame(&mut conn, &encode_response(&reply).unwrap());
                }
            }
        });
        FakeDaemon {
            _dir: dir,
            socket,
            requests,
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}
