//! Who speaks for the service: the rules are [`super::sender`]'s; here they are applied to the
//! slot's state, and a sender recognised once is held by a pidfd so that its next datagrams are
//! recognised without reading `/proc`.

use std::os::fd::OwnedFd;

use super::{Inner, KnownSender};
use crate::clock::Now;
use crate::notify_socket::sender::{self, Accepted, Credentials, Leader, Members, SessionFacts};
use crate::proc_facts::{self, Liveness};

impl Inner {
    /// Who the service is now: its user, its session (with its leader looked at), MAINPID.
    pub(super) fn members(&self) -> Members {
        let session = self.session.map(|s| {
            let started_us = s.at_us_now(&Now::read());
            let leader = match proc_facts::identify(s.pid, started_us, s.ticks).liveness {
                Liveness::Running => Leader::Ours,
                Liveness::Gone => Leader::Gone,
                Liveness::Reused => Leader::Stranger,
            };
            SessionFacts {
                sid: s.pid,
                started_us,
                leader,
            }
        });
        Members {
            uid: self.uid,
            session,
            mainpid: self.mainpid,
        }
    }

    /// Whether `creds` speaks for the service ([`sender::authenticate`]), and the process the
    /// service is then: its `MAINPID`, else the session leader watchdogd started while it
    /// lives, else the sender. A sender recognised before and still alive (its pidfd says so)
    /// is recognised again without reading `/proc`.
    pub(super) fn authenticate(&mut self, creds: Credentials) -> Result<i32, sender::Refused> {
        if let Some(want) = self.uid
            && creds.uid != want
        {
            return Err(sender::Refused::WrongUser {
                uid: creds.uid,
                want,
            });
        }
        if let Some(k) = &self.known
            && k.pid == creds.pid
            && !exited(&k.fd)
        {
            return Ok(k.speaks_for);
        }
        let found = proc_facts::membership(creds.pid);
        let members = self.members();
        let accepted = sender::authenticate(creds, found, &members)?;
        let speaks_for = match (accepted, self.mainpid, members.session) {
            (Accepted::MainPid, _, _) => creds.pid,
            (_, Some((main, _)), _) => main,
            (_, None, Some(s)) if s.leader == Leader::Ours => s.sid,
            _ => creds.pid,
        };
        // Held from now on: the pidfd is opened first and the start compared after, so what
        // is held is what was judged.
        self.known = found.and_then(|f| {
            let fd = rustix::process::pidfd_open(
                rustix::process::Pid::from_raw(creds.pid)?,
                rustix::process::PidfdFlags::empty(),
            )
            .ok()?;
            let again = proc_facts::membership(creds.pid)?;
            (again.start_ticks == f.start_ticks).then_some(KnownSender {
                pid: creds.pid,
                fd,
                speaks_for,
            })
        });
        Ok(speaks_for)
    }
}

/// Whether a pidfd's process has exited (it is then readable).
fn exited(fd: &OwnedFd) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    !matches!(poll(&mut fds, Some(&Timespec::default())), Ok(0))
}
