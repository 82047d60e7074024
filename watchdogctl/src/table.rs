//! Aligned text tables, optionally coloured.
//!
//! Column widths are computed from the plain text and the colour codes are added around the
//! padded-out text, so colour never breaks alignment. The last column is never padded, so no line
//! ends in spaces. A row may carry lines printed beneath it (a recovery's steps), which take no
//! part in the alignment.

const GAP: &str = "  ";

/// The few ANSI styles we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    Plain,
    Bold,
    Green,
    Red,
    Yellow,
    Dim,
}

impl Paint {
    fn code(self) -> Option<&'static str> {
        match self {
            Paint::Plain => None,
            Paint::Bold => Some("\x1b[1m"),
            Paint::Green => Some("\x1b[32m"),
            Paint::Red => Some("\x1b[31m"),
            Paint::Yellow => Some("\x1b[33m"),
            Paint::Dim => Some("\x1b[2m"),
        }
    }
}

/// One cell: its text and how to paint it.
pub struct Cell {
    pub text: String,
    pub paint: Paint,
}

/// A cell whose text is [`clean`]ed: a daemon's message may quote a service's heartbeat file.
pub fn cell(text: impl AsRef<str>, paint: Paint) -> Cell {
    Cell {
        text: clean(text.as_ref()),
        paint,
    }
}

/// Text with control characters escaped (`\u{1b}`, `\n`, `\t`), so that text from a heartbeat
/// file or a command's output can neither move the cursor, recolour the terminal nor break a
/// table or a one-event-per-line stream.
pub fn clean(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// One row of cells plus the lines printed beneath it.
pub struct Row {
    pub cells: Vec<Cell>,
    pub beneath: Vec<String>,
}

impl Row {
    pub fn new(cells: Vec<Cell>) -> Self {
        Row {
            cells,
            beneath: Vec::new(),
        }
    }
}

/// Display width, close enough for keys and names (one column per `char`).
fn width(text: &str) -> usize {
    text.chars().count()
}

fn push_line(out: &mut String, cells: &[Cell], widths: &[usize], color: bool) {
    let last = cells.len().saturating_sub(1);
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push_str(GAP);
        }
        match c.paint.code().filter(|_| color) {
            Some(code) => {
                out.push_str(code);
                out.push_str(&c.text);
                out.push_str("\x1b[0m");
            }
            None => out.push_str(&c.text),
        }
        if i < last {
            let pad = widths
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_sub(width(&c.text));
            out.extend(std::iter::repeat_n(' ', pad));
        }
    }
    // An empty last cell would leave the gap and padding dangling.
    out.truncate(out.trim_end_matches(' ').len());
    out.push('\n');
}

/// The header (bold) and every row, each line ending in `\n`.
pub fn render(headers: &[&str], rows: &[Row], color: bool) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(&r.cells) {
            *w = (*w).max(width(&c.text));
        }
    }
    let mut out = String::new();
    let header: Vec<Cell> = headers.iter().map(|h| cell(*h, Paint::Bold)).collect();
    push_line(&mut out, &header, &widths, color);
    for r in rows {
        push_line(&mut out, &r.cells, &widths, color);
        for line in &r.beneath {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_and_puts_lines_beneath() {
        let mut row = Row::new(vec![cell("a", Paint::Plain), cell("xyz", Paint::Red)]);
        row.beneath.push("    step".into());
        let rows = [
            row,
            Row::new(vec![cell("long", Paint::Plain), cell("", Paint::Plain)]),
        ];
        assert_eq!(
            render(&["K", "V"], &rows, false),
            "K     V\na     xyz\n    step\nlong\n"
        );
        let coloured = render(&["K", "V"], &rows, true);
        assert!(coloured.contains("\x1b[31mxyz\x1b[0m"));
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(clean("ok"), "ok");
        assert_eq!(clean("a\x1b[2Jb\nc\td"), "a\\u{1b}[2Jb\\nc\\td");
        assert_eq!(cell("\r", Paint::Plain).text, "\\r");
    }
}
