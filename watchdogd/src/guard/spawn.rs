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

mod run_as;
mod stage;

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use run_as::{RunAs, RunAsError, resolve};
use stage::Stage;
pub use stage::StageReport;

/// Why a child's setup cannot be prepared.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A path the child must pass to the kernel cannot be one.
    #[error("{} contains a NUL byte", .0.display())]
    NulInPath(PathBuf),
}

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

/// A log file the child opens itself (with `user`), onto fd 1 or 2.
#[derive(Debug)]
struct ChildLog {
    target: libc::c_int,
    path: CString,
    /// Folders to create first, outermost first (those missing when the spawn was prepared).
    dirs: Vec<CString>,
}

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
    ) -> Result<ChildSetup, SetupError> {
        let cstring = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|_| SetupError::NulInPath(p.to_path_buf()))
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
    /// [`StageReport::explain`] reads when the spawn fails.
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
