//! Rate-limited reporting of refused clients.
//!
//! Every refused request is answered, but a client looping on the socket must not turn into a
//! flood of log lines and audit rows (once 80,786 of each in 5 s): the first refusal of a uid
//! (for one kind of refusal) in a minute is logged and audited as it happens, the rest are
//! counted, and one summary row per uid and minute says how many there were. Pure bookkeeping
//! over the times it is given; the server calls it under a lock and does the logging.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// How long one uid's refusals are summed up before a summary.
pub const WINDOW: Duration = Duration::from_secs(60);

/// What a client was refused for; refusals are counted per uid and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefusalKind {
    /// Every connection slot is taken.
    TooManyConnections,
    /// A frame or request that cannot be read.
    BadRequest,
    /// A request the client's uid may not make (these are audited too).
    PermissionDenied,
}

impl RefusalKind {
    /// The name in log lines and audit rows: `permission_denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalKind::TooManyConnections => "too_many_connections",
            RefusalKind::BadRequest => "bad_request",
            RefusalKind::PermissionDenied => "permission_denied",
        }
    }
}

impl std::fmt::Display for RefusalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do with one refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The first in its window: log and audit it.
    Now,
    /// Counted for the window's summary.
    Counted,
}

/// A window that ended with refusals beyond its first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub uid: u32,
    pub kind: RefusalKind,
    /// Refusals after the first, within the window.
    pub more: u64,
    pub over: Duration,
}

#[derive(Debug, Default)]
pub struct Refusals {
    windows: HashMap<(u32, RefusalKind), (Instant, u64)>,
}

impl Refusals {
    /// Notes one refusal of `uid`; returns what to do with it, and a summary of the window it
    /// closes, if any.
    pub fn note(&mut self, uid: u32, kind: RefusalKind, now: Instant) -> (Report, Option<Summary>) {
        match self.windows.get_mut(&(uid, kind)) {
            Some((start, more)) if now.saturating_duration_since(*start) < WINDOW => {
                *more += 1;
                (Report::Counted, None)
            }
            Some((start, more)) => {
                let summary = (*more > 0).then(|| Summary {
                    uid,
                    kind,
                    more: *more,
                    over: now.saturating_duration_since(*start).min(WINDOW),
                });
                *start = now;
                *more = 0;
                (Report::Now, summary)
            }
            None => {
                self.windows.insert((uid, kind), (now, 0));
                (Report::Now, None)
            }
        }
    }

    /// Summaries of the windows that have ended by `now` (their entries are dropped).
    pub fn flush(&mut self, now: Instant) -> Vec<Summary> {
        let mut out = Vec::new();
        self.windows.retain(|&(uid, kind), (start, more)| {
            let ended = now.saturating_duration_since(*start) >= WINDOW;
            if ended && *more > 0 {
                out.push(Summary {
                    uid,
                    kind,
                    more: *more,
                    over: WINDOW,
                });
            }
            !ended
        });
        out.sort_by_key(|s| (s.uid, s.kind));
        out
    }

    /// Summaries of every window with refusals beyond its first, ended or not (at shutdown:
    /// no count is lost).
    pub fn flush_all(&mut self, now: Instant) -> Vec<Summary> {
        let mut out: Vec<Summary> = self
            .windows
            .drain()
            .filter(|(_, (_, more))| *more > 0)
            .map(|((uid, kind), (start, more))| Summary {
                uid,
                kind,
                more,
                over: now.saturating_duration_since(start).min(WINDOW),
            })
            .collect();
        out.sort_by_key(|s| (s.uid, s.kind));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RefusalKind::{BadRequest, PermissionDenied};

    #[test]
    fn one_report_per_uid_and_minute_then_a_summary() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut r = Refusals::default();
        let cases = [
            (0u32, 1000, PermissionDenied, Report::Now, None),
            (1, 1000, PermissionDenied, Report::Counted, None),
            (2, 1000, PermissionDenied, Report::Counted, None),
            (3, 2000, PermissionDenied, Report::Now, None),
            (4, 1000, BadRequest, Report::Now, None),
            (
                61,
                1000,
                PermissionDenied,
                Report::Now,
                Some(Summary {
                    uid: 1000,
                    kind: PermissionDenied,
                    more: 2,
                    over: WINDOW,
                }),
            ),
            (62, 1000, PermissionDenied, Report::Counted, None),
        ];
        for (at, uid, kind, report, summary) in cases {
            assert_eq!(r.note(uid, kind, t0 + s * at), (report, summary), "t={at}");
        }
        let flushed = r.flush(t0 + s * 200);
        assert_eq!(
            flushed,
            vec![Summary {
                uid: 1000,
                kind: PermissionDenied,
                more: 1,
                over: WINDOW
            }],
            "only windows with refusals beyond their first are summed up"
        );
        assert!(r.flush(t0 + s * 300).is_empty());
        r.note(7, PermissionDenied, t0 + s * 300);
        r.note(7, PermissionDenied, t0 + s * 301);
        r.note(8, PermissionDenied, t0 + s * 300);
        assert_eq!(
            r.flush_all(t0 + s * 310),
            vec![Summary {
                uid: 7,
                kind: PermissionDenied,
                more: 1,
                over: s * 10
            }],
            "at shutdown, windows still open are summed up too"
        );
        assert_eq!(r.note(1000, PermissionDenied, t0 + s * 301).0, Report::Now);
    }
}
