//! What a child of the daemon starts with: nothing of the daemon's but what it is meant to get.
//!
//! The daemon itself may have been started with stray descriptors (a shell's, a deploy tool's),
//! with signals ignored (`nohup`, a non-interactive shell's `&`), and it raises its own
//! open-files limit; a service must inherit none of that. Between fork and exec (in
//! [`ChildSetup::install`]'s `pre_exec`, where only async-signal-safe calls are allowed, so
//! everything is prepared before) the child:
//!
//! 1. resets every signal to its default disposition and empties the signal mask;
//! 2. starts a new session (its own process group, no controlling terminal);
//! 3. gets back the open-files limit the daemon was started with;
//! 4. with `user`/`group` (root daemons): takes the user's supplementary groups (as
//!    `initgroups` would), then the gid, then the uid;
//! 5. enters its working folder, with those rights;
//! 6. with `user`: creates its log folders and opens its `stdout_log`/`stderr_log` itself,
//!    with the user's rights and never through a symlink, onto fds 1 and 2;
//! 7. marks every descriptor from 3 up close-on-exec (`close_range`), so it runs with 0–2 only.
//!
//! A failure in any of these fails the spawn; the child writes which stage it reached to a
//! pipe first, so the error names what went wrong (`opening stdout_log /x as nobody`).

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The open-files limit the daemon was started with, before it raised its own.
static STARTING_NOFILE: OnceLock<Option<(u64, u64)>> = OnceLock::new();

/// Records the limits children get back; call once at start, before raising them.
pub fn remember_limits() {
    STARTING_NOFILE.get_or_init(|| {
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).ok()
    });
}

/// Marks every descriptor the daemon inherited (from 3 up) close-on-exec, so none of them
/// leaks into a child even if a spawn path forgets to close it. Call once, first thing.
pub fn seal_inherited_fds() {
    #[cfg(target_os = "linux")]
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on descriptors.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
}

/// Who a service runs as, resolved from its `user`/`group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the user's, from the group database (`getgrouplist`).
    pub groups: Vec<u32>,
    /// Account name and home, when the user database has the account.
    pub name: Option<String>,
    pub home: Option<PathBuf>,
}

/// Resolves a configured `user` (name or uid) and `group` (name or gid). `None` when nothing
/// is configured or nothing would change; an error when the user or group does not exist, or
/// when switching needs root and the daemon is not root. Blocking (user database lookups).
pub fn resolve(user: Option<&str>, group: Option<&str>) -> Result<Option<RunAs>, String> {
    use nix::unistd::{Gid, Group, Uid, User};
    if user.is_none() && group.is_none() {
        return Ok(None);
    }
    let (me_uid, me_gid) = (Uid::effective().as_raw(), Gid::effective().as_raw());
    let (uid, primary_gid, account) = match user {
        None => (me_uid, me_gid, None),
        Some(u) => {
            let found = match u.parse::<u32>() {
                Ok(n) => User::from_uid(Uid::from_raw(n)),
                Err(_) => User::from_name(u),
            }
            .map_err(|e| format!("cannot look up user {u:?}: {e}"))?;
            match (found, u.parse::<u32>()) {
                (Some(user), _) => (user.uid.as_raw(), user.gid.as_raw(), Some(user)),
                (None, Ok(n)) => (n, n, None),
                (None, Err(_)) => return Err(format!("no such user {u:?}")),
            }
        }
    };
    let gid = match group {
        None => primary_gid,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => Group::from_name(g)
                .map_err(|e| format!("cannot look up group {g:?}: {e}"))?
                .ok_or_else(|| format!("no such group {g:?}"))?
                .gid
                .as_raw(),
        },
    };
    if (uid, gid) == (me_uid, me_gid) {
        return Ok(None);
    }
    if me_uid != 0 {
        return Err(format!(
            "running as uid {uid} gid {gid} needs watchdogd to run as root (it runs as uid {me_uid})"
        ));
    }
    let mut groups = match &account {
        Some(user) => CString::new(user.name.as_bytes())
            .ok()
            .and_then(|name| nix::unistd::getgrouplist(&name, Gid::from_raw(gid)).ok())
            .map(|list| list.into_iter().map(Gid::as_raw).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    if !groups.contains(&gid) {
        groups.insert(0, gid);
    }
    Ok(Some(RunAs {
        uid,
        gid,
        groups,
        name: account.as_ref().map(|u| u.name.clone()),
        home: account.map(|u| u.dir),
    }))
}

/// A log file the child opens itself (with `user`), onto fd 1 or 2.
#[derive(Debug)]
struct ChildLog {
    target: libc::c_int,
    path: CString,
    /// Folders to create first, outermost first (those missing when the spawn was prepared).
    dirs: Vec<CString>,
}

/// The stages of the child's setup, reported through the stage pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Stage {
    Signals = 1,
    Session,
    Limits,
    Groups,
    Gid,
    Uid,
    Cwd,
    Stdout,
    Stderr,
    Fds,
    /// The log path is not a regular file.
    StdoutKind,
    StderrKind,
}

const STAGES: [Stage; 12] = [
    Stage::Signals,
    Stage::Session,
    Stage::Limits,
    Stage::Groups,
    Stage::Gid,
    Stage::Uid,
    Stage::Cwd,
    Stage::Stdout,
    Stage::Stderr,
    Stage::Fds,
    Stage::StdoutKind,
    Stage::StderrKind,
];

/// Everything the child needs, prepared in the parent (no allocation happens after fork).
#[derive(Debug)]
pub struct ChildSetup {
    run_as: Option<RunAs>,
    groups: Vec<libc::gid_t>,
    cwd: CString,
    cwd_shown: PathBuf,
    nofile: Option<(u64, u64)>,
    logs: Vec<ChildLog>,
    log_paths: [Option<PathBuf>; 2],
}

impl ChildSetup {
    /// Prepares a child that runs as `run_as` (or as the daemon) in `working_dir`, which opens
    /// `stdout_log`/`stderr_log` itself, after switching, with its own rights. Pass them only
    /// for a child that switches to another user: a child that stays root gets its logs opened
    /// by the caller instead, through [`super::file::open_append`]. Blocking: it looks at the
    /// log folders (run it on a reader thread).
    pub fn new(
        run_as: Option<RunAs>,
        working_dir: &Path,
        stdout_log: Option<&Path>,
        stderr_log: Option<&Path>,
    ) -> Result<ChildSetup, String> {
        let cstring = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|_| format!("{} contains a NUL byte", p.display()))
        };
        let mut logs = Vec::new();
        let mut log_paths = [None, None];
        {
            for (target, path) in [(1, stdout_log), (2, stderr_log)] {
                let Some(path) = path else { continue };
                let mut dirs = Vec::new();
                for dir in path.ancestors().skip(1) {
                    if dir.as_os_str().is_empty() || std::fs::symlink_metadata(dir).is_ok() {
                        break;
                    }
                    dirs.push(cstring(dir)?);
                }
                dirs.reverse();
                logs.push(ChildLog {
                    target,
                    path: cstring(path)?,
                    dirs,
                });
                log_paths[(target - 1) as usize] = Some(path.to_path_buf());
            }
        }
        Ok(ChildSetup {
            groups: run_as
                .as_ref()
                .map(|r| r.groups.iter().map(|&g| g as libc::gid_t).collect())
                .unwrap_or_default(),
            run_as,
            cwd: cstring(working_dir)?,
            cwd_shown: working_dir.to_path_buf(),
            nofile: STARTING_NOFILE.get().copied().flatten(),
            logs,
            log_paths,
        })
    }

    /// Installs the setup on `cmd` and returns the reader end of the stage pipe, which
    /// [`ChildSetup::explain`] reads when the spawn fails.
    pub fn install(self, cmd: &mut tokio::process::Command) -> std::io::Result<StageReport> {
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let report = StageReport {
            read,
            user: self
                .run_as
                .as_ref()
                .map(|r| r.name.clone().unwrap_or_else(|| format!("uid {}", r.uid))),
            cwd: self.cwd_shown.clone(),
            logs: self.log_paths.clone(),
        };
        let write_fd = write.as_raw_fd();
        // SAFETY: the closure only makes async-signal-safe system calls on data prepared
        // before the fork (no allocation, no locks), as pre_exec requires.
        unsafe {
            cmd.pre_exec(move || {
                let _keep = &write;
                self.in_child(write_fd)
            });
        }
        Ok(report)
    }

    /// Runs in the child between fork and exec. Async-signal-safe calls only.
    fn in_child(&self, stages: libc::c_int) -> std::io::Result<()> {
        let fail = || Err(std::io::Error::last_os_error());
        // SAFETY (for the block): plain system calls on valid, pre-built arguments.
        unsafe {
            let mark = |stage: Stage| {
                let byte = stage as u8;
                libc::write(stages, (&byte as *const u8).cast(), 1);
            };
            mark(Stage::Signals);
            for sig in 1..65 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    reset_signal(sig);
                }
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            mark(Stage::Session);
            if libc::setsid() < 0 {
                return fail();
            }
            mark(Stage::Limits);
            if let Some((soft, hard)) = self.nofile {
                let lim = libc::rlimit {
                    rlim_cur: soft as libc::rlim_t,
                    rlim_max: hard as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) < 0 {
                    return fail();
                }
            }
            if let Some(r) = &self.run_as {
                mark(Stage::Groups);
                if libc::setgroups(self.groups.len() as _, self.groups.as_ptr()) < 0 {
                    return fail();
                }
                mark(Stage::Gid);
                if libc::setgid(r.gid) < 0 {
                    return fail();
                }
                mark(Stage::Uid);
                if libc::setuid(r.uid) < 0 {
                    return fail();
                }
            }
            mark(Stage::Cwd);
            if libc::chdir(self.cwd.as_ptr()) < 0 {
                return fail();
            }
            for log in &self.logs {
                mark(if log.target == 1 {
                    Stage::Stdout
                } else {
                    Stage::Stderr
                });
                for dir in &log.dirs {
                    if libc::mkdir(dir.as_ptr(), 0o750) < 0
                        && std::io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST)
                    {
                        return fail();
                    }
                }
                // Non-blocking, so that a FIFO planted there cannot hold the child (and the
                // daemon waiting for its exec); only a regular file is written to.
                let fd = libc::open(
                    log.path.as_ptr(),
                    libc::O_WRONLY
                        | libc::O_APPEND
                        | libc::O_CREAT
                        | libc::O_NOFOLLOW
                        | libc::O_NOCTTY
                        | libc::O_NONBLOCK
                        | libc::O_CLOEXEC,
                    0o640,
                );
                let kind = if log.target == 1 {
                    Stage::StdoutKind
                } else {
                    Stage::StderrKind
                };
                if fd < 0 {
                    if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO) {
                        // A FIFO nobody reads.
                        mark(kind);
                    }
                    return fail();
                }
                let mut st: libc::stat = std::mem::zeroed();
                if libc::fstat(fd, &mut st) < 0 {
                    return fail();
                }
                if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                    mark(kind);
                    return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
                }
                if libc::fcntl(fd, libc::F_SETFL, libc::O_APPEND) < 0
                    || libc::dup2(fd, log.target) < 0
                {
                    return fail();
                }
                libc::close(fd);
            }
            mark(Stage::Fds);
            #[cfg(target_os = "linux")]
            if libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            ) < 0
            {
                // Kernels before 5.11: mark them one by one, as far as any daemon opens.
                for fd in 3..4096 {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
        }
        Ok(())
    }
}

/// Sets `sig` back to its default disposition. On Linux through the raw system call: glibc's
/// `sigaction` refuses the two real-time signals it reserves (32, 33), and an ignored one is
/// inherited across exec like any other.
///
/// # Safety
/// Async-signal-safe; meant for the child between fork and exec.
unsafe fn reset_signal(sig: libc::c_int) {
    #[cfg(target_os = "linux")]
    // SAFETY: the kernel's `struct sigaction` is at most four words; all zero means SIG_DFL,
    // no flags, no restorer, an empty mask. The last argument is the kernel's sigset size.
    unsafe {
        let default = [0u64; 4];
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            default.as_ptr(),
            std::ptr::null_mut::<u64>(),
            8usize,
        );
    }
    #[cfg(not(target_os = "linux"))]
    // SAFETY: a zeroed sigaction with SIG_DFL is a valid argument.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(sig, &default, std::ptr::null_mut());
    }
}

/// The parent's end of the stage pipe, to explain a failed spawn.
#[derive(Debug)]
pub struct StageReport {
    read: OwnedFd,
    user: Option<String>,
    cwd: PathBuf,
    logs: [Option<PathBuf>; 2],
}

impl StageReport {
    /// What the child was doing when the spawn failed with `error`, in words.
    pub fn explain(self, error: &std::io::Error) -> String {
        let mut buf = [0u8; 64];
        let mut last = None;
        // The child has exec'd or exited by the time spawn returns: everything is in the pipe.
        let _ = rustix::fs::fcntl_setfl(&self.read, rustix::fs::OFlags::NONBLOCK);
        while let Ok(n) = rustix::io::read(&self.read, &mut buf) {
            if n == 0 {
                break;
            }
            last = buf[..n].last().copied().or(last);
        }
        let stage = last.and_then(|b| STAGES.iter().find(|s| **s as u8 == b).copied());
        let user = self.user.as_deref().unwrap_or("watchdogd's user");
        let what = match stage {
            Some(Stage::Signals | Stage::Session) => "starting a new session".to_owned(),
            Some(Stage::Limits) => "restoring the open-files limit".to_owned(),
            Some(Stage::Groups | Stage::Gid | Stage::Uid) => format!("switching to {user}"),
            Some(Stage::Cwd) => format!("entering working_dir {} as {user}", self.cwd.display()),
            Some(Stage::Stdout) => log_what("stdout_log", &self.logs[0], user),
            Some(Stage::Stderr) => log_what("stderr_log", &self.logs[1], user),
            Some(Stage::Fds) => "closing inherited descriptors".to_owned(),
            Some(Stage::StdoutKind) => return not_regular("stdout_log", &self.logs[0]),
            Some(Stage::StderrKind) => return not_regular("stderr_log", &self.logs[1]),
            None => "starting the command".to_owned(),
        };
        format!("{what}: {error}")
    }
}

fn not_regular(field: &str, path: &Option<PathBuf>) -> String {
    let path = path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    format!(
        "{field} {path} is not a regular file (a FIFO, device or socket); refusing to write to it"
    )
}

fn log_what(field: &str, path: &Option<PathBuf>, user: &str) -> String {
    match path {
        Some(p) => format!(
            "opening {field} {} as {user} (no symlinks are followed)",
            p.display()
        ),
        None => format!("opening {field}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_child_gets_only_fds_0_to_2_and_default_signals() {
        let dir = tempfile::tempdir().unwrap();
        // A descriptor the daemon holds without close-on-exec.
        let stray = std::fs::File::open("/dev/null").unwrap();
        let raw = stray.as_raw_fd();
        // SAFETY: clearing FD_CLOEXEC on a descriptor we own.
        unsafe { libc::fcntl(raw, libc::F_SETFD, 0) };
        let out = dir.path().join("out");
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(format!(
                "ls /proc/self/fd > {0}; grep SigIgn /proc/self/status >> {0}; pwd >> {0}",
                out.display()
            ))
            .stdin(std::process::Stdio::null());
        let setup = ChildSetup::new(None, dir.path(), None, None).unwrap();
        let _report = setup.install(&mut cmd).unwrap();
        assert!(cmd.status().await.unwrap().success());
        let text = std::fs::read_to_string(&out).unwrap();
        let fds: Vec<&str> = text
            .lines()
            .take_while(|l| !l.starts_with("SigIgn"))
            .collect();
        // 0, 1, 2 and the descriptor `ls` opened to read the folder.
        assert!(fds.len() <= 4, "{fds:?}");
        assert!(!fds.contains(&raw.to_string().as_str()), "{fds:?}");
        assert!(text.contains("SigIgn:\t0000000000000000"), "{text}");
        assert!(
            text.ends_with(&format!("{}\n", dir.path().display())),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_failed_stage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = tokio::process::Command::new("/bin/true");
        let setup = ChildSetup::new(None, &dir.path().join("gone"), None, None).unwrap();
        let report = setup.install(&mut cmd).unwrap();
        let err = cmd.spawn().unwrap_err();
        let why = report.explain(&err);
        assert!(why.starts_with("entering working_dir "), "{why}");
        assert!(why.contains("gone"), "{why}");
    }
}
