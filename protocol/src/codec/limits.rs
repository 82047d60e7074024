//! The frame limits, and the bincode configs bound by them: every decode goes through one of
//! these, so a forged length can never make bincode allocate more than a frame.

/// Largest request payload the daemon reads.
pub const MAX_REQUEST_FRAME: usize = 64 * 1024;
/// Largest response payload a client reads (a status of tens of thousands of services fits).
pub const MAX_RESPONSE_FRAME: usize = 32 * 1024 * 1024;

pub(crate) fn request_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_REQUEST_FRAME>()
}

pub(crate) fn response_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_RESPONSE_FRAME>()
}

/// `out` as a response payload, or the error saying it is over [`MAX_RESPONSE_FRAME`].
pub(crate) fn within_response_frame(out: Vec<u8>) -> Result<Vec<u8>, super::error::CodecError> {
    if out.len() > MAX_RESPONSE_FRAME {
        return Err(super::error::CodecError::FrameTooLarge {
            len: out.len(),
            max: MAX_RESPONSE_FRAME,
        });
    }
    Ok(out)
}
