//! The key table: shown by `?`, and the same rows as docs/top.md (a test keeps the two equal).

use super::columns::fit;
use super::line::Line;
use super::tone::Tone;

/// Key, what it does in the table, what it does in the detail pane.
pub const KEYS: [(&str, &str, &str); 18] = [
    ("↑ ↓", "select a service", "select an action"),
    (
        "PgUp PgDn Home End",
        "move by a page, to the top, to the bottom",
        "scroll the pane",
    ),
    ("Enter", "open the detail pane", "run the selected action"),
    ("1-9", "-", "run action N"),
    (":", "-", "run an action by name"),
    (
        "Space",
        "-",
        "turn the selected action off or on in recoveries",
    ),
    ("s", "on: start unless healthy", "same"),
    ("k", "off: stop, keep stopped", "same"),
    ("r", "restart: run the recovery pipeline", "same"),
    ("g", "the full recovery pipeline (what r runs)", "same"),
    ("m", "monitoring off or on (kept by watchdogd)", "same"),
    ("S K R", "start, stop or restart all, after y", "-"),
    ("/", "filter (Enter keeps it, Esc restores)", "-"),
    ("o", "sort by key, health, age", "-"),
    ("b Esc", "clear the filter", "back to the table"),
    ("?", "this help", "same"),
    ("q Ctrl-C", "quit", "same"),
    ("Ctrl-L", "redraw the screen", "same"),
];

/// The help screen's lines for a terminal `width` wide.
pub fn lines(width: usize) -> Vec<Line> {
    let mut out = vec![Line {
        segments: vec![(
            fit("KEYS  (in the table / in the detail pane)", width),
            Tone::Strong,
        )],
        highlight: false,
    }];
    for (key, table, detail) in KEYS {
        let text = if detail == "same" {
            format!("{key:<19}{table}")
        } else if table == "-" {
            format!("{key:<19}pane: {detail}")
        } else if detail == "-" {
            format!("{key:<19}{table}")
        } else {
            format!("{key:<19}{table} / {detail}")
        };
        out.push(Line {
            segments: vec![(super::columns::cut(&text, width), Tone::Plain)],
            highlight: false,
        });
    }
    out.push(Line {
        segments: vec![(
            super::columns::cut(
                "filter words match key, name, health or state; unhealthy: any bad health; !word: not",
                width,
            ),
            Tone::Dim,
        )],
        highlight: false,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_list_the_same_keys() {
        let docs = include_str!("../../../docs/top.md");
        for (key, table, detail) in KEYS {
            let row = format!("| {key} | {table} | {detail} |");
            assert!(docs.contains(&row), "docs/top.md lacks the row {row}");
        }
    }

    #[test]
    fn help_fits_80_by_24() {
        let lines = lines(80);
        assert!(lines.len() <= 24 - 3, "{}", lines.len());
        assert!(lines.iter().all(|l| l.text().chars().count() <= 80));
    }
}
