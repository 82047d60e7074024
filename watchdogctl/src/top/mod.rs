//! `watchdogctl top`: a full-screen live dashboard of every service, a thin client like every
//! other command (see docs/top.md).
//!
//! It opens one `Watch` stream (a status, then the changes and events as they happen) and
//! draws from it; it never polls. When the stream ends it says "daemon gone" and reconnects by
//! itself, starting again from a full status. Keys turn into the same requests the CLI verbs
//! send, each on a thread of its own, so the screen keeps moving while a restart runs.
//!
//! Parts: `model` (the services as the stream told), `strip` (per-service check history),
//! `columns` (the table's layout), `listing` (filter and sort), `keys` (the key state machine),
//! `pane` (the detail pane), `app` (reactions to keys and frames), `screen` (composing and
//! drawing), `help`, `tone` (meaning → style, `NO_COLOR`): all pure and unit-tested. The I/O is
//! here, in `feed` (threads talking to the daemon), in `terminal` (raw mode and its restoration
//! on every way out) and in the loop below. No async runtime: reader threads (the stream, the
//! keys, each call) feed one channel, and the loop sleeps on it.

mod app;
mod columns;
mod feed;
mod help;
mod incoming;
mod keys;
mod line;
mod listing;
mod model;
mod pane;
mod screen;
mod strip;
mod terminal;
mod tone;

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::client::Client;
use crate::exit::{Exit, Failure};
use app::{App, Task};
use incoming::Incoming;
use keys::Key;

/// The longest the loop sleeps: how soon a stop signal or a hung-up terminal is noticed.
const WAKE: Duration = Duration::from_millis(100);

/// Runs the dashboard until `q`, Ctrl-C, a stop signal or the terminal going away.
pub fn run(client: &Client, json: bool) -> Result<Exit, Failure> {
    if json {
        return Err(Failure::new(
            Exit::Usage,
            "top has no JSON output: use status --json or events --follow --json",
        ));
    }
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(Failure::new(
            Exit::Usage,
            "top needs a terminal: use status, or events --follow, in scripts",
        ));
    }
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let stop = terminal::stop_signals()
        .map_err(|e| Failure::new(Exit::Usage, format!("cannot watch for signals: {e}")))?;
    let (tx, rx) = mpsc::channel();
    feed::watch(client.clone(), tx.clone());
    let clock = Clock::start();
    let mut session = terminal::Session::start()
        .map_err(|e| Failure::new(Exit::Usage, format!("cannot set up the terminal: {e}")))?;
    read_keys(tx.clone());
    let mut app = App::default();
    let mut drawn_second = None;
    let mut dirty = true;
    'run: while !stop.load(Ordering::Relaxed) && !terminal::hung_up() {
        let now = clock.now_ms();
        let mut tasks = app.tick(now);
        let size = session.terminal.size().unwrap_or_default();
        let wait = Duration::from_millis(1000 - now.rem_euclid(1000) as u64).min(WAKE);
        let mut next = match rx.recv_timeout(wait) {
            Ok(incoming) => Some(incoming),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        while let Some(incoming) = next {
            dirty = true;
            match incoming {
                Incoming::Feed(feed) => tasks.extend(app.on_feed(*feed, now)),
                Incoming::Key(key) => {
                    tasks.extend(app.on_key(key, screen::page(size.height), now));
                }
                Incoming::Resize => {}
            }
            next = rx.try_recv().ok();
        }
        for task in tasks {
            match task {
                Task::Quit => break 'run,
                Task::Redraw => {
                    let _ = session.terminal.clear();
                    dirty = true;
                }
                Task::Call { request, label } => feed::call(client, request, label, &tx),
                Task::FetchDetail(key) => feed::detail(client, key, &tx),
                Task::FetchHistory(limit) => feed::history(client, limit, &tx),
            }
        }
        // Ages tick: redraw at least once a second.
        let now = clock.now_ms();
        let second = now / 1000;
        if dirty || drawn_second != Some(second) {
            let size = session.terminal.size().unwrap_or_default();
            let lines = screen::compose(&app, now, size.width, size.height);
            if session
                .terminal
                .draw(|f| screen::draw(f, &lines, color))
                .is_err()
            {
                break;
            }
            drawn_second = Some(second);
            dirty = false;
        }
    }
    drop(session);
    match app.fatal {
        Some(message) => Err(Failure::new(Exit::Usage, message)),
        None => Ok(Exit::Success),
    }
}

/// Reads keys (and resizes) on a thread of its own, so the loop never sits inside the
/// terminal library: on a terminal that hangs up, crossterm 0.29's reader retries its read
/// forever, and only the loop's own check ([`terminal::hung_up`]) gets the process out.
fn read_keys(tx: Sender<Incoming>) {
    std::thread::spawn(move || {
        loop {
            let incoming = match event::read() {
                Ok(Event::Key(k)) => match key_of(k) {
                    Some(key) => Incoming::Key(key),
                    None => continue,
                },
                Ok(Event::Resize(..)) => Incoming::Resize,
                Ok(_) => continue,
                Err(_) => return,
            };
            if tx.send(incoming).is_err() {
                return;
            }
        }
    });
}

/// The dashboard's own milliseconds: the wall clock at start plus monotonic time since, so ages
/// tick evenly even when the wall clock is stepped.
struct Clock {
    wall_ms: i64,
    start: Instant,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            wall_ms: protocol::time::now_millis(),
            start: Instant::now(),
        }
    }

    fn now_ms(&self) -> i64 {
        self.wall_ms
            .saturating_add(i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX))
    }
}

/// A crossterm key event as a [`Key`], if the dashboard uses it.
fn key_of(k: KeyEvent) -> Option<Key> {
    if k.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    Some(match k.code {
        KeyCode::Char(c) if ctrl => Key::Ctrl(c.to_ascii_lowercase()),
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_from_crossterm() {
        let ev = |code, modifiers| KeyEvent::new(code, modifiers);
        assert_eq!(
            key_of(ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Key::Ctrl('c'))
        );
        assert_eq!(
            key_of(ev(KeyCode::Char('R'), KeyModifiers::SHIFT)),
            Some(Key::Char('R'))
        );
        assert_eq!(key_of(ev(KeyCode::F(5), KeyModifiers::NONE)), None);
        let mut release = ev(KeyCode::Up, KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(key_of(release), None);
    }
}
