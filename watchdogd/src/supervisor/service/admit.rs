//! Admission: what a new request does to a service's one pipeline.
//!
//! At most one pipeline runs per service. A request that arrives while one runs either joins it
//! (a `restart` during an automatic recovery is answered by that recovery's outcome), is queued
//! behind it (`on` during an `off`), or supersedes it: an `off` cancels a running recovery at
//! its next safe point and runs next, so intent always wins. One follow-up waits at most; a
//! different one replaces it, and its callers are told so.

use protocol::{ActionReport, PipelineResult, Trigger};

/// What one pipeline does: its trigger, and for `run` the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub trigger: Trigger,
    pub action: Option<String>,
}

impl Task {
    pub fn new(trigger: Trigger) -> Task {
        Task {
            trigger,
            action: None,
        }
    }

    pub fn run(action: &str) -> Task {
        Task {
            trigger: Trigger::Run,
            action: Some(action.to_owned()),
        }
    }

    /// How it is named in messages: `restart`, `run clear_db`.
    pub fn name(&self) -> String {
        match &self.action {
            Some(a) => format!("{} {a}", self.trigger.as_str()),
            None => self.trigger.as_str().to_owned(),
        }
    }

    /// Whether a request for `other` is answered by this pipeline's outcome.
    fn answers(&self, other: &Task) -> bool {
        use Trigger::*;
        match (self.trigger, other.trigger) {
            (Off, Off) => true,
            (Off, _) | (_, Off) => false,
            (Run, Run) => self.action == other.action,
            (Run, _) | (_, Run) => false,
            // Automatic, Restart and On all end with the service started afresh.
            _ => true,
        }
    }
}

/// What a request does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Nothing runs: start its pipeline now.
    Start,
    /// A pipeline runs whose outcome answers this request too.
    Join,
    /// Runs after the current pipeline (replacing a different queued follow-up).
    Queue,
    /// The running pipeline is cancelled at its next safe point; this one runs next.
    Supersede,
    /// Nothing to do; why.
    Skip(&'static str),
}

/// The admission rule. `starting`: the service was started by watchdogd, is inside its start
/// grace and has not been seen healthy yet.
pub fn admit(running: Option<&Task>, starting: bool, new: &Task) -> Admission {
    match running {
        None if new.trigger == Trigger::On && starting => {
            Admission::Skip("already starting (inside its start grace)")
        }
        None => Admission::Start,
        Some(r) if r.answers(new) => Admission::Join,
        Some(r) if new.trigger == Trigger::Off && r.trigger != Trigger::Off => Admission::Supersede,
        Some(_) => Admission::Queue,
    }
}

/// A failed report for callers that get no pipeline of their own.
pub fn failed_report(key: &str, message: String) -> ActionReport {
    ActionReport {
        key: key.to_owned(),
        result: PipelineResult::Failed,
        message,
        steps: Vec::new(),
        old_pid: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Trigger::*;

    /// The whole matrix: every running pipeline (or none), in and out of a start's grace,
    /// against every request.
    #[test]
    fn admission_matrix() {
        use Admission::*;
        const SKIP: Admission = Skip("already starting (inside its start grace)");
        let tasks = [
            Task::new(Automatic),
            Task::new(Restart),
            Task::new(On),
            Task::new(Off),
            Task::run("clear_db"),
            Task::run("clear_mail"),
        ];
        let [a, r, on, off, run_db, _] = &tasks;
        // Columns: the new request, in the order of `tasks`.
        let rows: [(Option<&Task>, bool, [Admission; 6]); 12] = [
            (None, false, [Start, Start, Start, Start, Start, Start]),
            (None, true, [Start, Start, SKIP, Start, Start, Start]),
            (Some(a), false, [Join, Join, Join, Supersede, Queue, Queue]),
            (Some(a), true, [Join, Join, Join, Supersede, Queue, Queue]),
            (Some(r), false, [Join, Join, Join, Supersede, Queue, Queue]),
            (Some(r), true, [Join, Join, Join, Supersede, Queue, Queue]),
            (Some(on), false, [Join, Join, Join, Supersede, Queue, Queue]),
            (Some(on), true, [Join, Join, Join, Supersede, Queue, Queue]),
            (Some(off), false, [Queue, Queue, Queue, Join, Queue, Queue]),
            (Some(off), true, [Queue, Queue, Queue, Join, Queue, Queue]),
            (
                Some(run_db),
                false,
                [Queue, Queue, Queue, Supersede, Join, Queue],
            ),
            (
                Some(run_db),
                true,
                [Queue, Queue, Queue, Supersede, Join, Queue],
            ),
        ];
        for (running, starting, wants) in rows {
            for (new, want) in tasks.iter().zip(wants) {
                assert_eq!(
                    admit(running, starting, new),
                    want,
                    "running {running:?}, starting {starting}, new {new:?}"
                );
            }
        }
    }

    #[test]
    fn names() {
        assert_eq!(Task::run("clear_db").name(), "run clear_db");
        assert_eq!(Task::new(Off).name(), "off");
    }
}
