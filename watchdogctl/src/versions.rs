//! The version report of `--version` and `version`: ours, then the daemon's or why it has none.
//!
//! The client's line never depends on the daemon, so `--version` is useful on a machine where
//! watchdogd is not running; the daemon's line says which daemon the socket leads to and whether
//! the two speak the same protocol (a mismatch is refused by the daemon with both numbers).

use std::path::Path;

use protocol::time::format_millis;
use protocol::{ErrorKind, PROTOCOL_VERSION, VERSION, VersionReply};
use serde_json::{Value, json};

use crate::clock::format_time;
use crate::table::clean;

/// What became of asking the daemon for its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonVersion {
    /// It answered.
    Answered(VersionReply),
    /// It refused: another protocol (the message names both versions), or not allowed.
    Refused { kind: ErrorKind, message: String },
    /// No answer: not running, no permission on the socket, no reply, an unreadable reply.
    Unreachable { cause: String },
}

/// Which daemon was asked: its socket (`None` when none could be picked, e.g. an unreadable
/// `--config`, or a remote daemon at its default socket) and, over ssh, the host.
#[derive(Debug, Clone, Copy, Default)]
pub struct At<'a> {
    pub socket: Option<&'a Path>,
    pub host: Option<&'a str>,
}

#[cfg(test)]
impl At<'_> {
    /// A local socket.
    pub fn socket(socket: &Path) -> At<'_> {
        At {
            socket: Some(socket),
            host: None,
        }
    }
}

/// `watchdogctl X (protocol N)` then `watchdogd Y (protocol M, pid P, up since T)` or the reason.
pub fn text(daemon: &DaemonVersion, at: At<'_>) -> String {
    let at = match (at.host, at.socket) {
        (Some(host), _) => format!(" at {}", clean(host)),
        (None, Some(s)) => format!(" at {}", s.display()),
        (None, None) => String::new(),
    };
    let mut out = format!("watchdogctl {VERSION} (protocol {PROTOCOL_VERSION})\n");
    let line = match daemon {
        DaemonVersion::Answered(v) => format!(
            "watchdogd {} (protocol {}, pid {}, up since {})",
            clean(&v.daemon_version),
            v.protocol,
            v.daemon_pid,
            format_time(v.started_ms)
        ),
        DaemonVersion::Refused {
            kind: ErrorKind::Protocol,
            message,
        } => format!("watchdogd: incompatible: {}", clean(message)),
        DaemonVersion::Refused { message, .. } => {
            format!("watchdogd: refused{at} ({})", clean(message))
        }
        DaemonVersion::Unreachable { cause } => {
            format!("watchdogd: unreachable{at} ({})", clean(cause))
        }
    };
    out.push_str(&line);
    out.push('\n');
    out
}

/// `{watchdogctl: {version, protocol}, watchdogd: {version, protocol, pid, started} | null,
/// socket: string | null, host: string | null, error: null | string}`.
pub fn json(daemon: &DaemonVersion, at: At<'_>) -> Value {
    let (watchdogd, error) = match daemon {
        DaemonVersion::Answered(v) => (
            json!({
                "version": v.daemon_version,
                "protocol": v.protocol,
                "pid": v.daemon_pid,
                "started": format_millis(v.started_ms),
            }),
            Value::Null,
        ),
        DaemonVersion::Refused { message, .. } => (Value::Null, json!(message)),
        DaemonVersion::Unreachable { cause } => (Value::Null, json!(cause)),
    };
    json!({
        "watchdogctl": {"version": VERSION, "protocol": PROTOCOL_VERSION},
        "watchdogd": watchdogd,
        "socket": at.socket.map(|s| s.display().to_string()),
        "host": at.host,
        "error": error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_line() -> String {
        format!("watchdogctl {VERSION} (protocol {PROTOCOL_VERSION})\n")
    }

    #[test]
    fn answered() {
        let d = DaemonVersion::Answered(VersionReply {
            daemon_version: "0.1.0".into(),
            protocol: PROTOCOL_VERSION,
            daemon_pid: 77,
            started_ms: 1_770_272_249_601,
        });
        let socket = At::socket(Path::new("/run/w.sock"));
        assert_eq!(
            text(&d, socket),
            format!(
                "{}watchdogd 0.1.0 (protocol {PROTOCOL_VERSION}, pid 77, up since 2026-02-05T06:17:29Z)\n",
                first_line()
            )
        );
        let v = json(&d, socket);
        assert_eq!(v["watchdogctl"]["protocol"], PROTOCOL_VERSION);
        assert_eq!(v["watchdogd"]["pid"], 77);
        assert_eq!(
            v["watchdogd"]["started"],
            "2026-02-05T06:17:29.601000+00:00"
        );
        assert_eq!(v["error"], Value::Null);
    }

    #[test]
    fn refused_and_unreachable() {
        let socket = At::socket(Path::new("/run/w.sock"));
        let mismatch = DaemonVersion::Refused {
            kind: ErrorKind::Protocol,
            message:
                "protocol version mismatch: client speaks 4 (watchdogctl 0.1.0), daemon speaks 5"
                    .into(),
        };
        assert!(text(&mismatch, socket).ends_with(
            "\nwatchdogd: incompatible: protocol version mismatch: client speaks 4 (watchdogctl 0.1.0), daemon speaks 5\n"
        ));
        let gone = DaemonVersion::Unreachable {
            cause: "No such file or directory (os error 2)".into(),
        };
        assert_eq!(
            text(&gone, socket),
            format!(
                "{}watchdogd: unreachable at /run/w.sock (No such file or directory (os error 2))\n",
                first_line()
            )
        );
        assert!(
            text(&gone, At::default())
                .ends_with("\nwatchdogd: unreachable (No such file or directory (os error 2))\n")
        );
        assert_eq!(json(&gone, At::default())["socket"], Value::Null);
        let remote = At {
            socket: None,
            host: Some("web1"),
        };
        assert!(text(&gone, remote).ends_with(
            "\nwatchdogd: unreachable at web1 (No such file or directory (os error 2))\n"
        ));
        assert_eq!(json(&gone, remote)["host"], "web1");
        let v = json(&gone, socket);
        assert_eq!(v["watchdogd"], Value::Null);
        assert_eq!(v["socket"], "/run/w.sock");
        assert_eq!(v["error"], "No such file or directory (os error 2)");
    }
}
