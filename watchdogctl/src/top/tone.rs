//! What a piece of the screen means (good, bad, …), decided by the pure parts; how it looks is
//! decided once, in [`Tone::style`], where `NO_COLOR` turns colour off and only weight and
//! reverse video remain.

use protocol::{Health, PipelineResult, ServiceState, ServiceStatus};
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    /// Headings and the key names in hints.
    Strong,
    Good,
    Bad,
    /// Expected for a while (starting, recovering) or half bad (stalled).
    Warn,
    /// Off on purpose, or stale (the daemon is gone).
    Dim,
}

impl Tone {
    pub fn style(self, color: bool) -> Style {
        let s = Style::default();
        match (self, color) {
            (Tone::Plain, _) => s,
            (Tone::Strong, _) => s.add_modifier(Modifier::BOLD),
            (Tone::Good, true) => s.fg(Color::Green),
            (Tone::Bad, true) => s.fg(Color::Red).add_modifier(Modifier::BOLD),
            (Tone::Warn, true) => s.fg(Color::Yellow),
            (Tone::Dim, true) => s.fg(Color::DarkGray),
            (Tone::Bad, false) => s.add_modifier(Modifier::BOLD),
            (Tone::Good | Tone::Warn, false) => s,
            (Tone::Dim, false) => s.add_modifier(Modifier::DIM),
        }
    }
}

/// The HEALTH cell's tone: red only where it counts (the service is supposed to be fine).
pub fn health(s: &ServiceStatus) -> Tone {
    match (s.state, s.health) {
        (ServiceState::Stopped | ServiceState::Disabled, _) => Tone::Dim,
        (_, None) => Tone::Plain,
        (_, Some(Health::Healthy)) => Tone::Good,
        (ServiceState::Running | ServiceState::Failing | ServiceState::GaveUp, Some(_)) => {
            Tone::Bad
        }
        (_, Some(_)) => Tone::Warn,
    }
}

/// The STATE cell's tone.
pub fn state(s: &ServiceStatus) -> Tone {
    match s.state {
        ServiceState::Starting
        | ServiceState::Recovering
        | ServiceState::Stopping
        | ServiceState::Queued => Tone::Warn,
        ServiceState::GaveUp | ServiceState::Failing => Tone::Bad,
        ServiceState::Stopped | ServiceState::Disabled => Tone::Dim,
        ServiceState::Running => match s.health {
            Some(Health::Healthy) => Tone::Good,
            Some(_) => Tone::Bad,
            None => Tone::Plain,
        },
    }
}

/// A pipeline result's tone.
pub fn result(r: PipelineResult) -> Tone {
    match r {
        PipelineResult::Succeeded | PipelineResult::Skipped => Tone::Plain,
        PipelineResult::Warned => Tone::Warn,
        PipelineResult::Failed => Tone::Bad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_keeps_only_weight() {
        for tone in [
            Tone::Plain,
            Tone::Strong,
            Tone::Good,
            Tone::Bad,
            Tone::Warn,
            Tone::Dim,
        ] {
            let s = tone.style(false);
            assert_eq!((s.fg, s.bg), (None, None), "{tone:?}");
        }
        assert_eq!(Tone::Bad.style(true).fg, Some(Color::Red));
        assert!(Tone::Bad.style(false).add_modifier.contains(Modifier::BOLD));
    }
}
