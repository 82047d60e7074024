//! A private OpenSSH server for the fleet tests: `sshd -D` on 127.0.0.1 and a free port, with
//! its own host key, one authorized client key, and nothing else allowed in.
//!
//! Everything lives in the server's own temp folder (keys, config, known_hosts, log), so tests
//! run in parallel, each with its own server. The client side is `WATCHDOG_SSH`, pointing ssh at
//! that key and a known_hosts line built from the host key, with `-F /dev/null` so the user's
//! own ssh config plays no part.
//!
//! The login shell's PATH is pinned to `/usr/bin:/bin` with a `ForceCommand` that runs the
//! requested command under `sh` with that PATH: a developer's `~/.bashrc` (or `cargo install`
//! into `~/.cargo/bin`) must not decide whether "no watchdogctl on the remote PATH" holds.
//!
//! The server is killed by its PID in `Drop`. Readiness is "this PID listens on this port",
//! read from /proc, never a sleep: with parallel tests another test's server may take the same
//! free port first, and then this one exits and is started again on another.
//!
//! A test may skip only when OpenSSH truly cannot run here: it is not installed, or sshd will
//! not start for a user who is not root. With `CI` set (CI sets `CI=true`, and `.ci/run`
//! installs OpenSSH) a missing OpenSSH fails instead. Anything else that goes wrong (ssh-keygen
//! failing, a config sshd rejects as root) is a bug of this fixture and panics.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::{bins, ctl_command, run_ctl};

/// Tries at ports picked afresh before giving up.
const ATTEMPTS: usize = 5;
/// How long one sshd may take to listen.
const READY: Duration = Duration::from_secs(10);

/// A running sshd that accepts the test's key for the current user.
pub struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
    user: String,
}

/// Whether this run is CI's (`CI` set to anything but empty, `0` or `false`), where a missing
/// OpenSSH is a broken setup rather than a reason to skip.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// The skip reason `why`, or a panic with it under CI.
fn unavailable(why: &str) -> String {
    assert!(
        !in_ci(),
        "{why}, and CI is set: CI must run the fleet tests (.ci/run installs OpenSSH)"
    );
    why.to_owned()
}

impl Sshd {
    /// Starts a server. `Err` is the one reason a test may skip on (see the module note); every
    /// other failure panics.
    pub fn start() -> Result<Sshd, String> {
        let sshd = find(&["/usr/sbin/sshd", "/usr/bin/sshd", "/sbin/sshd"], "sshd")
            .ok_or_else(|| unavailable("sshd is not installed (apt-get install openssh-server)"))?;
        for tool in ["ssh", "ssh-keygen"] {
            find(
                &[&format!("/usr/bin/{tool}"), &format!("/bin/{tool}")],
                tool,
            )
            .ok_or_else(|| {
                unavailable(&format!(
                    "{tool} is not installed (apt-get install openssh-client)"
                ))
            })?;
        }
        let user = nix::unistd::User::from_uid(nix::unistd::getuid())
            .expect("read the user database")
            .expect("the current uid has a user name")
            .name;
        let root = nix::unistd::getuid().is_root();
        // Privilege separation wants this folder; a root sshd refuses to start without it.
        if root {
            std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        }
        let dir = tempfile::Builder::new()
            .prefix("wdssh")
            .tempdir_in("/tmp")
            .expect("temp dir");
        for key in ["host_key", "client_key"] {
            keygen(&dir.path().join(key));
        }
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .expect("authorized_keys");
        let mut last = String::new();
        for _ in 0..ATTEMPTS {
            let port = free_port();
            match launch(&sshd, dir.path(), port, &user) {
                Ok(child) => {
                    write_known_hosts(dir.path(), port);
                    return Ok(Sshd {
                        dir,
                        child,
                        port,
                        user,
                    });
                }
                // Another test's server (or anything else) took the port first: another port.
                Err(log) if log.contains("Address already in use") => last = log,
                Err(log) if !root => {
                    return Err(format!(
                        "sshd does not start for user {user} (not root):\n{log}"
                    ));
                }
                Err(log) => panic!("sshd did not start as root:\n{log}"),
            }
        }
        panic!("sshd found no free port in {ATTEMPTS} attempts:\n{last}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The login user (the one running the tests).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// `ssh://USER@127.0.0.1:PORT?socket=SOCKET`: the daemon at `socket`, reached over ssh.
    pub fn url(&self, socket: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}?socket={}",
            self.user,
            self.port,
            socket.display()
        )
    }

    /// The `WATCHDOG_SSH` that reaches this server: its key, its host key, nothing else.
    pub fn ssh_command(&self) -> String {
        let d = self.dir.path();
        format!(
            "ssh -i {} -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o BatchMode=yes \
             -o IdentitiesOnly=yes -F /dev/null",
            d.join("client_key").display(),
            d.join("known_hosts").display()
        )
    }

    /// A watchdogctl command set up for this server: `WATCHDOG_SSH` as above and
    /// `WATCHDOG_REMOTE_CTL` naming the watchdogctl under test (the remote PATH has none).
    pub fn ctl_command(&self) -> Command {
        let mut cmd = ctl_command();
        cmd.env("WATCHDOG_SSH", self.ssh_command())
            .env("WATCHDOG_REMOTE_CTL", &bins().watchdogctl)
            .env_remove("WATCHDOG_HOST")
            .env("NO_COLOR", "1");
        cmd
    }

    /// Runs watchdogctl with `args` through [`Sshd::ctl_command`].
    pub fn ctl(&self, args: &[&str]) -> Output {
        let mut cmd = self.ctl_command();
        cmd.args(args);
        run_ctl(cmd)
    }

    /// What sshd logged (errors only).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(known: &[&str], name: &str) -> Option<PathBuf> {
    if let Some(p) = known.iter().map(Path::new).find(|p| p.exists()) {
        return Some(p.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.exists())
    })
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-t", "ed25519", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A port nothing listened on a moment ago (the kernel's pick for port 0).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

/// Starts sshd on `port`: the child once it listens there, or its log if it exited (another
/// server took the port first, or sshd refuses to run here). Panics if it neither listens nor
/// exits in time.
fn launch(sshd: &Path, dir: &Path, port: u16, user: &str) -> Result<Child, String> {
    let config = dir.join("sshd_config");
    let text = format!(
        "ListenAddress 127.0.0.1\n\
         Port {port}\n\
         HostKey {dir}/host_key\n\
         AuthorizedKeysFile {dir}/authorized_keys\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\n\
         AllowUsers {user}\n\
         StrictModes no\n\
         UsePAM no\n\
         PidFile none\n\
         LogLevel ERROR\n\
         MaxStartups 64\n\
         ForceCommand exec /usr/bin/env PATH=/usr/bin:/bin /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n",
        dir = dir.display()
    );
    std::fs::write(&config, text).expect("write sshd_config");
    let log = std::fs::File::create(dir.join("sshd.log")).expect("create sshd.log");
    let mut child = Command::new(sshd)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", sshd.display()));
    let deadline = Instant::now() + READY;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
            return Err(format!("sshd exited ({status}):\n{log}"));
        }
        if listens(child.id(), port) {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sshd did not listen on port {port} within {READY:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether process `pid` holds a TCP socket listening on 127.0.0.1:`port` (from /proc).
fn listens(pid: u32, port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address, state (0A: LISTEN), inode
            (f.len() > 9 && f[1] == want && f[3] == "0A").then(|| format!("socket:[{}]", f[9]))
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
    })
}

fn write_known_hosts(dir: &Path, port: u16) {
    let public = std::fs::read_to_string(dir.join("host_key.pub")).expect("read the host key");
    let key: Vec<&str> = public.split_whitespace().take(2).collect();
    std::fs::write(
        dir.join("known_hosts"),
        format!("[127.0.0.1]:{port} {}\n", key.join(" ")),
    )
    .expect("write known_hosts");
}
