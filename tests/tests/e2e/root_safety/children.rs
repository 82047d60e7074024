//! Children start clean: whatever the daemon itself inherited (a stray descriptor, an ignored
//! signal, a raised open-files limit) stays with it; a `user` service gets that user's
//! supplementary groups, and its `env` wins over what the daemon computes.

use std::os::unix::process::CommandExt;

use serde_json::json;
use watchdog_tests::wait_until;

use super::{T, hostile_sandbox};

#[test]
fn a_service_gets_only_what_it_should() {
    let Some((nobody, sb)) = hostile_sandbox("clean children") else {
        return;
    };
    let report = sb.path().join("report.txt");
    let script = format!(
        "{{ echo fds: $(ls /proc/self/fd | tr '\\n' ' '); grep -E 'SigIgn|SigBlk' /proc/self/status; \
         echo nofile: $(ulimit -n); echo groups: $(id -G); echo home: $HOME; }} > {0}; \
         chmod 644 {0}; exec {1}",
        report.display(),
        sb.service_cmd("clean", "").trim_start_matches("exec ")
    );
    let mut svc = sb.service("clean", "");
    svc["commands"]["start"] = json!(script);
    svc["user"] = json!("nobody");
    svc["env"] = json!({ "HOME": "/srv/clean-home" });
    sb.write_config(&sb.config(json!({ "clean": svc })));
    // The daemon inherits descriptor 9 (no close-on-exec), an ignored SIGQUIT, a blocked
    // SIGUSR2 and a low open-files limit (it raises its own), as from a careless parent.
    let stray = std::fs::File::open("/dev/null").unwrap();
    let stray_fd = std::os::fd::AsRawFd::as_raw_fd(&stray);
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    assert!(hard > 1000, "the hard open-files limit is {hard}");
    let _d = sb.start_daemon_setup(&sb.config_path(), &sb.socket(), |cmd| unsafe {
        cmd.pre_exec(move || {
            libc::dup2(stray_fd, 9);
            libc::signal(libc::SIGQUIT, libc::SIG_IGN);
            let mut blocked: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut blocked);
            libc::sigaddset(&mut blocked, libc::SIGUSR2);
            libc::sigprocmask(libc::SIG_BLOCK, &blocked, std::ptr::null_mut());
            let lim = libc::rlimit {
                rlim_cur: 1000,
                rlim_max: hard as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    });
    sb.ctl_ok(&["on", "clean"]);
    wait_until("the service's report", T, || {
        std::fs::read_to_string(&report).is_ok_and(|t| t.contains("home:"))
    });
    let text = std::fs::read_to_string(&report).unwrap();
    let line = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .trim()
            .to_owned()
    };
    // 0, 1, 2, and the one `ls` opened to read the folder.
    let fds_line = line("fds:");
    let fds: Vec<&str> = fds_line.split_whitespace().collect();
    assert!(fds.len() <= 4 && !fds.contains(&"9"), "{text}");
    assert_eq!(line("SigIgn:"), "0000000000000000", "{text}");
    assert_eq!(line("SigBlk:"), "0000000000000000", "{text}");
    assert_eq!(
        line("nofile:"),
        "1000",
        "the daemon's starting limit: {text}"
    );
    let mut want: Vec<u32> = nix::unistd::getgrouplist(
        &std::ffi::CString::new(nobody.name.clone()).unwrap(),
        nobody.gid,
    )
    .unwrap()
    .into_iter()
    .map(|g| g.as_raw())
    .collect();
    want.sort();
    want.dedup();
    let mut got: Vec<u32> = line("groups:")
        .split_whitespace()
        .map(|g| g.parse().unwrap())
        .collect();
    got.sort();
    got.dedup();
    assert_eq!(got, want, "nobody's supplementary groups: {text}");
    assert_eq!(line("home:"), "/srv/clean-home", "env wins: {text}");
}
