//! The history strip: one cell per recent check, newest on the right, so a service that flaps
//! shows as `▁█▁█▁█` at a glance.
//!
//! Cells differ in shape as well as colour (healthy low, unhealthy full, stalled or unreadable
//! half), so the strip still reads under `NO_COLOR` or on a monochrome terminal.

use std::collections::VecDeque;

use protocol::Health;

use super::tone::Tone;

/// Checks kept per service: more than the widest strip drawn.
pub const KEEP: usize = 64;

/// The last [`KEEP`] checks of one service: when each ran (daemon ms) and its verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Strip {
    checks: VecDeque<(i64, Health)>,
}

impl Strip {
    /// Records a check; one at or before the newest kept is a repeat and ignored.
    pub fn push(&mut self, at_ms: i64, health: Health) {
        if self.checks.back().is_some_and(|(t, _)| *t >= at_ms) {
            return;
        }
        self.checks.push_back((at_ms, health));
        while self.checks.len() > KEEP {
            self.checks.pop_front();
        }
    }

    /// Puts older checks (from the audit log, any order) before the ones seen live.
    pub fn seed(&mut self, older: impl IntoIterator<Item = (i64, Health)>) {
        let first = self.checks.front().map_or(i64::MAX, |(t, _)| *t);
        let mut past: Vec<(i64, Health)> = older.into_iter().filter(|(t, _)| *t < first).collect();
        past.sort_by_key(|(t, _)| *t);
        past.dedup_by_key(|(t, _)| *t);
        let live = std::mem::take(&mut self.checks);
        self.checks = past.into_iter().chain(live).collect();
        while self.checks.len() > KEEP {
            self.checks.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.checks.len()
    }

    /// The newest `width` checks as cells, right-aligned: blanks first when fewer are known.
    pub fn cells(&self, width: usize) -> Vec<(char, Tone)> {
        let shown = self.checks.len().min(width);
        let mut out = vec![(' ', Tone::Plain); width - shown];
        out.extend(
            self.checks
                .iter()
                .skip(self.checks.len() - shown)
                .map(|(_, h)| cell(*h)),
        );
        out
    }

    /// How many of the kept checks were unhealthy, and how often the verdict flipped.
    pub fn summary(&self) -> (usize, usize) {
        let bad = self.checks.iter().filter(|(_, h)| !h.is_healthy()).count();
        let flips = self
            .checks
            .iter()
            .zip(self.checks.iter().skip(1))
            .filter(|(a, b)| a.1.is_healthy() != b.1.is_healthy())
            .count();
        (bad, flips)
    }
}

/// One check's cell.
pub fn cell(health: Health) -> (char, Tone) {
    match health {
        Health::Healthy => ('▁', Tone::Good),
        Health::Stalled | Health::Unreadable => ('▄', Tone::Warn),
        Health::NoHeartbeat | Health::StalePid | Health::TimedOut | Health::ErrorStatus => {
            ('█', Tone::Bad)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Health::*;

    fn text(cells: &[(char, Tone)]) -> String {
        cells.iter().map(|(c, _)| *c).collect()
    }

    #[test]
    fn newest_on_the_right_and_padded_on_the_left() {
        let mut s = Strip::default();
        assert_eq!(text(&s.cells(4)), "    ");
        s.push(1, Healthy);
        s.push(2, StalePid);
        s.push(3, Stalled);
        assert_eq!(text(&s.cells(5)), "  ▁█▄");
        assert_eq!(text(&s.cells(2)), "█▄");
        assert_eq!(s.cells(2)[0].1, Tone::Bad);
        assert_eq!(text(&s.cells(0)), "");
    }

    #[test]
    fn repeats_are_ignored_and_only_keep_are_kept() {
        let mut s = Strip::default();
        s.push(5, Healthy);
        s.push(5, StalePid);
        s.push(4, StalePid);
        assert_eq!(s.len(), 1);
        for t in 10..10 + KEEP as i64 * 2 {
            s.push(t, if t % 2 == 0 { Healthy } else { TimedOut });
        }
        assert_eq!(s.len(), KEEP);
        assert_eq!(text(&s.cells(4)), "▁█▁█");
        assert_eq!(s.summary(), (KEEP / 2, KEEP - 1));
    }

    #[test]
    fn the_audit_log_fills_in_before_what_was_seen_live() {
        let mut s = Strip::default();
        s.push(100, Healthy);
        // Older rows newest first, as history returns them; one overlaps the live check.
        s.seed([
            (100, NoHeartbeat),
            (90, StalePid),
            (80, Healthy),
            (90, StalePid),
        ]);
        assert_eq!(text(&s.cells(4)), " ▁█▁");
        let mut empty = Strip::default();
        empty.seed([(2, Healthy), (1, TimedOut)]);
        assert_eq!(text(&empty.cells(2)), "█▁");
    }
}
