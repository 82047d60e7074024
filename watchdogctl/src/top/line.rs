//! One line of the composed screen: toned segments, and whether it is the highlighted row.
//! Composed by `screen.rs` and `help.rs`, drawn by ratatui.

use super::tone::Tone;

/// One screen line: toned segments, and whether it is the highlighted (selected) row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    pub segments: Vec<(String, Tone)>,
    pub highlight: bool,
}

impl Line {
    pub fn of(segments: Vec<(String, Tone)>) -> Line {
        Line {
            segments,
            highlight: false,
        }
    }

    #[cfg(test)]
    pub fn text(&self) -> String {
        self.segments.iter().map(|(t, _)| t.as_str()).collect()
    }
}
