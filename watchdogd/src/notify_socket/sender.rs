//! Whose a notify datagram is: the rule that decides whether a sender speaks for a service.
//!
//! The kernel reports the sender's PID, uid and gid with every datagram (`SCM_CREDENTIALS`,
//! which a process can set to another PID only with `CAP_SYS_ADMIN`, to another uid only with
//! `CAP_SETUID`). A message is the service's only when it comes from a process of that service:
//!
//! - with `user` configured, from that uid (any other uid is refused first);
//! - from the process it named with `MAINPID=` (the same PID *and* the same start), or
//! - from a process in the session watchdogd started for it (or in that session's process
//!   group), which started no earlier than that session did, while the session's number is
//!   still the service's: its leader is alive as itself, or gone (a session's number is not
//!   handed out again while any process is in it).
//!
//! A sender that exited before its datagram was read is refused (whose it was cannot be told),
//! unless it was that session's leader: a session's number is not handed out again while the
//! session has members, so a datagram from that number with no process now holding it was the
//! leader's (a forking service's parent sends `MAINPID=` and `READY=1`, then exits).
//!
//! Anything else (a process of the same user outside the service, another process that exited
//! before its datagram was read, a session number taken over by a stranger) is refused and
//! counted. [`authenticate`] is the rule, pure and table-tested; what it is fed is read from
//! `/proc` by the caller.

use crate::proc_facts::Membership;

/// How far a sender's start may lie before its session's start (clock granularity).
const START_TOLERANCE_US: i64 = 2_000_000;

/// The kernel's word on who sent a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    pub pid: i32,
    pub uid: u32,
}

/// The session watchdogd started for the service, and what became of its leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionFacts {
    /// The leader's PID: the session's and its process group's ID.
    pub sid: i32,
    /// When watchdogd started it (wall µs, on the clock as it runs now).
    pub started_us: i64,
    pub leader: Leader,
}

/// The session leader watchdogd started, as found now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leader {
    /// Alive, and the process watchdogd started.
    Ours,
    /// Gone: its session lives on in its members, if any.
    Gone,
    /// Its PID is held by a process that started later: the number may be someone else's.
    Stranger,
}

/// Who the service is, as the daemon knows it now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Members {
    /// With `user`: the only uid that may speak.
    pub uid: Option<u32>,
    pub session: Option<SessionFacts>,
    /// The process `MAINPID=` named, and its start (ticks after boot).
    pub mainpid: Option<(i32, i64)>,
}

/// How a sender was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    MainPid,
    Session,
}

/// Why a sender was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("sent by uid {uid}, not the service's user (uid {want})")]
    WrongUser { uid: u32, want: u32 },
    /// The sender exited before its datagram was read: whose it was cannot be told.
    #[error(
        "pid {pid} exited before its message was read, so whose it was cannot be told (systemd-notify --no-block?)"
    )]
    Gone { pid: i32 },
    /// Not a process of the service.
    #[error(
        "pid {pid} is not a process of the service (not its MAINPID, not in the session watchdogd started)"
    )]
    Stranger { pid: i32 },
    /// watchdogd has started no session for the service yet.
    #[error(
        "pid {pid} sent it, but watchdogd has not started this service (no session to belong to)"
    )]
    NoSession { pid: i32 },
}

/// Why a `MAINPID=` from an accepted sender is not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MainPidRefused {
    #[error("MAINPID={target} names no running process")]
    NotRunning { target: i32 },
    #[error("MAINPID={target} is owned by uid {have}, not the service's user (uid {want})")]
    WrongUser { target: i32, have: u32, want: u32 },
    #[error("MAINPID={target} is not the sender and not in the session watchdogd started")]
    Outside { target: i32 },
}

/// Whether the sender `creds` (found as `found` in `/proc`, `None` when gone) speaks for the
/// service `members` (see the module note).
pub fn authenticate(
    creds: Credentials,
    found: Option<Membership>,
    members: &Members,
) -> Result<Accepted, Refused> {
    if let Some(want) = members.uid
        && creds.uid != want
    {
        return Err(Refused::WrongUser {
            uid: creds.uid,
            want,
        });
    }
    let pid = creds.pid;
    let Some(found) = found else {
        // Gone already, but it was the leader watchdogd started (a forking service's parent
        // sends `MAINPID=` and `READY=1` and exits at once): the number is the session's, so
        // no one else can have held it while the session lives, and nobody holds it now.
        return match members.session {
            Some(s) if s.sid == pid && s.leader == Leader::Gone => Ok(Accepted::Session),
            _ => Err(Refused::Gone { pid }),
        };
    };
    if members.mainpid == Some((pid, found.start_ticks)) {
        return Ok(Accepted::MainPid);
    }
    let Some(session) = members.session else {
        return Err(Refused::NoSession { pid });
    };
    let inside = found.session == session.sid || found.pgrp == session.sid;
    let since = found.start_us >= session.started_us.saturating_sub(START_TOLERANCE_US);
    if inside && since && session.leader != Leader::Stranger {
        Ok(Accepted::Session)
    } else {
        Err(Refused::Stranger { pid })
    }
}

/// Whether `MAINPID=target`, sent by `sender` (already accepted), may be taken: the target is
/// alive (`found`), of the service's user, and is the sender itself or in its session.
pub fn may_name(
    target: i32,
    found: Option<Membership>,
    owner_uid: Option<u32>,
    sender: i32,
    members: &Members,
) -> Result<(), MainPidRefused> {
    let Some(found) = found else {
        return Err(MainPidRefused::NotRunning { target });
    };
    if let (Some(want), Some(have)) = (members.uid, owner_uid)
        && want != have
    {
        return Err(MainPidRefused::WrongUser { target, have, want });
    }
    let in_session = members
        .session
        .is_some_and(|s| found.session == s.sid || found.pgrp == s.sid);
    if target == sender || in_session {
        Ok(())
    } else {
        Err(MainPidRefused::Outside { target })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_800_000_000_000_000;

    fn proc(pid_session: i32, pgrp: i32, ticks: i64, start_us: i64) -> Option<Membership> {
        Some(Membership {
            pgrp,
            session: pid_session,
            start_ticks: ticks,
            start_us,
        })
    }

    fn members(leader: Leader) -> Members {
        Members {
            uid: Some(1000),
            session: Some(SessionFacts {
                sid: 500,
                started_us: START,
                leader,
            }),
            mainpid: None,
        }
    }

    fn creds(pid: i32, uid: u32) -> Credentials {
        Credentials { pid, uid }
    }

    /// What the case is, who sent, what /proc says of it, who the service is, the answer.
    type Case = (
        &'static str,
        Credentials,
        Option<Membership>,
        Members,
        Result<Accepted, Refused>,
    );

    #[test]
    fn senders_table() {
        let later = START + 1_000_000;
        let with_main = Members {
            mainpid: Some((777, 42)),
            ..members(Leader::Gone)
        };
        let no_session = Members {
            session: None,
            ..members(Leader::Ours)
        };
        let cases: Vec<Case> = vec![
            (
                "the leader itself",
                creds(500, 1000),
                proc(500, 500, 1, START),
                members(Leader::Ours),
                Ok(Accepted::Session),
            ),
            (
                "a child in the session",
                creds(501, 1000),
                proc(500, 500, 2, later),
                members(Leader::Ours),
                Ok(Accepted::Session),
            ),
            (
                "a child in the group, own session",
                creds(502, 1000),
                proc(502, 500, 2, later),
                members(Leader::Ours),
                Ok(Accepted::Session),
            ),
            (
                "a member after the leader left",
                creds(501, 1000),
                proc(500, 500, 2, later),
                members(Leader::Gone),
                Ok(Accepted::Session),
            ),
            (
                "another uid",
                creds(501, 0),
                proc(500, 500, 2, later),
                members(Leader::Ours),
                Err(Refused::WrongUser { uid: 0, want: 1000 }),
            ),
            (
                "same uid, outside the session",
                creds(900, 1000),
                proc(900, 900, 2, later),
                members(Leader::Ours),
                Err(Refused::Stranger { pid: 900 }),
            ),
            (
                "a session number taken over",
                creds(501, 1000),
                proc(500, 500, 2, later),
                members(Leader::Stranger),
                Err(Refused::Stranger { pid: 501 }),
            ),
            (
                "older than the session",
                creds(501, 1000),
                proc(500, 500, 2, START - 60_000_000),
                members(Leader::Gone),
                Err(Refused::Stranger { pid: 501 }),
            ),
            (
                "exited before the read",
                creds(501, 1000),
                None,
                members(Leader::Ours),
                Err(Refused::Gone { pid: 501 }),
            ),
            (
                "the leader, exited before the read",
                creds(500, 1000),
                None,
                members(Leader::Gone),
                Ok(Accepted::Session),
            ),
            (
                "the leader's number, now a stranger's",
                creds(500, 1000),
                None,
                members(Leader::Stranger),
                Err(Refused::Gone { pid: 500 }),
            ),
            (
                "the leader's number, another uid",
                creds(500, 0),
                None,
                members(Leader::Gone),
                Err(Refused::WrongUser { uid: 0, want: 1000 }),
            ),
            (
                "MAINPID, left the session",
                creds(777, 1000),
                proc(777, 777, 42, later),
                with_main,
                Ok(Accepted::MainPid),
            ),
            (
                "MAINPID's number, reused",
                creds(777, 1000),
                proc(777, 777, 43, later),
                with_main,
                Err(Refused::Stranger { pid: 777 }),
            ),
            (
                "nothing started yet",
                creds(501, 1000),
                proc(500, 500, 2, later),
                no_session,
                Err(Refused::NoSession { pid: 501 }),
            ),
        ];
        for (what, c, found, m, want) in cases {
            assert_eq!(authenticate(c, found, &m), want, "{what}");
        }
        let root_service = Members {
            uid: None,
            ..members(Leader::Ours)
        };
        assert_eq!(
            authenticate(creds(501, 0), proc(500, 500, 2, later), &root_service),
            Ok(Accepted::Session),
            "without user, any uid in the session"
        );
    }

    #[test]
    fn mainpid_targets_table() {
        let m = members(Leader::Ours);
        let child = proc(500, 500, 9, START);
        let outside = proc(900, 900, 9, START);
        assert_eq!(may_name(600, child, Some(1000), 501, &m), Ok(()));
        assert_eq!(
            may_name(501, outside, Some(1000), 501, &m),
            Ok(()),
            "itself"
        );
        assert_eq!(
            may_name(900, outside, Some(1000), 501, &m),
            Err(MainPidRefused::Outside { target: 900 })
        );
        let wrong_user = may_name(600, child, Some(0), 501, &m).unwrap_err();
        assert_eq!(
            wrong_user,
            MainPidRefused::WrongUser {
                target: 600,
                have: 0,
                want: 1000
            }
        );
        assert!(wrong_user.to_string().contains("uid 0"), "{wrong_user}");
        let gone = may_name(600, None, Some(1000), 501, &m).unwrap_err();
        assert!(gone.to_string().contains("no running"), "{gone}");
    }
}
