//! A stuck test must fail, not hang the whole run: CI gives the suite a fixed time and a test
//! that blocks forever (a read that no event ends, a daemon that never answers) would use it up
//! and report nothing. Each sandbox arms an alarm; a test still running after [`LIMIT`] is
//! named on stderr and its daemons and services are killed (by PID, as in `cleanup.rs`), which
//! ends whatever it waits on so it fails with its own message. If even that does not end it,
//! the test binary exits after [`GRACE`], naming the test, so the run fails fast.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::cleanup::kill_services;

/// Longer than any test takes on a loaded 2-core machine (the slowest take about a minute).
const LIMIT: Duration = Duration::from_secs(300);
/// After the kill, how long the test may take to fail by itself.
const GRACE: Duration = Duration::from_secs(60);

/// Armed while its sandbox lives; disarmed when dropped.
pub(crate) struct Alarm {
    shared: Arc<Shared>,
}

struct Shared {
    /// Whether the sandbox was dropped, and the PIDs of the daemons it started.
    state: Mutex<(bool, Vec<i32>)>,
    done: Condvar,
}

impl Alarm {
    pub(crate) fn arm(dir: PathBuf) -> Alarm {
        let shared = Arc::new(Shared {
            state: Mutex::new((false, Vec::new())),
            done: Condvar::new(),
        });
        let test = std::thread::current().name().unwrap_or("a test").to_owned();
        let watch = shared.clone();
        std::thread::Builder::new()
            .name(format!("alarm {test}"))
            .spawn(move || ring(&watch, &test, &dir))
            .expect("start the test's alarm");
        Alarm { shared }
    }

    /// Records a daemon the sandbox started, to be killed if the test gets stuck.
    pub(crate) fn daemon(&self, pid: i32) {
        lock(&self.shared).1.push(pid);
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        lock(&self.shared).0 = true;
        self.shared.done.notify_all();
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, (bool, Vec<i32>)> {
    shared.state.lock().unwrap_or_else(|p| p.into_inner())
}

fn ring(shared: &Shared, test: &str, dir: &std::path::Path) {
    let guard = lock(shared);
    let (guard, _) = shared
        .done
        .wait_timeout_while(guard, LIMIT, |(done, _)| !*done)
        .unwrap_or_else(|p| p.into_inner());
    if guard.0 {
        return;
    }
    eprintln!(
        "{test}: still running after {LIMIT:?}; killing its daemons and services so it fails \
         instead of hanging the run"
    );
    for &pid in guard.1.iter().filter(|&&pid| is_our_child(pid)) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    kill_services(dir);
    let (guard, _) = shared
        .done
        .wait_timeout_while(guard, GRACE, |(done, _)| !*done)
        .unwrap_or_else(|p| p.into_inner());
    if !guard.0 {
        eprintln!("{test}: still stuck {GRACE:?} after its processes were killed; exiting");
        std::process::exit(101);
    }
}

/// Whether `pid` is still a child of this process (not reaped, so not reused by a stranger).
fn is_our_child(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let parent = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
        .and_then(|p| p.parse::<u32>().ok());
    parent == Some(std::process::id())
}
