//! Reading reply frames from a byte stream (a socket, ssh's stdout), where a peer that closes
//! between frames has simply finished: the end is `None`, not an error.

use std::io::{self, Read};

use protocol::codec::{CodecError, read_frame};

/// Reads one frame, or `None` when the reader ends (or is reset) before its first byte: a peer
/// that closes between frames is done, not broken. The length is checked against `max` before
/// anything is allocated.
pub fn next_frame(r: &mut impl Read, max: usize) -> Result<Option<Vec<u8>>, CodecError> {
    let mut first = [0u8; 1];
    loop {
        match r.read(&mut first) {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_close(&e) => return Ok(None),
            Err(e) => return Err(CodecError::Io(e)),
        }
    }
    read_frame(&mut (&first[..]).chain(r), max).map(Some)
}

/// A reset or a closed pipe between frames is the peer going away, not a failure.
fn is_close(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::codec::write_frame;

    #[test]
    fn frames_then_a_clean_end() {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, b"one").unwrap();
        write_frame(&mut bytes, b"").unwrap();
        let mut r = bytes.as_slice();
        assert_eq!(next_frame(&mut r, 16).unwrap(), Some(b"one".to_vec()));
        assert_eq!(next_frame(&mut r, 16).unwrap(), Some(Vec::new()));
        assert_eq!(next_frame(&mut r, 16).unwrap(), None);
    }

    #[test]
    fn a_cut_or_oversized_frame_is_an_error() {
        let mut r: &[u8] = &[0, 0, 0, 5, b'a'];
        assert!(matches!(next_frame(&mut r, 16), Err(CodecError::Io(_))));
        let mut r: &[u8] = &[0, 0];
        assert!(matches!(next_frame(&mut r, 16), Err(CodecError::Io(_))));
        let mut r: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0];
        assert!(matches!(
            next_frame(&mut r, 16),
            Err(CodecError::FrameTooLarge { .. })
        ));
    }
}
