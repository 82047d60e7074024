//! One notify datagram, parsed: newline-separated `FIELD=value` assignments, as systemd reads
//! them (`sd_notify(3)`).
//!
//! Pure and allocation-free: the result borrows from the receive buffer. The bytes come from a
//! service and are hostile until checked: a datagram with a NUL byte, one that is not UTF-8, an
//! empty one, or a line that is no assignment is malformed as a whole and changes nothing; a
//! known field with a bad value is dropped and makes the datagram malformed, while its other
//! fields still count. Unknown fields are ignored, as systemd ignores them.

/// What `WATCHDOG=` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watchdog {
    /// `WATCHDOG=1`: alive.
    Ping,
    /// `WATCHDOG=trigger`: fail now.
    Trigger,
}

/// The fields of one datagram that the daemon acts on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Message<'a> {
    /// `READY=1`.
    pub ready: bool,
    pub watchdog: Option<Watchdog>,
    /// `STATUS=…`: free text for people.
    pub status: Option<&'a str>,
    /// `MAINPID=…`: the process to judge and stop from now on.
    pub mainpid: Option<u32>,
    /// `EXTEND_TIMEOUT_USEC=…`: more time for the current wait (READY, the next ping).
    pub extend_timeout_usec: Option<u64>,
    /// `WATCHDOG_USEC=…`: the service's own timeout from now on.
    pub watchdog_usec: Option<u64>,
    /// `STOPPING=1`.
    pub stopping: bool,
    /// `ERRNO=…`: why the service is failing, as an errno.
    pub errno: Option<i32>,
    /// `FDSTORE=1`: not supported; the descriptors are closed.
    pub fdstore: bool,
    /// `BARRIER=1` (`systemd-notify` waits for its descriptor to be closed).
    pub barrier: bool,
}

impl Message<'_> {
    /// A sign of life: `READY=1` or `WATCHDOG=1`.
    pub fn is_beat(&self) -> bool {
        self.ready || self.watchdog == Some(Watchdog::Ping)
    }
}

/// Why a datagram (or one of its fields) was not taken as it came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed<'a> {
    Empty,
    Nul,
    NotUtf8,
    /// Longer than the receive buffer.
    Truncated,
    /// A line with no `=`.
    NoAssignment,
    /// A known field whose value is not one it takes (the field's name).
    BadValue(&'a str),
}

impl std::fmt::Display for Malformed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Malformed::Empty => write!(f, "an empty datagram"),
            Malformed::Nul => write!(f, "a datagram with a NUL byte"),
            Malformed::NotUtf8 => write!(f, "a datagram that is not UTF-8"),
            Malformed::Truncated => write!(f, "a datagram longer than the receive buffer"),
            Malformed::NoAssignment => write!(f, "a line that is not FIELD=value"),
            Malformed::BadValue(field) => write!(f, "a bad value for {field}"),
        }
    }
}

/// A parsed datagram: the fields taken, and the first problem met, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub message: Message<'a>,
    pub problem: Option<Malformed<'a>>,
}

/// Parses one datagram (see the module note).
pub fn parse(bytes: &[u8]) -> Parsed<'_> {
    let whole = |problem| Parsed {
        message: Message::default(),
        problem: Some(problem),
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return whole(Malformed::Empty);
    }
    if bytes.contains(&0) {
        return whole(Malformed::Nul);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return whole(Malformed::NotUtf8);
    };
    let mut message = Message::default();
    let mut problem = None;
    for line in text.split('\n').filter(|l| !l.is_empty()) {
        let Some((field, value)) = line.split_once('=') else {
            return whole(Malformed::NoAssignment);
        };
        let ok = match field {
            "READY" => flag(value, &mut message.ready),
            "STOPPING" => flag(value, &mut message.stopping),
            "FDSTORE" => flag(value, &mut message.fdstore),
            "BARRIER" => flag(value, &mut message.barrier),
            "WATCHDOG" => match value {
                "1" => set(&mut message.watchdog, Watchdog::Ping),
                "trigger" => set(&mut message.watchdog, Watchdog::Trigger),
                _ => false,
            },
            "STATUS" => set(&mut message.status, value),
            "MAINPID" => number(value)
                .filter(|&pid: &u32| pid > 0 && pid <= i32::MAX as u32)
                .is_some_and(|pid| set(&mut message.mainpid, pid)),
            "EXTEND_TIMEOUT_USEC" => {
                number(value).is_some_and(|us| set(&mut message.extend_timeout_usec, us))
            }
            "WATCHDOG_USEC" => number(value)
                .filter(|&us: &u64| us > 0)
                .is_some_and(|us| set(&mut message.watchdog_usec, us)),
            "ERRNO" => number(value)
                .filter(|&e: &i32| e >= 0)
                .is_some_and(|e| set(&mut message.errno, e)),
            _ => true,
        };
        if !ok && problem.is_none() {
            problem = Some(Malformed::BadValue(field));
        }
    }
    Parsed { message, problem }
}

/// `1` sets the flag; systemd ignores any other value of these fields, and so do we, but it
/// is not what was meant.
fn flag(value: &str, to: &mut bool) -> bool {
    if value == "1" {
        *to = true;
    }
    value == "1"
}

fn set<T>(slot: &mut Option<T>, value: T) -> bool {
    *slot = Some(value);
    true
}

fn number<T: std::str::FromStr>(value: &str) -> Option<T> {
    // No sign, no spaces: what sd_notify writers send.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_clients_send() {
        let cases: &[(&[u8], Message)] = &[
            (
                b"READY=1\nSTATUS=supervising 3 processes\n",
                Message {
                    ready: true,
                    status: Some("supervising 3 processes"),
                    ..Message::default()
                },
            ),
            (
                b"WATCHDOG=1",
                Message {
                    watchdog: Some(Watchdog::Ping),
                    ..Message::default()
                },
            ),
            (
                b"WATCHDOG=trigger\n",
                Message {
                    watchdog: Some(Watchdog::Trigger),
                    ..Message::default()
                },
            ),
            (
                b"MAINPID=4242\nEXTEND_TIMEOUT_USEC=5000000\nWATCHDOG_USEC=3000000",
                Message {
                    mainpid: Some(4242),
                    extend_timeout_usec: Some(5_000_000),
                    watchdog_usec: Some(3_000_000),
                    ..Message::default()
                },
            ),
            (
                b"STOPPING=1\nERRNO=2\nX_CUSTOM=whatever\nRELOADING=1",
                Message {
                    stopping: true,
                    errno: Some(2),
                    ..Message::default()
                },
            ),
            (
                b"FDSTORE=1\nFDNAME=db\n",
                Message {
                    fdstore: true,
                    ..Message::default()
                },
            ),
            (
                b"BARRIER=1",
                Message {
                    barrier: true,
                    ..Message::default()
                },
            ),
            (
                "STATUS=ünïcode = fine".as_bytes(),
                Message {
                    status: Some("ünïcode = fine"),
                    ..Message::default()
                },
            ),
            (
                b"STATUS=",
                Message {
                    status: Some(""),
                    ..Message::default()
                },
            ),
        ];
        for (bytes, want) in cases {
            let parsed = parse(bytes);
            assert_eq!(
                parsed.message,
                *want,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
            assert_eq!(parsed.problem, None, "{:?}", String::from_utf8_lossy(bytes));
        }
        assert!(parse(b"READY=1").message.is_beat());
        assert!(parse(b"WATCHDOG=1").message.is_beat());
        assert!(!parse(b"WATCHDOG=trigger").message.is_beat());
        assert!(!parse(b"STATUS=x").message.is_beat());
    }

    #[test]
    fn malformed_datagrams_change_nothing() {
        let cases: &[(&[u8], Malformed)] = &[
            (b"", Malformed::Empty),
            (b"\n\n ", Malformed::Empty),
            (b"READY=1\0", Malformed::Nul),
            (b"READY=1\n\xff\xfe", Malformed::NotUtf8),
            (b"READY=1\nhello", Malformed::NoAssignment),
        ];
        for (bytes, problem) in cases {
            let parsed = parse(bytes);
            assert_eq!(parsed.problem, Some(*problem), "{bytes:?}");
            assert_eq!(parsed.message, Message::default(), "{bytes:?}");
        }
    }

    #[test]
    fn a_bad_value_drops_its_field_only() {
        let cases: &[(&[u8], &str)] = &[
            (b"READY=1\nMAINPID=abc", "MAINPID"),
            (b"READY=1\nMAINPID=0", "MAINPID"),
            (b"READY=1\nMAINPID=-5", "MAINPID"),
            (b"READY=1\nMAINPID=99999999999", "MAINPID"),
            (b"READY=1\nWATCHDOG=2", "WATCHDOG"),
            (b"READY=1\nWATCHDOG_USEC=0", "WATCHDOG_USEC"),
            (b"READY=1\nEXTEND_TIMEOUT_USEC=1e6", "EXTEND_TIMEOUT_USEC"),
            (b"READY=1\nERRNO=-1", "ERRNO"),
        ];
        for (bytes, field) in cases {
            let parsed = parse(bytes);
            assert_eq!(
                parsed.problem,
                Some(Malformed::BadValue(field)),
                "{bytes:?}"
            );
            assert!(
                parsed.message.ready,
                "{bytes:?}: the good field still counts"
            );
            assert_eq!(parsed.message.mainpid, None);
        }
        let zero = parse(b"READY=0");
        assert!(!zero.message.ready);
        assert_eq!(zero.problem, Some(Malformed::BadValue("READY")));
    }

    #[test]
    fn the_last_of_a_repeated_field_wins() {
        let parsed = parse(b"STATUS=one\nSTATUS=two\nWATCHDOG=1\nWATCHDOG=trigger");
        assert_eq!(parsed.message.status, Some("two"));
        assert_eq!(parsed.message.watchdog, Some(Watchdog::Trigger));
    }
}
