//! What `/proc` (or the kernel) says about a process: whether it lives, when it started, which
//! group and session it is in, who owns it. Read-only: nothing here signals.
//!
//! Invariants:
//! - a process is alive only if it exists and is not a zombie: `kill(pid, 0)` succeeds for
//!   zombies, which an init that does not reap (containers) leaves behind, so on Linux the state in
//!   `/proc/PID/stat` is consulted too;
//! - a PID names the process that wrote a heartbeat only if that process started no later than
//!   the heartbeat was written (or has the start it was confirmed with before): a younger one got
//!   the number reused.

use std::path::Path;

use nix::errno::Errno;
use nix::sys::signal::{kill, killpg};
use nix::unistd::Pid;

/// Whether a process exists and is not a zombie.
pub fn is_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match kill(Pid::from_raw(pid), None) {
        Ok(()) | Err(Errno::EPERM) => !is_zombie(pid),
        Err(_) => false,
    }
}

/// The state letter of `/proc/PID/stat` is `Z` (or `X`). False where there is no `/proc`.
fn is_zombie(pid: i32) -> bool {
    proc_stat(pid).is_some_and(|st| matches!(st.state, b'Z' | b'X'))
}

/// Field `n` (0 = state, 1 = ppid, 2 = pgrp, 3 = session, …, 19 = starttime) of
/// `/proc/PID/stat`, counted after the `comm` field, which may itself hold spaces and parens.
pub fn proc_stat_field(pid: i32, n: usize) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(n).map(str::to_owned)
}

/// How far a process's start may lie after the heartbeat naming it before it counts as a
/// different process that reused the PID (clock granularity and skew).
const START_TOLERANCE_US: i64 = 2_000_000;

/// What the hot path needs from `/proc/PID/stat`: the state letter, group, session and the
/// start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcStat {
    state: u8,
    pgrp: i32,
    session: i32,
    starttime_ticks: i64,
}

/// Reads `/proc/PID/stat` into a stack buffer (one open, one read, no allocation). `None` when
/// the process does not exist (or there is no `/proc`).
fn proc_stat(pid: i32) -> Option<ProcStat> {
    use std::io::Read;
    let mut path = [0u8; 32];
    let path = {
        use std::io::Write;
        let mut cursor = std::io::Cursor::new(&mut path[..]);
        write!(cursor, "/proc/{pid}/stat").ok()?;
        let n = cursor.position() as usize;
        std::str::from_utf8(&path[..n]).ok()?
    };
    let mut file = std::fs::File::open(path).ok()?;
    let mut buf = [0u8; 1024];
    let n = file.read(&mut buf).ok()?;
    let text = &buf[..n];
    let close = text.iter().rposition(|&b| b == b')')?;
    let mut fields = text[close + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let number = |f: Option<&[u8]>| -> Option<i64> { std::str::from_utf8(f?).ok()?.parse().ok() };
    let state = *fields.next()?.first()?;
    let _ppid = fields.next()?;
    let pgrp = number(fields.next())? as i32;
    let session = number(fields.next())? as i32;
    let starttime_ticks = number(fields.nth(15))?;
    Some(ProcStat {
        state,
        pgrp,
        session,
        starttime_ticks,
    })
}

/// Clock ticks per second of `/proc/PID/stat` times, read once.
fn ticks_per_second() -> i64 {
    static HZ: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *HZ.get_or_init(|| i64::from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as i32).max(1))
}

fn has_proc() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| Path::new("/proc/self/stat").exists())
}

/// A start time in ticks after boot, as wall time on the wall clock as it runs now (the boot
/// time is taken afresh each time: it moves with every step of the wall clock).
fn ticks_to_us(ticks: i64) -> i64 {
    crate::clock::boot_offset_us() + ticks.saturating_mul(1_000_000) / ticks_per_second()
}

/// When a process started, in µs since the epoch (Linux: `/proc/PID/stat` starttime + boot time).
pub fn start_time_us(pid: i32) -> Option<i64> {
    proc_stat(pid).map(|st| ticks_to_us(st.starttime_ticks))
}

/// Where a live process belongs: its process group and session, and its start (ticks after
/// boot, and as wall time on the clock as it runs now). What the notify sockets ask of a
/// sender; one read of `/proc/PID/stat`, no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub pgrp: i32,
    pub session: i32,
    pub start_ticks: i64,
    pub start_us: i64,
}

/// [`Membership`] of `pid`; `None` when it is gone (or a zombie), or there is no `/proc`.
pub fn membership(pid: i32) -> Option<Membership> {
    if pid <= 0 {
        return None;
    }
    proc_stat(pid)
        .filter(|st| !matches!(st.state, b'Z' | b'X'))
        .map(|st| Membership {
            pgrp: st.pgrp,
            session: st.session,
            start_ticks: st.starttime_ticks,
            start_us: ticks_to_us(st.starttime_ticks),
        })
}

/// Whether a heartbeat's PID still belongs to the process that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Running,
    /// No such process (or only its zombie).
    Gone,
    /// A process with that PID started after the heartbeat was written: not its writer.
    Reused,
}

/// What [`identify`] found: whether the PID is still the writer, and the start time (ticks
/// after boot) of the process holding it, where `/proc` tells: the same PID with the same start
/// is the same process, whatever the wall clock did since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub liveness: Liveness,
    pub start_ticks: Option<i64>,
}

impl Identity {
    pub fn of(liveness: Liveness) -> Identity {
        Identity {
            liveness,
            start_ticks: None,
        }
    }
}

/// Whether `pid` is alive and is still the process that wrote a heartbeat at `written_us`
/// (wall time on the clock as it runs now). `known_ticks`: the start of the process this PID
/// was confirmed as before; the same start is the same process, so no clock is asked. The
/// check's hot path: one read of `/proc/PID/stat` answers all of it.
pub fn identify(pid: i32, written_us: i64, known_ticks: Option<i64>) -> Identity {
    if pid <= 0 {
        return Identity::of(Liveness::Gone);
    }
    match proc_stat(pid) {
        Some(st) if matches!(st.state, b'Z' | b'X') => Identity::of(Liveness::Gone),
        Some(st) => {
            let liveness = if known_ticks == Some(st.starttime_ticks) {
                Liveness::Running
            } else if ticks_to_us(st.starttime_ticks)
                > written_us.saturating_add(START_TOLERANCE_US)
            {
                Liveness::Reused
            } else {
                Liveness::Running
            };
            Identity {
                liveness,
                start_ticks: Some(st.starttime_ticks),
            }
        }
        // No such entry: gone, unless there is no /proc at all (then ask the kernel).
        None if has_proc() => Identity::of(Liveness::Gone),
        None if is_alive(pid) => Identity::of(Liveness::Running),
        None => Identity::of(Liveness::Gone),
    }
}

/// [`identify`] without an earlier identity.
pub fn liveness(pid: i32, written_us: i64) -> Liveness {
    identify(pid, written_us, None).liveness
}

/// [`liveness`] is [`Liveness::Running`].
pub fn is_running_since(pid: i32, heartbeat_us: i64) -> bool {
    liveness(pid, heartbeat_us) == Liveness::Running
}

/// The start (ticks after boot) of the process holding `pid` now.
pub fn start_ticks(pid: i32) -> Option<i64> {
    proc_stat(pid)
        .filter(|st| !matches!(st.state, b'Z' | b'X'))
        .map(|st| st.starttime_ticks)
}

/// The PIDs whose process group is `pgid`, zombies left out (a scan of `/proc`).
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let group = pgid.to_string();
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|&pid| proc_stat_field(pid, 2).is_some_and(|g| g == group) && !is_zombie(pid))
        .collect()
}

/// Whether a process group has a member that is not a zombie.
pub fn group_is_alive(pgid: i32) -> bool {
    match killpg(Pid::from_raw(pgid), None) {
        Ok(()) | Err(Errno::EPERM) => {}
        Err(_) => return false,
    }
    if !has_proc() {
        return true;
    }
    !group_members(pgid).is_empty()
}

/// Whether `pid` leads its own process group (so the group is the service's own).
pub fn leads_own_group(pid: i32) -> bool {
    nix::unistd::getpgid(Some(Pid::from_raw(pid))).is_ok_and(|g| g.as_raw() == pid)
}

/// The uid owning a running process (its effective uid), where `/proc` tells.
pub fn owner_uid(pid: i32) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}"))
        .ok()
        .map(|m| m.uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_reads_this_process() {
        let me = std::process::id() as i32;
        let st = proc_stat(me).unwrap();
        assert!(matches!(st.state, b'R' | b'S'));
        assert_eq!(st.pgrp, nix::unistd::getpgrp().as_raw());
        assert_eq!(st.session, nix::unistd::getsid(None).unwrap().as_raw());
        let m = membership(me).unwrap();
        assert_eq!((m.pgrp, m.session), (st.pgrp, st.session));
        assert_eq!(m.start_ticks, st.starttime_ticks);
        let start = start_time_us(me).unwrap();
        let now = protocol::time::now_micros();
        assert!(
            start <= now && now - start < 600_000_000,
            "started within the last 10 minutes"
        );
        assert!(is_running_since(me, now));
        assert!(
            !is_running_since(me, start - 60_000_000),
            "a heartbeat older than the process"
        );
        assert!(!is_running_since(i32::MAX - 3, now));
    }
}
