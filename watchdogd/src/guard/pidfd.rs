//! Signalling a process only once it is known to be the one meant, and then through a pidfd.
//!
//! A PID is just a number the kernel hands out again once its process is gone. Checking a
//! process's start time and then calling `kill(pid)` leaves a window in which the process can
//! exit and the number go to a stranger; with SIGTERM, a grace period and then SIGKILL, that
//! window is seconds long. A pidfd (Linux 5.3+) refers to one process for good: it is opened
//! first, the identity is confirmed after (so what was confirmed is what the descriptor holds),
//! and every signal goes through it.
//!
//! A process group has no descriptor of its own. Its number stays taken while any member lives,
//! so the group is signalled (`killpg`) only while an *anchor* is still in it: a member whose
//! identity was confirmed (the started session's leader, or the heartbeat's process when it is
//! a member) and whose pidfd shows it alive. While the anchor is in the group, the number is
//! provably the service's, and so is every member then: each is held by a pidfd too. When the
//! anchor itself has gone (a start shell exits on SIGTERM, its children linger), one of those
//! held members that is still in the group anchors it instead; a process merely found in a
//! group of that number later never does.
//!
//! Where there are no pidfds (older kernels, other Unixes) the same checks run, but the signal
//! goes by number right after them: the window is that of two system calls, not of the grace
//! period. README's threat model says so.

use std::os::fd::{AsFd, OwnedFd};

use nix::sys::signal::Signal;

use crate::proc_facts::{self, Liveness};

/// Why the daemon will not signal a PID (or the process group of that number), whoever names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unsignallable {
    /// PID 1 (init), 0 or a negative number (which `kill` reads as "a whole group").
    #[error("refusing to signal pid {0}")]
    Reserved(i32),
    #[error("refusing to signal pid {0}: it is watchdogd itself")]
    Daemon(i32),
    #[error("refusing to signal pid {0}: it leads watchdogd's own process group")]
    DaemonGroup(i32),
    #[error("refusing to signal pid {0}: it leads watchdogd's own session")]
    DaemonSession(i32),
}

/// Whether the daemon may signal `pid` at all (or, for a group, the group `pid`): never PID ≤ 1,
/// the daemon itself, or the leader of its own process group or session.
pub fn is_signallable(pid: i32) -> Result<(), Unsignallable> {
    if pid <= 1 {
        return Err(Unsignallable::Reserved(pid));
    }
    if pid == std::process::id() as i32 {
        return Err(Unsignallable::Daemon(pid));
    }
    if pid == nix::unistd::getpgrp().as_raw() {
        return Err(Unsignallable::DaemonGroup(pid));
    }
    if nix::unistd::getsid(None).is_ok_and(|s| s.as_raw() == pid) {
        return Err(Unsignallable::DaemonSession(pid));
    }
    Ok(())
}

/// A process whose identity was confirmed, held by a pidfd where there is one.
#[derive(Debug)]
pub struct Confirmed {
    pid: i32,
    fd: Option<OwnedFd>,
}

/// Why [`Confirmed::open`] refused a PID that a live process holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Unsignallable(#[from] Unsignallable),
    /// The process started after the heartbeat (or start) that named it: a stranger.
    #[error("refusing to signal pid {0}: it started after the heartbeat naming it (pid reused)")]
    Reused(i32),
}

/// What [`Confirmed::open`] found.
#[derive(Debug)]
pub enum Found {
    Confirmed(Confirmed),
    /// No such process (or only its zombie).
    Gone,
    /// A process holds the PID, but not the one meant.
    Refused(Refusal),
}

impl Confirmed {
    /// Opens `pid` and confirms it is the process meant: it passes the signalling rules
    /// ([`is_signallable`]), and it is the process with start `known_ticks` (ticks
    /// after boot) when that is known, else it started no later than `started_by_us` (µs since
    /// the epoch, on the clock as it runs now: a heartbeat's time, or when watchdogd started
    /// it) allows; otherwise the PID was reused.
    pub fn open(pid: i32, started_by_us: i64, known_ticks: Option<i64>) -> Found {
        if let Err(why) = is_signallable(pid) {
            return Found::Refused(why.into());
        }
        let fd = open_pidfd(pid);
        if matches!(fd, Err(rustix::io::Errno::SRCH)) {
            return Found::Gone;
        }
        let held = Confirmed { pid, fd: fd.ok() };
        // After the open: what is read now is the descriptor's process, unless it has exited
        // (checked last, so a reuse in between is caught).
        let identity = proc_facts::identify(pid, started_by_us, known_ticks);
        if held.has_exited() {
            return Found::Gone;
        }
        let liveness = match (known_ticks, identity.start_ticks) {
            // Known and found: the same start or a stranger, whatever the clocks say.
            (Some(want), Some(have)) if want != have => Liveness::Reused,
            _ => identity.liveness,
        };
        match liveness {
            Liveness::Running => Found::Confirmed(held),
            Liveness::Gone => Found::Gone,
            Liveness::Reused => Found::Refused(Refusal::Reused(pid)),
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Whether the process was opened through a pidfd (else signals go by number).
    pub fn has_pidfd(&self) -> bool {
        self.fd.is_some()
    }

    /// Sends `sig` to this process. A process that is already gone is not an error.
    pub fn signal(&self, sig: Signal) -> std::io::Result<()> {
        let result = match &self.fd {
            Some(fd) => rustix::process::pidfd_send_signal(fd, to_rustix(sig)).map_err(Into::into),
            None => nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), sig)
                .map_err(std::io::Error::from),
        };
        match result {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            other => other,
        }
    }

    /// Whether the process has exited (a zombie counts as exited).
    pub fn has_exited(&self) -> bool {
        match &self.fd {
            Some(fd) => readable(fd.as_fd()) || !proc_facts::is_alive(self.pid),
            None => !proc_facts::is_alive(self.pid),
        }
    }

    /// The process group it is in right now, where `/proc` tells.
    pub fn group(&self) -> Option<i32> {
        let pgrp = proc_facts::proc_stat_field(self.pid, 2)?.parse().ok()?;
        (!self.has_exited()).then_some(pgrp)
    }
}

/// A process group, signalled only while its anchor lives in it.
#[derive(Debug)]
pub struct Group {
    pgid: i32,
    anchor: Confirmed,
    /// Members held while the group was provably the service's (see the module note).
    members: Vec<Confirmed>,
}

impl Group {
    /// The group `pgid`, anchored by `anchor` if that process is a member of it now.
    pub fn anchored(pgid: i32, anchor: Confirmed) -> Result<Group, Confirmed> {
        if is_signallable(pgid).is_ok() && anchor.group() == Some(pgid) {
            let mut group = Group {
                pgid,
                anchor,
                members: Vec::new(),
            };
            group.hold_members();
            Ok(group)
        } else {
            Err(anchor)
        }
    }

    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    /// Sends `sig` to the whole group, if its anchor is still in it; returns whether it did.
    /// A gone anchor is replaced first by a held member still in the group, if there is one.
    pub fn signal(&mut self, sig: Signal) -> bool {
        if self.anchor.group() != Some(self.pgid) && !self.reanchor() {
            return false;
        }
        self.hold_members();
        nix::sys::signal::killpg(nix::unistd::Pid::from_raw(self.pgid), sig).is_ok()
    }

    /// Whether any member of the group is left (zombies do not count).
    pub fn is_alive(&self) -> bool {
        proc_facts::group_is_alive(self.pgid)
    }

    /// Holds every member of the group by a pidfd, while the anchor shows the group is ours:
    /// each is opened first and kept only if the anchor is still in the group after.
    fn hold_members(&mut self) {
        for pid in proc_facts::group_members(self.pgid) {
            if pid == self.anchor.pid || self.members.iter().any(|m| m.pid == pid) {
                continue;
            }
            let Ok(fd) = open_pidfd(pid) else { continue };
            let member = Confirmed { pid, fd: Some(fd) };
            if member.group() == Some(self.pgid) && self.anchor.group() == Some(self.pgid) {
                self.members.push(member);
            }
        }
        self.members.retain(|m| !m.has_exited());
    }

    /// Makes a held member still in the group the anchor.
    fn reanchor(&mut self) -> bool {
        let pgid = self.pgid;
        match self.members.iter().position(|m| m.group() == Some(pgid)) {
            Some(i) => {
                self.anchor = self.members.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

#[cfg(target_os = "linux")]
fn open_pidfd(pid: i32) -> Result<OwnedFd, rustix::io::Errno> {
    let Some(raw) = rustix::process::Pid::from_raw(pid) else {
        return Err(rustix::io::Errno::SRCH);
    };
    rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty())
}

#[cfg(not(target_os = "linux"))]
fn open_pidfd(_pid: i32) -> Result<OwnedFd, rustix::io::Errno> {
    Err(rustix::io::Errno::NOSYS)
}

/// Whether a descriptor is readable now (for a pidfd: its process has exited).
fn readable(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    let mut fds = [rustix::event::PollFd::new(
        &fd,
        rustix::event::PollFlags::IN,
    )];
    matches!(rustix::event::poll(&mut fds, Some(&rustix::event::Timespec::default())), Ok(n) if n > 0)
}

fn to_rustix(sig: Signal) -> rustix::process::Signal {
    match sig {
        Signal::SIGTERM => rustix::process::Signal::TERM,
        Signal::SIGKILL => rustix::process::Signal::KILL,
        Signal::SIGCONT => rustix::process::Signal::CONT,
        Signal::SIGSTOP => rustix::process::Signal::STOP,
        Signal::SIGINT => rustix::process::Signal::INT,
        Signal::SIGHUP => rustix::process::Signal::HUP,
        _ => rustix::process::Signal::TERM,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_init_self_and_own_group() {
        for pid in [
            -5,
            0,
            1,
            std::process::id() as i32,
            nix::unistd::getpgrp().as_raw(),
        ] {
            assert!(is_signallable(pid).is_err(), "{pid}");
        }
    }

    #[test]
    fn a_child_is_confirmed_signalled_and_seen_gone() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let Found::Confirmed(c) = Confirmed::open(pid, protocol::time::now_micros(), None) else {
            panic!("not confirmed");
        };
        assert!(!c.has_exited());
        c.signal(Signal::SIGKILL).unwrap();
        child.wait().unwrap();
        assert!(c.has_exited());
        // Signalling a reaped process through its pidfd never reaches another one.
        c.signal(Signal::SIGKILL).unwrap();
    }

    #[test]
    fn a_process_younger_than_the_heartbeat_is_refused() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let an_hour_ago = protocol::time::now_micros() - 3_600_000_000;
        let found = Confirmed::open(child.id() as i32, an_hour_ago, None);
        assert!(
            matches!(found, Found::Refused(Refusal::Reused(_))),
            "{found:?}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(matches!(
            Confirmed::open(i32::MAX - 9, an_hour_ago, None),
            Found::Gone
        ));
        assert!(matches!(
            Confirmed::open(1, an_hour_ago, None),
            Found::Refused(_)
        ));
    }

    #[test]
    fn a_known_start_decides_whatever_the_clock_says() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let ticks = proc_facts::start_ticks(pid).unwrap();
        let an_hour_ago = protocol::time::now_micros() - 3_600_000_000;
        // The clock says "started after the heartbeat", but it is the process confirmed before.
        assert!(matches!(
            Confirmed::open(pid, an_hour_ago, Some(ticks)),
            Found::Confirmed(_)
        ));
        // Another start is another process, however plausible the clock makes it.
        let now = protocol::time::now_micros();
        assert!(matches!(
            Confirmed::open(pid, now, Some(ticks - 1)),
            Found::Refused(_)
        ));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
