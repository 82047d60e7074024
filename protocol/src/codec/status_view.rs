//! The `status` reply of a whole table, encoded from where the daemon keeps the services: no
//! copy of thousands of statuses is made to answer `status`, and the bytes are exactly those of
//! the owned [`Response::Status`](crate::Response::Status) (a test checks them byte for byte).

use super::error::CodecError;
use super::limits::{response_config, within_response_frame};

/// A `Response::Status` to encode, borrowing the services from where the daemon keeps them:
/// no copy of thousands of statuses is made to answer `status`.
#[derive(Debug, Clone, Copy)]
pub struct StatusView<'a> {
    pub daemon_version: &'a str,
    pub daemon_pid: u32,
    pub services: &'a [std::sync::Arc<crate::ServiceStatus>],
    pub audit_rows_dropped: u64,
    pub daemon_started_ms: i64,
}

/// The `Response` variant index of `Status` (the derive numbers variants in order).
const STATUS_VARIANT: u32 = 1;

impl serde::Serialize for StatusView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Services<'a>(&'a [std::sync::Arc<crate::ServiceStatus>]);
        impl serde::Serialize for Services<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().map(|a| &**a))
            }
        }
        // Field for field as `StatusReply`, which a test checks byte for byte.
        struct Reply<'a>(&'a StatusView<'a>);
        impl serde::Serialize for Reply<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let v = self.0;
                let mut st = s.serialize_struct("StatusReply", 5)?;
                st.serialize_field("daemon_version", v.daemon_version)?;
                st.serialize_field("daemon_pid", &v.daemon_pid)?;
                st.serialize_field("services", &Services(v.services))?;
                st.serialize_field("audit_rows_dropped", &v.audit_rows_dropped)?;
                st.serialize_field("daemon_started_ms", &v.daemon_started_ms)?;
                st.end()
            }
        }
        s.serialize_newtype_variant("Response", STATUS_VARIANT, "Status", &Reply(self))
    }
}

/// Encodes `Response::Status` from a [`StatusView`]: the same bytes as
/// [`encode_response`](super::encode_response) of the owned reply, written straight into one
/// buffer sized for them.
pub fn encode_status(view: &StatusView<'_>) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(64 + view.services.len() * 192);
    bincode::serde::encode_into_std_write(view, &mut out, response_config())
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    within_response_frame(out)
}
