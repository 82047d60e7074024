//! The whole screen as lines of toned text, composed from the app's state for a terminal of a
//! given size; `draw` hands them to ratatui. Composing is pure, so the layout (header, table or
//! pane, status line, key hints) is tested as text at 80×24 and smaller.
//!
//! Layout: two header lines (the daemon, or that it is gone; the services by health), the table or the detail pane, a
//! status line (the last call's outcome, the filter being typed, a confirmation question, or
//! the latest event) and a line of key hints. Below 20×5 only a note that the terminal is too
//! small is shown; the keys still work.

use ratatui::Frame;
use ratatui::style::Modifier;
use ratatui::text::{Line as TuiLine, Span};
use ratatui::widgets::Paragraph;

use super::app::App;
use super::columns::{self, cut};
use super::help;
use super::keys::Mode;
use super::line::Line;
use super::listing;
use super::model::Link;
use super::pane;
use super::tone::Tone;
use crate::clock::format_age;
use crate::table::clean;

/// Smallest terminal the dashboard draws into.
pub const MIN_WIDTH: u16 = 20;
pub const MIN_HEIGHT: u16 = 5;

/// Rows of the table (or lines of the pane) that fit between the header and the two bottom
/// lines, below the table's own heading.
pub fn page(height: u16) -> usize {
    usize::from(height).saturating_sub(5).max(1)
}

/// The screen for a `width`×`height` terminal.
pub fn compose(app: &App, now_ms: i64, width: u16, height: u16) -> Vec<Line> {
    let (w, h) = (usize::from(width), usize::from(height));
    if width < MIN_WIDTH || height < MIN_HEIGHT {
        let note = [
            "terminal too small".to_owned(),
            format!("({w}x{h}, need {MIN_WIDTH}x{MIN_HEIGHT})"),
            "q quits".to_owned(),
        ];
        return note
            .iter()
            .take(h.max(1))
            .map(|t| Line::of(vec![(cut(t, w), Tone::Bad)]))
            .collect();
    }
    let [first, second] = header(app, now_ms, w);
    let mut out = vec![Line::of(first), Line::of(second)];
    let body = h - 4;
    let mut lines = if app.ui.help {
        help::lines(w)
    } else {
        match app.detail_key() {
            Some(key) => detail(app, key, now_ms, w, body),
            None => table(app, now_ms, w, body),
        }
    };
    lines.truncate(body);
    lines.resize(body, Line::default());
    out.extend(lines);
    out.push(Line::of(status_line(app, w)));
    out.push(Line::of(hints(app, w)));
    out
}

/// The two header lines: the daemon (or that it is gone), then the services by health.
fn header(app: &App, now_ms: i64, w: usize) -> [Vec<(String, Tone)>; 2] {
    let mut first: Vec<(String, Tone)> = Vec::new();
    match &app.model.link {
        Link::Live => {}
        Link::Connecting => first.push(("connecting to watchdogd… ".into(), Tone::Warn)),
        Link::Lost { why } => first.push((
            format!("daemon gone ({}); reconnecting… ", clean(why)),
            Tone::Bad,
        )),
    }
    let mut second: Vec<(String, Tone)> = Vec::new();
    if let Some(d) = &app.model.daemon {
        first.push((format!("watchdogd {}", clean(&d.version)), Tone::Strong));
        first.push((
            format!(
                " · pid {} · up {} · audit rows dropped ",
                d.pid,
                format_age(now_ms.saturating_sub(d.started_ms))
            ),
            Tone::Plain,
        ));
        let dropped = if d.audit_rows_dropped > 0 {
            Tone::Bad
        } else {
            Tone::Plain
        };
        first.push((d.audit_rows_dropped.to_string(), dropped));
        second.push((
            format!("{} services:", app.model.services.len()),
            Tone::Plain,
        ));
        for (i, (name, n, tone)) in app.model.counts().into_iter().enumerate() {
            let sep = if i == 0 { " " } else { " · " };
            second.push((sep.to_owned(), Tone::Plain));
            second.push((format!("{n} {name}"), tone));
        }
        if app.detail_key().is_none() {
            second.push((format!("  (sorted by {})", app.ui.sort.name()), Tone::Dim));
        }
    }
    [cut_segments(first, w), cut_segments(second, w)]
}

fn table(app: &App, now_ms: i64, w: usize, body: usize) -> Vec<Line> {
    let cols = columns::layout(w);
    let mut out = vec![Line::of(columns::header(&cols))];
    let rows = listing::visible(&app.model, &app.ui.filter, app.ui.sort, now_ms);
    if rows.is_empty() {
        let why = if app.model.services.is_empty() {
            "no services"
        } else {
            "no service matches the filter (Esc clears it)"
        };
        out.push(Line::of(vec![(cut(why, w), Tone::Dim)]));
        return out;
    }
    let room = body.saturating_sub(1).max(1);
    let at = app
        .ui
        .selected
        .as_ref()
        .and_then(|k| rows.iter().position(|e| &e.status.key == k))
        .unwrap_or(0);
    let first = (at + 1).saturating_sub(room);
    let stale = app.model.link != Link::Live;
    for (i, entry) in rows.iter().enumerate().skip(first).take(room) {
        let mut segments = columns::row(entry, &cols, now_ms);
        if stale {
            for (_, tone) in &mut segments {
                *tone = Tone::Dim;
            }
        }
        out.push(Line {
            segments,
            highlight: i == at,
        });
    }
    out
}

fn detail(app: &App, key: &str, now_ms: i64, w: usize, body: usize) -> Vec<Line> {
    let live = app.model.services.get(key);
    let Some(d) = app.detail() else {
        let what = if live.is_some() {
            format!("loading the detail of {key}…")
        } else {
            format!("{key} is not in watchdogd's config (any more)")
        };
        return vec![Line::of(vec![(cut(&what, w), Tone::Dim)])];
    };
    let lines = pane::lines(d, live, app.ui.action, now_ms, w);
    let top = app.ui.scroll.min(lines.len().saturating_sub(body));
    lines.into_iter().skip(top).map(Line::of).collect()
}

fn status_line(app: &App, w: usize) -> Vec<(String, Tone)> {
    let (text, tone) = match &app.ui.mode {
        Mode::Filter => (format!("filter: {}▏", clean(&app.ui.filter)), Tone::Strong),
        Mode::RunPrompt(key) => (
            format!(
                "run on {} (Enter runs, Esc cancels): {}▏",
                clean(key),
                clean(&app.ui.input)
            ),
            Tone::Strong,
        ),
        _ => match (&app.ui.message, &app.model.last_event) {
            (Some((m, t)), _) => (m.clone(), *t),
            (None, Some(e)) => (e.clone(), Tone::Dim),
            (None, None) => (String::new(), Tone::Plain),
        },
    };
    let mut segs = vec![(cut(&text, w), tone)];
    if !app.ui.filter.is_empty() && app.ui.mode != Mode::Filter {
        let used = unicode_width::UnicodeWidthStr::width(segs[0].0.as_str());
        let note = format!("  [filter: {}]", clean(&app.ui.filter));
        if used + note.len() <= w {
            segs.push((note, Tone::Dim));
        }
    }
    segs
}

fn hints(app: &App, w: usize) -> Vec<(String, Tone)> {
    let text = match (&app.ui.mode, app.ui.help) {
        (_, true) => "any key closes this help · q quits",
        (Mode::Detail(_) | Mode::RunPrompt(_), _) => {
            "↑↓ Enter/1-9 run · Space on/off · : by name · s k r m · PgDn · b back · ? keys"
        }
        (Mode::Filter, _) => "type to filter · Enter keeps it · Esc restores the old one",
        (Mode::Confirm(_), _) => "y confirms · any other key cancels",
        (Mode::Table, _) => {
            "↑↓ Enter detail · s on · k off · r restart · / filter · o sort · ? keys · q quit"
        }
    };
    cut_segments(vec![(text.to_owned(), Tone::Dim)], w)
}

fn cut_segments(segs: Vec<(String, Tone)>, w: usize) -> Vec<(String, Tone)> {
    let mut left = w;
    let mut out = Vec::new();
    for (text, tone) in segs {
        let tw = unicode_width::UnicodeWidthStr::width(text.as_str());
        if tw <= left {
            left -= tw;
            out.push((text, tone));
        } else {
            if left > 0 {
                out.push((cut(&text, left), tone));
            }
            break;
        }
    }
    out
}

/// Draws composed lines into the frame; `color` false (`NO_COLOR`) keeps weight and reverse
/// video only.
pub fn draw(frame: &mut Frame, lines: &[Line], color: bool) {
    let text: Vec<TuiLine> = lines
        .iter()
        .map(|l| {
            let spans: Vec<Span> = l
                .segments
                .iter()
                .map(|(t, tone)| {
                    let mut style = tone.style(color);
                    if l.highlight {
                        style = style.add_modifier(Modifier::REVERSED);
                    }
                    Span::styled(t.clone(), style)
                })
                .collect();
            TuiLine::from(spans)
        })
        .collect();
    frame.render_widget(Paragraph::new(text), frame.area());
}

#[cfg(test)]
mod tests;
