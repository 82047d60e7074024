//! The dashboard's state and its reactions, without any I/O: what arrives from the daemon
//! ([`Feed`]) and what the keys ask for both turn into [`Task`]s that the loop in `mod.rs`
//! carries out on threads of their own, so the screen never waits on the daemon.
//!
//! The open detail pane is fetched when it opens and again when something happens to its
//! service (a check, a pipeline's step, an override), at most once a second and never twice at
//! once; the table itself never asks for anything, it follows the stream.

use protocol::{ErrorKind, HistoryEntry, PipelineResult, Request, Response, ServiceDetail};

use super::keys::{Effect, Key, Mode, Screen, Ui};
use super::listing;
use super::model::{Link, Model};
use super::pane::{self, ActionItem};
use super::tone::Tone;

/// Checks per service asked for to fill the strips in at start (capped in all).
const SEED_PER_SERVICE: usize = 24;
const SEED_MAX: usize = 5000;
/// The detail pane is fetched again at most this often.
const DETAIL_EVERY_MS: i64 = 1000;

/// Something that arrived for the dashboard.
#[derive(Debug)]
pub enum Feed {
    /// A frame of the watch stream.
    Frame(Response),
    /// The stream ended or could not be opened; reconnecting.
    Lost(String),
    /// The daemon refused in a way retrying cannot fix (permissions, another version).
    Fatal(String),
    Detail {
        key: String,
        result: Result<Box<ServiceDetail>, String>,
    },
    /// Check history to fill the strips in.
    History(Result<Vec<HistoryEntry>, String>),
    /// The reply to a key's call.
    Done {
        label: String,
        result: Result<Response, String>,
    },
}

/// Work for the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    Call { request: Request, label: String },
    FetchDetail(String),
    FetchHistory(u32),
    Redraw,
    Quit,
}

/// The detail pane's data and its fetching.
#[derive(Debug, Default)]
struct DetailState {
    shown: Option<Box<ServiceDetail>>,
    in_flight: bool,
    /// Something happened to the service since the last fetch started.
    stale: bool,
    last_fetch_ms: Option<i64>,
}

#[derive(Debug, Default)]
pub struct App {
    pub model: Model,
    pub ui: Ui,
    detail: DetailState,
    seeded: bool,
    /// Ends the dashboard with this message.
    pub fatal: Option<String>,
}

impl App {
    /// The listed keys, in order (filter and sort applied).
    pub fn rows(&self, now_ms: i64) -> Vec<String> {
        listing::visible(&self.model, &self.ui.filter, self.ui.sort, now_ms)
            .iter()
            .map(|e| e.status.key.clone())
            .collect()
    }

    /// The key whose detail pane is open.
    pub fn detail_key(&self) -> Option<&str> {
        match &self.ui.mode {
            Mode::Detail(k) | Mode::RunPrompt(k) => Some(k),
            _ => None,
        }
    }

    /// The detail shown for the open pane, if it has arrived.
    pub fn detail(&self) -> Option<&ServiceDetail> {
        let key = self.detail_key()?;
        self.detail.shown.as_deref().filter(|d| d.status.key == key)
    }

    /// The open pane's actions (empty until its detail arrived).
    pub fn actions(&self) -> Vec<ActionItem> {
        match (self.detail(), self.detail_key()) {
            (Some(d), Some(key)) => {
                let status = self
                    .model
                    .services
                    .get(key)
                    .map_or(&d.status, |e| &e.status);
                pane::actions(&d.config_json, status)
            }
            _ => Vec::new(),
        }
    }

    pub fn on_key(&mut self, key: Key, page: usize, now_ms: i64) -> Vec<Task> {
        let rows = self.rows(now_ms);
        self.ui.settle(&rows);
        let actions = self.actions();
        let target = self
            .detail_key()
            .map(str::to_owned)
            .or(self.ui.selected.clone());
        let monitored = target
            .and_then(|k| self.model.services.get(&k))
            .map(|e| e.status.monitoring_override.unwrap_or(e.status.enabled));
        let pane_len = match (self.detail(), self.detail_key()) {
            (Some(d), Some(key)) => {
                pane::lines(d, self.model.services.get(key), 0, now_ms, usize::MAX).len()
            }
            _ => 0,
        };
        let screen = Screen {
            rows: &rows,
            page,
            total: self.model.services.len(),
            actions: &actions,
            monitored,
            pane_len,
        };
        let effects = self.ui.handle(key, &screen);
        let mut tasks = Vec::new();
        for effect in effects {
            match effect {
                Effect::Quit => tasks.push(Task::Quit),
                Effect::Redraw => tasks.push(Task::Redraw),
                Effect::OpenDetail(key) => {
                    if self
                        .detail
                        .shown
                        .as_ref()
                        .is_some_and(|d| d.status.key != key)
                    {
                        self.detail.shown = None;
                    }
                    self.detail.stale = true;
                    self.detail.last_fetch_ms = None;
                }
                Effect::Call { request, label } => {
                    if self.model.link != Link::Live {
                        self.ui.message = Some((
                            format!("{label}: not sent, watchdogd is not connected"),
                            Tone::Bad,
                        ));
                        continue;
                    }
                    self.ui.message = Some((format!("{label} …"), Tone::Warn));
                    tasks.push(Task::Call { request, label });
                }
            }
        }
        tasks.extend(self.tick(now_ms));
        tasks
    }

    pub fn on_feed(&mut self, feed: Feed, now_ms: i64) -> Vec<Task> {
        let mut tasks = Vec::new();
        match feed {
            Feed::Frame(Response::Status(reply)) => {
                self.model.on_status(reply, now_ms);
                self.detail.stale = true;
                if !self.seeded {
                    self.seeded = true;
                    let n = (self.model.services.len() * SEED_PER_SERVICE).clamp(1, SEED_MAX);
                    tasks.push(Task::FetchHistory(n as u32));
                }
            }
            Feed::Frame(Response::Changes(changes)) => {
                if let Some(key) = self.detail_key()
                    && (changes.services.iter().any(|s| s.key == key)
                        || changes.removed.iter().any(|k| k == key))
                {
                    self.detail.stale = true;
                }
                self.model.on_changes(changes, now_ms);
            }
            Feed::Frame(Response::Event(event)) => {
                if self.detail_key() == Some(event.key.as_str()) {
                    self.detail.stale = true;
                }
                self.model.on_event(&event);
            }
            Feed::Frame(Response::Error { kind, message }) => {
                if matches!(kind, ErrorKind::Unavailable | ErrorKind::Internal) {
                    self.model.on_lost(message);
                } else {
                    self.fatal = Some(message);
                    tasks.push(Task::Quit);
                }
            }
            Feed::Frame(other) => {
                self.model.on_lost(format!(
                    "unexpected {} frame (is watchdogd another version?)",
                    crate::client::reply_kind(&other)
                ));
            }
            Feed::Lost(why) => self.model.on_lost(why),
            Feed::Fatal(why) => {
                self.fatal = Some(why);
                tasks.push(Task::Quit);
            }
            Feed::Detail { key, result } => {
                self.detail.in_flight = false;
                match result {
                    Ok(d) if d.status.key == key => self.detail.shown = Some(d),
                    Ok(_) => {}
                    Err(why) if self.detail_key() == Some(key.as_str()) => {
                        let text = crate::table::clean(&format!("detail of {key}: {why}"));
                        self.ui.message = Some((text, Tone::Bad));
                    }
                    Err(_) => {}
                }
            }
            Feed::History(Ok(entries)) => self.model.seed(&entries),
            // The strips then start empty; not worth more than that.
            Feed::History(Err(_)) => {}
            Feed::Done { label, result } => {
                self.ui.message = Some(outcome(&label, result));
                self.detail.stale = true;
            }
        }
        tasks.extend(self.tick(now_ms));
        tasks
    }

    /// Timed work: the open detail pane, fetched again when stale.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Task> {
        let Some(key) = self.detail_key().map(str::to_owned) else {
            return Vec::new();
        };
        let due = self
            .detail
            .last_fetch_ms
            .is_none_or(|t| now_ms.saturating_sub(t) >= DETAIL_EVERY_MS);
        if self.detail.stale && !self.detail.in_flight && due && self.model.link == Link::Live {
            self.detail.stale = false;
            self.detail.in_flight = true;
            self.detail.last_fetch_ms = Some(now_ms);
            return vec![Task::FetchDetail(key)];
        }
        Vec::new()
    }
}

/// The status line for a call's reply.
pub fn outcome(label: &str, result: Result<Response, String>) -> (String, Tone) {
    match result {
        Err(why) => (crate::table::clean(&format!("{label}: {why}")), Tone::Bad),
        Ok(Response::Action(r)) => (
            crate::table::clean(&format!("{label}: {} — {}", r.result.as_str(), r.message)),
            super::tone::result(r.result),
        ),
        Ok(Response::Bulk(reports)) => {
            let failed = reports
                .iter()
                .filter(|r| r.result == PipelineResult::Failed)
                .count();
            let tone = if failed > 0 { Tone::Bad } else { Tone::Good };
            (
                format!("{label}: {} services, {failed} failed", reports.len()),
                tone,
            )
        }
        Ok(Response::Status(_)) => (format!("{label}: done"), Tone::Good),
        Ok(Response::Error { message, .. }) => (
            crate::table::clean(&format!("{label}: {message}")),
            Tone::Bad,
        ),
        Ok(other) => (
            format!(
                "{label}: unexpected {} reply",
                crate::client::reply_kind(&other)
            ),
            Tone::Bad,
        ),
    }
}

#[cfg(test)]
mod tests;
