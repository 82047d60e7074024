//! Running things as another user (root tests only), and saying why a test cannot.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::unistd::User;

/// The user `nobody`, when the tests run as root and it exists; else why not.
pub fn nobody() -> Result<User, String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Err("needs root (watchdogd starts services as other users only as root)".into());
    }
    User::from_name("nobody")
        .ok()
        .flatten()
        .ok_or_else(|| "this machine has no user `nobody`".into())
}

/// Whether every folder above `path` lets others through (so `nobody` can reach it).
pub fn reachable_by_others(path: &Path) -> bool {
    path.ancestors().skip(1).all(|dir| {
        std::fs::metadata(dir)
            .is_ok_and(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o001 != 0)
    })
}

/// Makes `cmd` run as `user` (its primary group, no others), with at most `nofile` open
/// files when given (raised while still root).
pub fn run_as(cmd: &mut Command, user: &User, nofile: Option<u64>) {
    let (uid, gid) = (user.uid.as_raw(), user.gid.as_raw());
    // SAFETY: only async-signal-safe calls on values copied in.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(n) = nofile {
                let lim = libc::rlimit {
                    rlim_cur: n as libc::rlim_t,
                    rlim_max: n as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
