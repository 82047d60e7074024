//! Touching other processes: probing, signalling, spawning. The only module that sends signals.
//!
//! Invariants:
//! - no signal ever goes to PID ≤ 1, to the daemon itself, or to the daemon's own process group
//!   or session, whatever a heartbeat claims ([`is_signallable`]);
//! - a process is alive only if it exists and is not a zombie: `kill(pid, 0)` succeeds for
//!   zombies, which an init that does not reap (containers) leaves behind, so on Linux the state in
//!   `/proc/PID/stat` is consulted too;
//! - children are spawned with tokio's `Command`, which reaps them; the daemon never calls
//!   `waitpid(-1)`, which would steal tokio's exit statuses.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};

use crate::guard::pidfd::{Confirmed, Group};
use nix::unistd::Pid;
use tokio::time::Instant;

/// Environment variables the daemon's supervisor may have set for itself; children must not
/// inherit them or they would speak to systemd in the daemon's name.
const PRIVATE_ENV: [&str; 4] = [
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
];

/// How often a stop polls for the process to be gone.
const POLL: Duration = Duration::from_millis(25);

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

/// Whether the daemon may signal `pid` at all (or, for a group, the group `pid`).
pub fn is_signallable(pid: i32) -> Result<(), String> {
    let me = std::process::id() as i32;
    if pid <= 1 {
        return Err(format!("refusing to signal pid {pid}"));
    }
    if pid == me {
        return Err(format!(
            "refusing to signal pid {pid}: it is watchdogd itself"
        ));
    }
    if pid == nix::unistd::getpgrp().as_raw() {
        return Err(format!(
            "refusing to signal pid {pid}: it leads watchdogd's own process group"
        ));
    }
    if nix::unistd::getsid(None).is_ok_and(|s| s.as_raw() == pid) {
        return Err(format!(
            "refusing to signal pid {pid}: it leads watchdogd's own session"
        ));
    }
    Ok(())
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

/// Something to stop: one confirmed process, or a process group held by a confirmed member.
#[derive(Debug)]
pub enum Target {
    Process(Confirmed),
    Group(Group),
}

impl Target {
    fn signal(&mut self, sig: Signal) {
        match self {
            Target::Process(p) => {
                let _ = p.signal(sig);
            }
            Target::Group(g) => {
                g.signal(sig);
            }
        }
    }

    /// Whether anything non-zombie is left of the target.
    pub fn is_alive(&self) -> bool {
        match self {
            Target::Process(p) => !p.has_exited(),
            Target::Group(g) => g.is_alive(),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Process(p) => write!(f, "pid {}", p.pid()),
            Target::Group(g) => write!(f, "process group {}", g.pgid()),
        }
    }
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

/// Stops `targets`: SIGTERM (then SIGCONT, so a stopped process can act on it), up to `grace`
/// for them to go, then SIGKILL and up to a few seconds more. Every signal goes through the
/// targets' confirmed identities (see [`crate::guard::pidfd`]). Returns what it did, or why the
/// targets are still alive.
pub async fn stop(mut targets: Vec<Target>, grace: Duration) -> Result<String, String> {
    targets.retain(Target::is_alive);
    if targets.is_empty() {
        return Ok("no process to stop".into());
    }
    for t in &mut targets {
        t.signal(Signal::SIGTERM);
        t.signal(Signal::SIGCONT);
    }
    let names = targets
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if wait_gone(&targets, grace).await {
        return Ok(format!("stopped {names} with SIGTERM"));
    }
    for t in &mut targets {
        t.signal(Signal::SIGKILL);
    }
    if wait_gone(&targets, Duration::from_secs(5)).await {
        Ok(format!(
            "killed {names} with SIGKILL after {}s",
            grace.as_secs_f64()
        ))
    } else {
        Err(format!("{names} still alive after SIGKILL"))
    }
}

async fn wait_gone(targets: &[Target], within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if targets.iter().all(|t| !t.is_alive()) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A user's uid, from a name or a numeric id (`None` when no such user).
pub fn user_uid(user: &str) -> Option<u32> {
    match user.parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => nix::unistd::User::from_name(user)
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw()),
    }
}

/// The uid owning a running process (its effective uid), where `/proc` tells.
pub fn owner_uid(pid: i32) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}"))
        .ok()
        .map(|m| m.uid())
}

/// A `/bin/bash -c COMMAND` child (stdin on /dev/null, output discarded, without the daemon's
/// private environment). [`crate::guard::spawn::ChildSetup`] gives it its session, rights and
/// working folder.
pub fn shell(command: &str, args: &[String]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("/bin/bash");
    if args.is_empty() {
        cmd.arg("-c").arg(command);
    } else {
        // `"$@"` passes the arguments through untouched, whatever they contain.
        cmd.arg("-c")
            .arg(format!("{command} \"$@\""))
            .arg("watchdogd")
            .args(args);
    }
    quiet(&mut cmd);
    cmd
}

/// A child running `program` with `args` directly (no shell), set up like [`shell`]'s.
pub fn direct(program: &Path, args: &[String]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    quiet(&mut cmd);
    cmd
}

fn quiet(cmd: &mut tokio::process::Command) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for var in PRIVATE_ENV {
        cmd.env_remove(var);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::pidfd::Found;

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

    #[tokio::test]
    async fn stops_a_whole_group_including_a_stopped_process() {
        let mut cmd = shell("sleep 300 & sleep 300; wait", &[]);
        cmd.process_group(0);
        let mut child = cmd.spawn().unwrap();
        let pgid = child.id().unwrap() as i32;
        // Let bash fork its children, then freeze the leader: SIGCONT must wake it for TERM.
        tokio::time::sleep(Duration::from_millis(200)).await;
        kill(Pid::from_raw(pgid), Signal::SIGSTOP).unwrap();
        assert!(leads_own_group(pgid));
        let Found::Confirmed(leader) = Confirmed::open(pgid, protocol::time::now_micros(), None)
        else {
            panic!("leader not confirmed");
        };
        let group = Group::anchored(pgid, leader).unwrap();
        let out = stop(vec![Target::Group(group)], Duration::from_secs(5))
            .await
            .unwrap();
        assert!(out.contains("SIGTERM"), "{out}");
        let _ = child.wait().await;
        assert!(!group_is_alive(pgid));
    }

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

    #[tokio::test]
    async fn stop_of_nothing_succeeds() {
        assert_eq!(
            stop(Vec::new(), Duration::from_secs(1)).await.unwrap(),
            "no process to stop"
        );
    }

    #[tokio::test]
    async fn shell_passes_arguments_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let status = shell(
            &format!("printf '%s|' > {}", out.display()),
            &["--force".into(), "a b".into()],
        )
        .status()
        .await
        .unwrap();
        assert!(status.success());
        assert_eq!(std::fs::read_to_string(out).unwrap(), "--force|a b|");
    }
}
