//! Admission: what a new request does to a service's one pipeline.
//!
//! At most one pipeline runs per service. A request that arrives while one runs either joins it
//! (a `restart` during an automatic recovery is answered by that recovery's outcome), is queued
//! behind it (`on` during an `off`), or supersedes it: an `off` cancels a running recovery at
//! its next safe point and runs next, so intent always wins. One follow-up waits at most; a
//! different one replaces it, and its callers are told so.

use protocol::Trigger;

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

#[cfg(test)]
mod tests {
    use super::*;
    use Trigger::*;

    /// The whole matrix: every running pipeline (or none) against every request.
    #[test]
    fn admission_matrix() {
        let (a, r, on, off) = (
            Task::new(Automatic),
            Task::new(Restart),
            Task::new(On),
            Task::new(Off),
        );
        let (run_db, run_mail) = (Task::run("clear_db"), Task::run("clear_mail"));
        use Admission::*;
        let cases: Vec<(Option<&Task>, bool, &Task, Admission)> = vec![
            (None, false, &a, Start),
            (None, false, &r, Start),
            (None, false, &on, Start),
            (
                None,
                true,
                &on,
                Skip("already starting (inside its start grace)"),
            ),
            (None, true, &r, Start),
            (None, true, &off, Start),
            (None, false, &run_db, Start),
            (Some(&a), false, &r, Join),
            (Some(&a), false, &on, Join),
            (Some(&a), false, &a, Join),
            (Some(&a), false, &off, Supersede),
            (Some(&a), false, &run_db, Queue),
            (Some(&r), false, &on, Join),
            (Some(&r), false, &off, Supersede),
            (Some(&on), false, &r, Join),
            (Some(&on), true, &on, Join),
            (Some(&on), false, &off, Supersede),
            (Some(&off), false, &off, Join),
            (Some(&off), false, &on, Queue),
            (Some(&off), false, &r, Queue),
            (Some(&off), false, &run_db, Queue),
            (Some(&run_db), false, &run_db, Join),
            (Some(&run_db), false, &run_mail, Queue),
            (Some(&run_db), false, &r, Queue),
            (Some(&run_db), false, &off, Supersede),
            (Some(&run_db), false, &a, Queue),
        ];
        for (running, starting, new, want) in cases {
            assert_eq!(
                admit(running, starting, new),
                want,
                "running {running:?}, starting {starting}, new {new:?}"
            );
        }
    }

    #[test]
    fn names() {
        assert_eq!(Task::run("clear_db").name(), "run clear_db");
        assert_eq!(Task::new(Off).name(), "off");
    }
}
