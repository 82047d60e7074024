//! The service table's columns: which fit a terminal this wide, how wide each is, and one
//! service's row as text segments with tones.
//!
//! Columns are dropped from the least telling up (name, restarts, failures, last recovery, pid,
//! history strip, age, state) until the rest fit, so 80 columns keep everything but the name
//! (shown in the detail pane) and even 30 keep key and health. Text that does not fit its cell
//! ends in `…`; nothing ever wraps a row.

use protocol::{ServiceState, ServiceStatus};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::model::Entry;
use super::tone::{self, Tone};
use crate::clock::{format_age, format_ago};
use crate::table::clean;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Key,
    Name,
    State,
    Health,
    Pid,
    Age,
    Failures,
    Restarts,
    LastRecovery,
    Checks,
}

struct Spec {
    col: Col,
    title: &'static str,
    min: usize,
    /// Grown to this first (in [`GROW`] order), then to `max`.
    pref: usize,
    max: usize,
    /// Dropped in descending order when the terminal is too narrow; 0: never.
    drop: u8,
}

const SPECS: [Spec; 10] = [
    spec(Col::Key, "KEY", 6, 10, 24, 0),
    spec(Col::Name, "NAME", 8, 16, 28, 10),
    spec(Col::State, "STATE", 10, 10, 10, 3),
    spec(Col::Health, "HEALTH", 12, 12, 12, 0),
    spec(Col::Pid, "PID", 7, 7, 7, 6),
    spec(Col::Age, "AGE", 5, 5, 5, 4),
    spec(Col::Failures, "FAIL", 4, 4, 4, 8),
    spec(Col::Restarts, "RST", 3, 3, 3, 9),
    spec(Col::LastRecovery, "LAST RECOVERY", 13, 16, 28, 7),
    spec(Col::Checks, "CHECKS", 6, 12, 32, 5),
];

const fn spec(
    col: Col,
    title: &'static str,
    min: usize,
    pref: usize,
    max: usize,
    drop: u8,
) -> Spec {
    Spec {
        col,
        title,
        min,
        pref,
        max,
        drop,
    }
}

/// The order spare width goes to the columns that can use it.
const GROW: [Col; 4] = [Col::Key, Col::Checks, Col::LastRecovery, Col::Name];

fn spec_of(col: Col) -> &'static Spec {
    SPECS
        .iter()
        .find(|s| s.col == col)
        .expect("every column has a spec")
}

/// The columns shown at `width`, with their widths, separated by one space each.
pub fn layout(width: usize) -> Vec<(Col, usize)> {
    let mut shown: Vec<&Spec> = SPECS.iter().collect();
    let need = |cols: &[&Spec]| cols.iter().map(|s| s.min).sum::<usize>() + cols.len() - 1;
    while need(&shown) > width {
        let Some(worst) = shown.iter().map(|s| s.drop).max().filter(|&d| d > 0) else {
            break;
        };
        shown.retain(|s| s.drop != worst);
    }
    let mut cols: Vec<(Col, usize)> = shown.iter().map(|s| (s.col, s.min)).collect();
    let used = need(&shown);
    if used > width {
        // Only key and health are left: the key gives way.
        let short = used - width;
        cols[0].1 = cols[0].1.saturating_sub(short).max(1);
        return cols;
    }
    let mut spare = width - used;
    for limit in [|s: &Spec| s.pref, |s: &Spec| s.max] {
        for grow in GROW {
            if let Some((_, w)) = cols.iter_mut().find(|(c, _)| *c == grow) {
                let add = limit(spec_of(grow)).saturating_sub(*w).min(spare);
                *w += add;
                spare -= add;
            }
        }
    }
    cols
}

/// The heading line's segments.
pub fn header(cols: &[(Col, usize)]) -> Vec<(String, Tone)> {
    join(
        cols.iter()
            .map(|(c, w)| vec![(fit(spec_of(*c).title, *w), Tone::Strong)])
            .collect(),
    )
}

/// One service's row: padded segments, one space between cells.
pub fn row(entry: &Entry, cols: &[(Col, usize)], now_ms: i64) -> Vec<(String, Tone)> {
    let s = &entry.status;
    let cells = cols
        .iter()
        .map(|&(col, w)| match col {
            Col::Checks => {
                // Off on purpose: its failing checks are expected, not alarming.
                let off = matches!(s.state, ServiceState::Stopped | ServiceState::Disabled);
                entry
                    .strip
                    .cells(w)
                    .into_iter()
                    .map(|(c, t)| (c.to_string(), if off { Tone::Dim } else { t }))
                    .collect()
            }
            _ => {
                let (text, tone) = text_of(col, s, entry, now_ms, w);
                vec![(fit(&clean(&text), w), tone)]
            }
        })
        .collect();
    join(cells)
}

fn text_of(col: Col, s: &ServiceStatus, e: &Entry, now_ms: i64, w: usize) -> (String, Tone) {
    let dash = || "-".to_owned();
    match col {
        Col::Key => (s.key.clone(), Tone::Plain),
        Col::Name if s.display_name.is_empty() => (dash(), Tone::Plain),
        Col::Name => (s.display_name.clone(), Tone::Plain),
        Col::State => (s.state.as_str().to_owned(), tone::state(s)),
        Col::Health => (
            s.health.map_or_else(dash, |h| h.as_str().to_owned()),
            tone::health(s),
        ),
        Col::Pid => (s.pid.map_or_else(dash, |p| p.to_string()), Tone::Plain),
        Col::Age => (e.age_ms(now_ms).map_or_else(dash, format_age), Tone::Plain),
        Col::Failures => (
            s.consecutive_failures.to_string(),
            if s.consecutive_failures > 0 {
                Tone::Warn
            } else {
                Tone::Plain
            },
        ),
        Col::Restarts => (
            s.restarts_in_window.to_string(),
            if s.restarts_in_window > 0 {
                Tone::Warn
            } else {
                Tone::Plain
            },
        ),
        Col::LastRecovery => match &s.last_recovery {
            None => (dash(), Tone::Plain),
            Some(r) => {
                let short = format!(
                    "{} {}",
                    r.result.as_str(),
                    format_ago(now_ms_to_ago(now_ms, r.finished_ms))
                );
                let long = format!("{short} ({})", r.trigger.as_str());
                let text = if long.width() <= w { long } else { short };
                (text, tone::result(r.result))
            }
        },
        Col::Checks => (String::new(), Tone::Plain),
    }
}

/// How long ago a daemon time was, by the local wall clock (`now_ms` is local monotonic time
/// anchored to the wall clock at start). Never negative.
fn now_ms_to_ago(now_ms: i64, then_ms: i64) -> i64 {
    now_ms.saturating_sub(then_ms).max(0)
}

/// Cells joined by one space.
fn join(cells: Vec<Vec<(String, Tone)>>) -> Vec<(String, Tone)> {
    let mut out = Vec::new();
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push((" ".to_owned(), Tone::Plain));
        }
        out.extend(cell);
    }
    out
}

/// `text` cut to `width` display columns (ending in `…` when cut) and padded with spaces.
pub fn fit(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    if text.width() <= width {
        out.push_str(text);
        used = text.width();
    } else if width > 0 {
        for c in text.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > width - 1 {
                break;
            }
            out.push(c);
            used += w;
        }
        out.push('…');
        used += 1;
    }
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
    out
}

/// `text` cut to `width` columns, without padding.
pub fn cut(text: &str, width: usize) -> String {
    fit(text, width).trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::model::tests::status;
    use protocol::Health;

    fn names(cols: &[(Col, usize)]) -> Vec<Col> {
        cols.iter().map(|(c, _)| *c).collect()
    }

    fn total(cols: &[(Col, usize)]) -> usize {
        cols.iter().map(|(_, w)| w).sum::<usize>() + cols.len() - 1
    }

    #[test]
    fn eighty_columns_keep_everything_but_the_name() {
        let cols = layout(80);
        assert_eq!(
            names(&cols),
            [
                Col::Key,
                Col::State,
                Col::Health,
                Col::Pid,
                Col::Age,
                Col::Failures,
                Col::Restarts,
                Col::LastRecovery,
                Col::Checks
            ]
        );
        assert_eq!(total(&cols), 80);
        assert!(names(&layout(120)).contains(&Col::Name));
        assert_eq!(total(&layout(120)), 120);
    }

    #[test]
    fn narrow_terminals_drop_columns_and_wide_ones_cap_them() {
        assert_eq!(
            names(&layout(40)),
            [Col::Key, Col::State, Col::Health, Col::Age]
        );
        assert_eq!(names(&layout(30)), [Col::Key, Col::State, Col::Health]);
        assert_eq!(names(&layout(19)), [Col::Key, Col::Health]);
        // Too narrow even for those: the key shrinks, never below one column.
        assert_eq!(layout(15), [(Col::Key, 2), (Col::Health, 12)]);
        assert_eq!(layout(3), [(Col::Key, 1), (Col::Health, 12)]);
        for w in 19..300 {
            assert!(total(&layout(w)) <= w, "{w}");
        }
        let wide = layout(400);
        assert_eq!(
            wide.iter().find(|(c, _)| *c == Col::Key),
            Some(&(Col::Key, 24))
        );
    }

    #[test]
    fn a_row_fits_its_columns_exactly() {
        let mut s = status("a-very-long-service-key", Some(Health::StalePid), 4242, 0);
        s.consecutive_failures = 2;
        s.detail = "x\x1b[2J".into();
        let mut entry = crate::top::model::Model::default();
        entry.on_status(crate::top::model::tests::reply(vec![s]), 1_000);
        let e = &entry.services["a-very-long-service-key"];
        let cols = layout(80);
        let text: String = row(e, &cols, 3_000).into_iter().map(|(t, _)| t).collect();
        assert_eq!(text.width(), 80, "{text:?}");
        assert!(text.starts_with("a-very-lo… running"), "{text:?}");
        assert!(
            text.contains("stale_pid    4242    3s    2    0   succeeded 2s"),
            "{text:?}"
        );
        assert!(text.ends_with("   0   succeeded 2s         █"), "{text:?}");
        let heads: String = header(&cols).into_iter().map(|(t, _)| t).collect();
        assert!(heads.starts_with("KEY        STATE      HEALTH       PID     AGE   FAIL RST"));
    }

    #[test]
    fn fitting_text() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 0), "");
        assert_eq!(fit("日本語", 4), "日… ");
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
