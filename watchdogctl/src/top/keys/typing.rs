//! The modes that take typed input: the filter after `/`, an action's name after `:`, and the
//! `y` of a confirmation line.

use super::{Bulk, Effect, Key, Mode, Ui, run};
use crate::top::tone::Tone;

impl Ui {
    pub(super) fn confirm(&mut self, key: Key, bulk: Bulk) -> Vec<Effect> {
        self.mode = Mode::Table;
        if key == Key::Char('y') || key == Key::Char('Y') {
            let request = bulk.request();
            let label = request.name().to_owned();
            vec![Effect::Call { request, label }]
        } else {
            self.say("cancelled", Tone::Plain);
            vec![]
        }
    }

    pub(super) fn typing_filter(&mut self, key: Key) -> Vec<Effect> {
        match key {
            Key::Enter => self.mode = Mode::Table,
            Key::Esc => {
                self.filter = std::mem::take(&mut self.filter_before);
                self.mode = Mode::Table;
            }
            Key::Backspace => {
                self.filter.pop();
            }
            Key::Char(c) => self.filter.push(c),
            _ => {}
        }
        vec![]
    }

    pub(super) fn prompt(&mut self, key: Key, service: &str) -> Vec<Effect> {
        match key {
            Key::Enter => {
                self.mode = Mode::Detail(service.to_owned());
                let name = self.input.trim().to_owned();
                if name.is_empty() {
                    vec![]
                } else {
                    vec![run(service, &name)]
                }
            }
            Key::Esc => {
                self.mode = Mode::Detail(service.to_owned());
                vec![]
            }
            Key::Backspace => {
                self.input.pop();
                vec![]
            }
            Key::Char(c) => {
                self.input.push(c);
                vec![]
            }
            _ => vec![],
        }
    }
}
