//! The terminal while the dashboard runs: raw mode, the alternate screen, a hidden cursor; and
//! its restoration on every way out. Leaving normally restores it (the guard's `Drop`), so does
//! a panic (a hook that restores first, then lets the usual report print on the normal
//! screen), and so do SIGTERM, SIGHUP and SIGINT (flags the loop checks; in raw mode Ctrl-C is
//! a key, which quits too) and a terminal that hangs up. Restoring happens once, and each step is
//! tried even when an earlier one failed.

use std::io::{self, Stdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// The terminal in dashboard mode; restored when dropped.
pub struct Session {
    pub terminal: Tui,
}

/// The terminal is in dashboard mode: restoring it is due (once).
static ACTIVE: AtomicBool = AtomicBool::new(false);

impl Session {
    pub fn start() -> io::Result<Session> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let session = || -> io::Result<Session> {
            execute!(io::stdout(), EnterAlternateScreen, Hide)?;
            let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
            terminal.clear()?;
            Ok(Session { terminal })
        };
        session().inspect_err(|_| restore())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        restore();
    }
}

/// Back to the terminal as it was: cooked mode, the normal screen, a visible cursor. Only the
/// first call after a start does anything: leaving the alternate screen twice would move the
/// cursor back over what was printed in between (a panic's report, say).
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Whether the terminal has hung up (its emulator or tmux went away): nobody is left to see
/// the screen or type. A SIGHUP is not always delivered to us (we may not be the terminal's
/// foreground group), so this is asked of the terminal itself.
pub fn hung_up() -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let stdin = io::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match poll(&mut fds, Some(&now)) {
        Ok(_) => fds[0]
            .revents()
            .intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL),
        Err(_) => false,
    }
}

/// A flag raised by SIGTERM, SIGHUP or SIGINT.
pub fn stop_signals() -> io::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
    ] {
        signal_hook::flag::register(signal, flag.clone())?;
    }
    Ok(flag)
}
