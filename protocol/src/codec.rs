//! Encoding and framing, in one place so both ends always agree.
//!
//! bincode 2 aborts the process on a forged length unless a decode limit is set, so every decode
//! here goes through a config with `with_limit` equal to the frame limit. Frames are a 4-byte
//! big-endian length plus payload, the same bytes tokio-util's `LengthDelimitedCodec` reads.
//!
//! Here: the versions, the request header, and messages to and from bytes; the frame limits
//! and the decode configs bound by them in `limits`, the errors in `error`. Framing for blocking readers and writers is in `frame`; the daemon's copy-free
//! encoding of a whole status table, byte for byte the owned reply's, in `status_view`; the
//! golden-byte and random-input tests in `tests`.

mod error;
mod frame;
mod limits;
mod status_view;

use serde::{Deserialize, Serialize};

use crate::message::{Request, Response};

pub use error::CodecError;
pub use frame::{read_frame, write_frame};
pub use limits::{MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME};
use limits::{request_config, response_config, within_response_frame};
pub use status_view::{StatusView, encode_status};

/// Bumped on any change reachable from [`Request`] or [`Response`].
pub const PROTOCOL_VERSION: u32 = 6;
/// First field of every request: "WDOG".
pub const MAGIC: u32 = u32::from_be_bytes(*b"WDOG");
/// The frozen start of every request payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestHeader {
    pub magic: u32,
    pub protocol: u32,
    pub client_version: String,
}

impl RequestHeader {
    /// The header this build sends.
    pub fn current() -> Self {
        RequestHeader {
            magic: MAGIC,
            protocol: PROTOCOL_VERSION,
            client_version: crate::VERSION.to_owned(),
        }
    }
}

/// Encodes a request payload (header + request) as this build speaks it.
pub fn encode_request(request: &Request) -> Result<Vec<u8>, CodecError> {
    let mut out = bincode::serde::encode_to_vec(RequestHeader::current(), request_config())
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    let body = bincode::serde::encode_to_vec(request, request_config())
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    out.extend_from_slice(&body);
    if out.len() > MAX_REQUEST_FRAME {
        return Err(CodecError::FrameTooLarge {
            len: out.len(),
            max: MAX_REQUEST_FRAME,
        });
    }
    Ok(out)
}

/// Decodes a request payload, refusing another protocol version before reading the body.
pub fn decode_request(payload: &[u8]) -> Result<Request, CodecError> {
    let (header, used): (RequestHeader, usize) =
        bincode::serde::decode_from_slice(payload, request_config())
            .map_err(|e| CodecError::Decode(e.to_string()))?;
    if header.magic != MAGIC {
        return Err(CodecError::BadMagic(header.magic));
    }
    if header.protocol != PROTOCOL_VERSION {
        return Err(CodecError::VersionMismatch {
            client: header.protocol,
            client_version: header.client_version,
            daemon: PROTOCOL_VERSION,
        });
    }
    let body = &payload[used..];
    let (request, used): (Request, usize) =
        bincode::serde::decode_from_slice(body, request_config())
            .map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != body.len() {
        return Err(CodecError::TrailingBytes(body.len() - used));
    }
    Ok(request)
}

/// Encodes a response payload.
pub fn encode_response(response: &Response) -> Result<Vec<u8>, CodecError> {
    let out = bincode::serde::encode_to_vec(response, response_config())
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    within_response_frame(out)
}

/// Decodes a response payload.
pub fn decode_response(payload: &[u8]) -> Result<Response, CodecError> {
    let (response, used): (Response, usize) =
        bincode::serde::decode_from_slice(payload, response_config())
            .map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != payload.len() {
        return Err(CodecError::TrailingBytes(payload.len() - used));
    }
    Ok(response)
}

#[cfg(test)]
mod tests;
