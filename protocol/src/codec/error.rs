//! What can go wrong between bytes and messages, and the reply kind each earns.

use std::io;

use crate::message::ErrorKind;

/// What can go wrong between bytes and messages.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("not a watchdog request (bad magic {0:#010x})")]
    BadMagic(u32),
    #[error(
        "protocol version mismatch: client speaks {client} (watchdogctl {client_version}), daemon speaks {daemon}"
    )]
    VersionMismatch {
        client: u32,
        client_version: String,
        daemon: u32,
    },
    #[error("undecodable message: {0}")]
    Decode(String),
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge { len: usize, max: usize },
    #[error("cannot encode message: {0}")]
    Encode(String),
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

impl CodecError {
    /// The reply kind a daemon sends for this decode failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CodecError::BadMagic(_) | CodecError::VersionMismatch { .. } => ErrorKind::Protocol,
            _ => ErrorKind::BadRequest,
        }
    }
}
