//! The contracts shared by `watchdogd`, `watchdogctl` and Rust services.
//!
//! # Wire format
//!
//! A connection to the control socket carries frames: a 4-byte big-endian payload length, then the
//! payload (tokio-util's `LengthDelimitedCodec` defaults). Request frames are at most
//! [`MAX_REQUEST_FRAME`] bytes, response frames at most [`MAX_RESPONSE_FRAME`].
//!
//! A request payload is a bincode (`standard()`: varint, little endian) [`RequestHeader`]
//! followed by a bincode [`Request`]. The header is frozen forever: it carries [`MAGIC`] and the
//! sender's [`PROTOCOL_VERSION`], so a daemon can refuse a client of another version with a
//! readable reply instead of misreading its request. A response payload is a bincode
//! [`Response`]; its variant 0, [`Response::Error`], is frozen too, so a client of any version can
//! read a refusal.
//!
//! Rules that keep the format decodable (bincode is not self-describing): enum variants are only
//! ever appended; no `untagged`, `flatten`, `tag` or `skip_serializing_if` on wire types; times
//! travel as integer milliseconds since the Unix epoch. Any change reachable from [`Request`] or
//! [`Response`] bumps [`PROTOCOL_VERSION`]; `codec::tests` pins golden bytes to catch accidents.
//!
//! # Heartbeat files
//!
//! Services prove they are alive by rewriting a small JSON file; see [`heartbeat`].

pub mod codec;
pub mod heartbeat;
pub mod message;
pub mod paths;
pub mod time;

pub use codec::{
    CodecError, MAGIC, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME, PROTOCOL_VERSION, RequestHeader,
};
pub use heartbeat::{Heartbeat, HeartbeatError, HeartbeatWriter};
pub use message::*;

/// The version of the crates that make up this build, shown by `--version` and in handshakes.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
