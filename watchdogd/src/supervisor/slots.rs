//! The bound on pipelines running at once (`max_parallel_recoveries`), and who waits for a slot.
//!
//! A storm (every service failing at once) must not start thousands of pipelines: the owner's
//! turns and the control socket would starve. So at most `limit` run; the rest wait in order,
//! operators' requests ahead of automatic recoveries (a `restart` typed during a storm runs
//! next), and show as `queued`. A request for a service whose pipeline waits here is admitted
//! against the waiting one ([`while_waiting`]), as it would be against a running one, except
//! that nothing runs yet to be cancelled.

use std::collections::VecDeque;

use protocol::Trigger;

use super::effects::Reply;
use super::service::{Admission, Task, admit};

/// A pipeline admitted but waiting for a slot.
pub(super) struct Waiting {
    pub key: String,
    pub task: Task,
    pub replies: Vec<Reply>,
}

/// What a request does to its service's pipeline that waits for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WhileWaiting {
    /// The waiting pipeline's outcome answers it.
    Join,
    /// It replaces the waiting pipeline (an `off` over a waiting recovery): nothing runs yet,
    /// so nothing is cancelled, and the replaced callers are told.
    Replace,
    /// It runs after the waiting pipeline.
    Behind,
}

/// The rule for a request against a waiting pipeline: the admission rule, with a
/// supersede becoming a replacement.
pub(super) fn while_waiting(waiting: &Task, new: &Task) -> WhileWaiting {
    match admit::admit(Some(waiting), false, new) {
        Admission::Join => WhileWaiting::Join,
        Admission::Supersede => WhileWaiting::Replace,
        _ => WhileWaiting::Behind,
    }
}

/// What [`Slots::offer`] did with a request.
pub(super) enum Offered {
    /// Joined the waiting pipeline.
    Joined,
    /// Replaced it; its callers are to be told, with this message.
    Replaced(Vec<Reply>, String),
    /// To be queued behind the waiting pipeline.
    Behind(Task, Reply),
    /// Nothing of its service waits here: admitted as usual.
    NotWaiting(Task, Reply),
}

pub(super) struct Slots {
    limit: usize,
    running: usize,
    /// Operators' requests, served first.
    manual: VecDeque<Waiting>,
    automatic: VecDeque<Waiting>,
}

impl Slots {
    pub(super) fn new(limit: usize) -> Slots {
        Slots {
            limit: limit.max(1),
            running: 0,
            manual: VecDeque::new(),
            automatic: VecDeque::new(),
        }
    }

    pub(super) fn running(&self) -> usize {
        self.running
    }

    pub(super) fn waiting(&self) -> usize {
        self.manual.len() + self.automatic.len()
    }

    pub(super) fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
    }

    /// Whether a slot is free now.
    pub(super) fn free(&self) -> bool {
        self.running < self.limit
    }

    /// A pipeline takes a slot.
    pub(super) fn take(&mut self) {
        self.running += 1;
    }

    /// A pipeline gave its slot back.
    pub(super) fn release(&mut self) {
        self.running = self.running.saturating_sub(1);
    }

    /// Waits for a slot, behind those of its kind already waiting.
    pub(super) fn wait(&mut self, waiting: Waiting) {
        if waiting.task.trigger == Trigger::Automatic {
            self.automatic.push_back(waiting);
        } else {
            self.manual.push_back(waiting);
        }
    }

    /// Admits a request for `key` against its pipeline waiting here, if one does.
    pub(super) fn offer(&mut self, key: &str, task: Task, reply: Reply) -> Offered {
        let Some(waiting) = self
            .manual
            .iter_mut()
            .chain(self.automatic.iter_mut())
            .find(|w| w.key == key)
        else {
            return Offered::NotWaiting(task, reply);
        };
        match while_waiting(&waiting.task, &task) {
            WhileWaiting::Join => {
                waiting.replies.push(reply);
                Offered::Joined
            }
            WhileWaiting::Replace => {
                let message = format!("{} superseded by {}", waiting.task.name(), task.name());
                waiting.task = task;
                Offered::Replaced(
                    std::mem::replace(&mut waiting.replies, vec![reply]),
                    message,
                )
            }
            WhileWaiting::Behind => Offered::Behind(task, reply),
        }
    }

    /// The next pipeline to start, if a slot is free: operators' first, each in order.
    pub(super) fn next(&mut self) -> Option<Waiting> {
        if !self.free() {
            return None;
        }
        self.manual
            .pop_front()
            .or_else(|| self.automatic.pop_front())
    }

    /// Everyone still waiting, for shutdown.
    pub(super) fn drain(&mut self) -> impl Iterator<Item = (Reply, String)> + '_ {
        self.manual
            .drain(..)
            .chain(self.automatic.drain(..))
            .flat_map(|w| w.replies.into_iter().map(move |r| (r, w.key.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Trigger::*;

    fn waiting(key: &str, task: Task) -> Waiting {
        Waiting {
            key: key.into(),
            task,
            replies: Vec::new(),
        }
    }

    fn reply() -> Reply {
        tokio::sync::oneshot::channel().0
    }

    #[test]
    fn a_request_against_a_waiting_pipeline() {
        use WhileWaiting::*;
        let cases = [
            (Task::new(Automatic), Task::new(Restart), Join),
            (Task::new(Automatic), Task::new(On), Join),
            (Task::new(Automatic), Task::new(Off), Replace),
            (Task::new(Automatic), Task::run("clear_db"), Behind),
            (Task::new(Restart), Task::new(Off), Replace),
            (Task::new(Off), Task::new(Off), Join),
            (Task::new(Off), Task::new(On), Behind),
            (Task::run("clear_db"), Task::run("clear_db"), Join),
            (Task::run("clear_db"), Task::new(Off), Replace),
            (Task::run("clear_db"), Task::new(Restart), Behind),
        ];
        for (w, new, want) in cases {
            assert_eq!(
                while_waiting(&w, &new),
                want,
                "{w:?} waiting, {new:?} comes"
            );
        }
    }

    #[test]
    fn at_most_limit_run_and_operators_go_first_each_in_order() {
        let mut slots = Slots::new(0);
        assert!(slots.free(), "a limit below 1 is 1");
        slots.take();
        assert!(!slots.free());
        slots.wait(waiting("a1", Task::new(Automatic)));
        slots.wait(waiting("m1", Task::new(Restart)));
        slots.wait(waiting("a2", Task::new(Automatic)));
        slots.wait(waiting("m2", Task::run("clear_db")));
        assert_eq!(slots.waiting(), 4);
        assert!(slots.next().is_none(), "no free slot");
        slots.set_limit(2);
        let mut order = Vec::new();
        while let Some(w) = slots.next() {
            order.push(w.key);
            slots.take();
            slots.release();
        }
        assert_eq!(order, ["m1", "m2", "a1", "a2"]);
        slots.release();
        slots.release();
        assert_eq!(slots.running(), 0, "never below zero");
    }

    #[test]
    fn offers_join_replace_or_come_back() {
        let mut slots = Slots::new(1);
        slots.wait(waiting("api", Task::new(Automatic)));
        assert!(matches!(
            slots.offer("api", Task::new(Restart), reply()),
            Offered::Joined
        ));
        let Offered::Replaced(told, message) = slots.offer("api", Task::new(Off), reply()) else {
            panic!("an off replaces a waiting recovery")
        };
        assert_eq!(
            (told.len(), message.as_str()),
            (1, "automatic superseded by off")
        );
        assert!(matches!(
            slots.offer("api", Task::new(On), reply()),
            Offered::Behind(t, _) if t == Task::new(On)
        ));
        assert!(matches!(
            slots.offer("db", Task::new(Restart), reply()),
            Offered::NotWaiting(..)
        ));
        let w = slots.next().expect("the off waits");
        assert_eq!((w.task, w.replies.len()), (Task::new(Off), 1));
    }
}
