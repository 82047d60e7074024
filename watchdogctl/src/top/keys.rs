//! Key handling as a state machine: a key and the current [`Ui`] state give the next state and
//! the effects to carry out (calls to the daemon, opening a detail pane, quitting). Nothing here
//! touches the terminal or the daemon, so every binding is table-tested.
//!
//! The seed menu's keys, adapted: `s`/`k`/`r` on, off and restart the selected service, `g` its
//! full recovery pipeline (what `restart` runs here, so the same call), `m` turns monitoring off
//! or on (a persisted override), `S`/`K`/`R` act on every service after a `y` on the
//! confirmation line. In the detail pane the service's actions are picked with ↑/↓ and Enter,
//! by number, or by name after `:`, and Space turns the selected one off or on in recoveries.

use protocol::{MonitorRequest, Request, RunRequest, ToggleActionRequest};

use super::listing::Sort;
use super::pane::ActionItem;
use super::tone::Tone;

/// A key press, as far as the dashboard cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Enter,
    Esc,
    Backspace,
    Char(char),
    /// A letter with Ctrl held.
    Ctrl(char),
}

/// An action on every service, waiting for its confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bulk {
    Start,
    Stop,
    Restart,
}

impl Bulk {
    fn request(self) -> Request {
        match self {
            Bulk::Start => Request::StartAll,
            Bulk::Stop => Request::StopAll,
            Bulk::Restart => Request::RestartAll,
        }
    }

    pub fn question(self, n: usize) -> String {
        let verb = match self {
            Bulk::Start => "Start",
            Bulk::Stop => "Stop",
            Bulk::Restart => "Restart",
        };
        format!("{verb} all {n} services? y to confirm, any other key cancels")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Table,
    /// The detail pane of this service.
    Detail(String),
    /// Typing a filter after `/`.
    Filter,
    /// Waiting for `y`.
    Confirm(Bulk),
    /// Typing an action's name after `:` in the detail pane of this service.
    RunPrompt(String),
}

/// What the loop does after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Quit,
    /// Send this request; `label` names it in the status line (`restart api`).
    Call {
        request: Request,
        label: String,
    },
    /// Fetch this service's detail.
    OpenDetail(String),
    /// Clear and redraw the whole screen (Ctrl-L).
    Redraw,
}

/// The state the keys move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ui {
    pub mode: Mode,
    /// The help screen is over the mode.
    pub help: bool,
    /// The selected service's key (kept across re-sorting and filtering).
    pub selected: Option<String>,
    pub filter: String,
    /// The filter before `/`, restored by Esc.
    filter_before: String,
    pub sort: Sort,
    /// Text typed at the `:` prompt.
    pub input: String,
    /// The selected action in the detail pane.
    pub action: usize,
    /// Lines scrolled in the detail pane.
    pub scroll: usize,
    /// The status line.
    pub message: Option<(String, Tone)>,
}

impl Default for Ui {
    fn default() -> Self {
        Ui {
            mode: Mode::Table,
            help: false,
            selected: None,
            filter: String::new(),
            filter_before: String::new(),
            sort: Sort::Key,
            input: String::new(),
            action: 0,
            scroll: 0,
            message: None,
        }
    }
}

/// What the keys need to know of the screen.
#[derive(Debug, Default)]
pub struct Screen<'a> {
    /// The listed keys, in order.
    pub rows: &'a [String],
    /// Rows that fit on a page.
    pub page: usize,
    /// Services in all (for the confirmation line).
    pub total: usize,
    /// The detail pane's actions (empty until its detail arrived).
    pub actions: &'a [ActionItem],
    /// Whether the selected (or detailed) service is monitored now.
    pub monitored: Option<bool>,
    /// Lines in the detail pane.
    pub pane_len: usize,
}

impl Ui {
    /// Keeps the selection on a listed row: the first when none (or a vanished one) was.
    pub fn settle(&mut self, rows: &[String]) {
        if !self.selected.as_ref().is_some_and(|k| rows.contains(k)) {
            self.selected = rows.first().cloned();
        }
    }

    fn say(&mut self, text: impl Into<String>, tone: Tone) {
        self.message = Some((text.into(), tone));
    }

    /// Applies one key.
    pub fn handle(&mut self, key: Key, screen: &Screen) -> Vec<Effect> {
        if key == Key::Ctrl('c') {
            return vec![Effect::Quit];
        }
        if key == Key::Ctrl('l') {
            return vec![Effect::Redraw];
        }
        if self.help {
            self.help = false;
            return if key == Key::Char('q') {
                vec![Effect::Quit]
            } else {
                vec![]
            };
        }
        match self.mode.clone() {
            Mode::Table => self.table(key, screen),
            Mode::Detail(service) => self.detail(key, &service, screen),
            Mode::Filter => self.typing_filter(key),
            Mode::Confirm(bulk) => self.confirm(key, bulk),
            Mode::RunPrompt(service) => self.prompt(key, &service),
        }
    }

    fn table(&mut self, key: Key, screen: &Screen) -> Vec<Effect> {
        if let Some(effects) = self.common(key) {
            return effects;
        }
        match key {
            Key::Up | Key::Down | Key::PageUp | Key::PageDown | Key::Home | Key::End => {
                self.move_selection(key, screen);
                vec![]
            }
            Key::Enter => match self.selected.clone() {
                Some(k) => {
                    self.mode = Mode::Detail(k.clone());
                    self.action = 0;
                    self.scroll = 0;
                    vec![Effect::OpenDetail(k)]
                }
                None => vec![],
            },
            Key::Char('S') => self.ask(Bulk::Start, screen),
            Key::Char('K') => self.ask(Bulk::Stop, screen),
            Key::Char('R') => self.ask(Bulk::Restart, screen),
            Key::Char('/') => {
                self.filter_before = self.filter.clone();
                self.mode = Mode::Filter;
                vec![]
            }
            Key::Char('o') => {
                self.sort = self.sort.next();
                self.say(format!("sorted by {}", self.sort.name()), Tone::Plain);
                vec![]
            }
            Key::Esc | Key::Char('b') if !self.filter.is_empty() => {
                self.filter.clear();
                self.say("filter cleared", Tone::Plain);
                vec![]
            }
            Key::Char(c) => match self.selected.clone() {
                Some(service) => self.service_key(c, &service, screen),
                None => vec![],
            },
            _ => vec![],
        }
    }

    fn detail(&mut self, key: Key, service: &str, screen: &Screen) -> Vec<Effect> {
        if let Some(effects) = self.common(key) {
            return effects;
        }
        let n = screen.actions.len();
        match key {
            Key::Esc | Key::Char('b') => {
                self.mode = Mode::Table;
                vec![]
            }
            Key::Up => {
                self.action = self.action.saturating_sub(1);
                vec![]
            }
            Key::Down => {
                self.action = (self.action + 1).min(n.saturating_sub(1));
                vec![]
            }
            Key::PageUp => {
                self.scroll = self.scroll.saturating_sub(screen.page.max(1));
                vec![]
            }
            Key::PageDown => {
                let last = screen.pane_len.saturating_sub(screen.page);
                self.scroll = (self.scroll + screen.page.max(1)).min(last);
                vec![]
            }
            Key::Home => {
                self.scroll = 0;
                vec![]
            }
            Key::End => {
                self.scroll = screen.pane_len.saturating_sub(screen.page);
                vec![]
            }
            Key::Enter => self.run_nth(self.action, service, screen),
            Key::Char(c @ '1'..='9') => {
                let i = c as usize - '1' as usize;
                self.run_nth(i, service, screen)
            }
            Key::Char(' ') => match screen.actions.get(self.action) {
                Some(item) => {
                    let enabled = item.off_at_runtime;
                    let verb = if enabled { "enable" } else { "disable" };
                    vec![Effect::Call {
                        request: ToggleActionRequest {
                            key: service.to_owned(),
                            action: item.name.clone(),
                            enabled,
                        }
                        .into(),
                        label: format!("{verb} action {} of {service}", item.name),
                    }]
                }
                None => vec![],
            },
            Key::Char(':') => {
                self.input.clear();
                self.mode = Mode::RunPrompt(service.to_owned());
                vec![]
            }
            Key::Char(c) => self.service_key(c, service, screen),
            _ => vec![],
        }
    }

    /// Keys that work the same in the table and the detail pane.
    fn common(&mut self, key: Key) -> Option<Vec<Effect>> {
        match key {
            Key::Char('q') => Some(vec![Effect::Quit]),
            Key::Char('?') => {
                self.help = true;
                Some(vec![])
            }
            _ => None,
        }
    }

    /// `s`, `k`, `r`, `g`, `m` on one service.
    fn service_key(&mut self, c: char, service: &str, screen: &Screen) -> Vec<Effect> {
        let key = service.to_owned();
        let (request, verb) = match c {
            's' => (Request::On { key }, "on"),
            'k' => (Request::Off { key }, "off"),
            'r' => (Request::Restart { key }, "restart"),
            'g' => (Request::Restart { key }, "recover"),
            'm' => {
                let enabled = !screen.monitored.unwrap_or(true);
                let verb = if enabled { "enable" } else { "disable" };
                (MonitorRequest { key, enabled }.into(), verb)
            }
            _ => return vec![],
        };
        vec![Effect::Call {
            request,
            label: format!("{verb} {service}"),
        }]
    }

    fn run_nth(&mut self, i: usize, service: &str, screen: &Screen) -> Vec<Effect> {
        match screen.actions.get(i) {
            Some(item) => {
                self.action = i;
                vec![run(service, &item.name)]
            }
            None => {
                self.say(format!("no action {}", i + 1), Tone::Warn);
                vec![]
            }
        }
    }

    fn ask(&mut self, bulk: Bulk, screen: &Screen) -> Vec<Effect> {
        self.mode = Mode::Confirm(bulk);
        self.say(bulk.question(screen.total), Tone::Warn);
        vec![]
    }

    fn move_selection(&mut self, key: Key, screen: &Screen) {
        let rows = screen.rows;
        if rows.is_empty() {
            return;
        }
        let at = self
            .selected
            .as_ref()
            .and_then(|k| rows.iter().position(|r| r == k))
            .unwrap_or(0);
        let last = rows.len() - 1;
        let page = screen.page.max(1);
        let to = match key {
            Key::Up => at.saturating_sub(1),
            Key::Down => (at + 1).min(last),
            Key::PageUp => at.saturating_sub(page),
            Key::PageDown => (at + page).min(last),
            Key::Home => 0,
            _ => last,
        };
        self.selected = Some(rows[to].clone());
    }
}

fn run(service: &str, action: &str) -> Effect {
    Effect::Call {
        request: RunRequest {
            key: Some(service.to_owned()),
            action: action.to_owned(),
        }
        .into(),
        label: format!("run {action} on {service}"),
    }
}

mod typing;

#[cfg(test)]
mod tests;
