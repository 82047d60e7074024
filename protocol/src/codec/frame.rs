//! Frames on blocking readers and writers (the client, tests): a 4-byte big-endian length, then
//! the payload. A length over the reader's limit is refused before anything is allocated.

use std::io::{Read, Write};

use super::error::CodecError;

/// Writes one frame (length prefix + payload) to a blocking writer.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> Result<(), CodecError> {
    let len = u32::try_from(payload.len()).map_err(|_| CodecError::FrameTooLarge {
        len: payload.len(),
        max: u32::MAX as usize,
    })?;
    let mut buf = Vec::with_capacity(4 + payload.len());
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf)?;
    w.flush()?;
    Ok(())
}

/// Reads one frame from a blocking reader, refusing a length over `max` before allocating.
pub fn read_frame(r: &mut impl Read, max: usize) -> Result<Vec<u8>, CodecError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(CodecError::FrameTooLarge { len, max });
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(payload)
}
