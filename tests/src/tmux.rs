//! A real terminal for tests of full-screen programs: a private tmux server (its own socket in
//! the test's folder, no user config) running one command in a window of a given size; the
//! test types with `send-keys` and reads the screen with `capture-pane`.
//!
//! The server is ended in `Drop` through its own socket (`kill-server`), and then by its PID if
//! it is still there: never by name, never another test's server.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A tmux server with one window.
pub struct Tmux {
    bin: PathBuf,
    socket: PathBuf,
    server: Option<i32>,
}

/// The tmux binary, or why there is none.
pub fn tmux() -> Result<PathBuf, String> {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = Path::new(dir).join("tmux");
        if p.exists() {
            return Ok(p);
        }
    }
    Err("tmux is not installed (.ci/run installs it)".into())
}

impl Tmux {
    /// Starts a server whose socket lives in `dir`, running `command` (a shell command line) in
    /// a `width`×`height` window.
    pub fn start(dir: &Path, width: u16, height: u16, command: &str) -> Result<Tmux, String> {
        let bin = tmux()?;
        let socket = dir.join("tmux.sock");
        let mut t = Tmux {
            bin,
            socket,
            server: None,
        };
        let out = t.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
            // Keep the pane (and its last screen) when the command exits.
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
        ]);
        if !out.status.success() {
            return Err(format!(
                "tmux new-session failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        t.server = t.display("#{pid}").trim().parse().ok();
        Ok(t)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("run tmux")
    }

    /// The screen as text, one line per row, trailing blanks trimmed.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p"]).stdout).into_owned()
    }

    /// The normal screen's scrollback and the screen, as text.
    pub fn history(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-S", "-", "-E", "-"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen with its colours and attributes as escape sequences.
    pub fn screen_with_escapes(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-e"]).stdout).into_owned()
    }

    /// A tmux format expanded for the window's pane (`#{alternate_on}`, `#{cursor_flag}`...).
    pub fn display(&self, format: &str) -> String {
        String::from_utf8_lossy(&self.run(&["display-message", "-p", format]).stdout).into_owned()
    }

    /// Types keys: tmux key names (`Enter`, `Down`, `Escape`, `C-c`) or literal text.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "send-keys {keys:?} failed");
    }

    /// Types `text` literally, character by character.
    pub fn type_text(&self, text: &str) {
        let out = self.run(&["send-keys", "-l", text]);
        assert!(out.status.success(), "send-keys -l {text:?} failed");
    }

    pub fn resize(&self, width: u16, height: u16) {
        self.run(&[
            "resize-window",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
    }

    /// Waits until the screen satisfies `cond` and returns it, or panics after `timeout` with
    /// the last screen and `what` it waited for.
    pub fn wait_for(&self, what: &str, timeout: Duration, cond: impl Fn(&str) -> bool) -> String {
        self.wait_with(what, timeout, Tmux::screen, cond)
    }

    /// [`Tmux::wait_for`] on what `read` returns ([`Tmux::history`], say).
    pub fn wait_with(
        &self,
        what: &str,
        timeout: Duration,
        read: impl Fn(&Tmux) -> String,
        cond: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = read(self);
            if cond(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
        if let Some(pid) = self.server {
            let deadline = Instant::now() + Duration::from_secs(5);
            while crate::alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if crate::alive(pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}
