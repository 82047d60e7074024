//! What each [`Command`] does, as wiring: look the service up, ask its rules or the bulk rules
//! ([`super::bulk`]), and carry out what they decide. Requests that start pipelines go on to
//! [`super::actions`]; answers that acknowledge a change wait until its rows are durable.

use protocol::{ErrorKind, Response};
use tokio::sync::oneshot;

use super::Supervisor;
use super::bulk::{self, Member, Step};
use super::command::{Act, Command};
use super::effects::Reply;
use super::handle::unknown_key;
use super::service::failed_report;
use crate::clock::Now;

impl Supervisor {
    pub(super) fn on_command(&mut self, command: Command) {
        match command {
            Command::Act { key, act, reply } => match self.index.get(&key) {
                Some(&idx) => self.act(idx, act, reply),
                None => {
                    let _ = reply.send(unknown_key(&key));
                }
            },
            Command::Bulk { act, reply } => self.bulk(act, reply),
            Command::Wait {
                key,
                timeout,
                not_pid,
                reply,
            } => match self.index.get(&key) {
                Some(&idx) => {
                    let now = tokio::time::Instant::now();
                    self.services[idx].add_waiter(not_pid, now + timeout, reply);
                    self.check_now(idx);
                }
                None => {
                    let _ = reply.send(unknown_key(&key));
                }
            },
            Command::Check { reply } => self.start_round(reply),
            Command::Reload { reply } => self.start_reload(reply),
            Command::Monitor {
                key,
                enabled,
                reply,
            } => self.set_monitoring(&key, enabled, reply),
            Command::ToggleAction {
                key,
                action,
                enabled,
                reply,
            } => self.toggle_action(&key, &action, enabled, reply),
        }
    }

    /// One act on service `idx`.
    fn act(&mut self, idx: usize, act: Act, reply: Reply) {
        if let Act::Run(action) = &act
            && let Err(why) = bulk::runnable(self.services[idx].cfg(), action)
        {
            let _ = reply.send(bad_request(why));
            return;
        }
        self.request_task(idx, act.task(), Some(reply));
        if let Act::OffFor(length) = act {
            let fx = self.services[idx].open_window(length, &Now::read());
            self.apply(idx, fx);
            self.schedule.wake_at = self
                .schedule
                .wake_at
                .min(tokio::time::Instant::now() + length);
        }
    }

    /// The same act on every monitored service (see [`bulk::plan`]), answered together.
    fn bulk(&mut self, act: Act, reply: Reply) {
        let members: Vec<Member<'_>> = self
            .services
            .iter()
            .map(|s| Member {
                cfg: s.cfg(),
                monitored: s.is_monitored(),
                off_by_intent: s.is_off_by_intent(),
            })
            .collect();
        let steps = match bulk::plan(&members, &act) {
            Ok(steps) => steps,
            Err(why) => {
                let _ = reply.send(bad_request(why));
                return;
            }
        };
        let mut answers = Vec::new();
        let mut skipped = Vec::new();
        for step in steps {
            match step {
                Step::Act(idx) => {
                    let (tx, rx) = oneshot::channel();
                    let key = self.services[idx].key().to_owned();
                    self.act(idx, act.clone(), tx);
                    answers.push((key, rx));
                }
                Step::Skipped(report) => skipped.push(report),
            }
        }
        tokio::spawn(async move {
            let mut reports = Vec::with_capacity(answers.len() + skipped.len());
            for (key, rx) in answers {
                reports.push(match rx.await {
                    Ok(Response::Action(report)) => report,
                    Ok(Response::Error { message, .. }) => failed_report(&key, message),
                    _ => failed_report(&key, "no answer (daemon shutting down)".into()),
                });
            }
            reports.extend(skipped);
            let _ = reply.send(Response::Bulk(reports));
        });
    }

    /// Monitoring of `key` on or off at runtime (an override kept by the daemon).
    fn set_monitoring(&mut self, key: &str, enabled: bool, reply: Reply) {
        let Some(&idx) = self.index.get(key) else {
            let _ = reply.send(unknown_key(key));
            return;
        };
        let now = Now::read();
        let fx = self.services[idx].set_monitoring(enabled, &now);
        self.apply(idx, fx);
        self.answer_status(idx, reply, &now);
        self.check_now(idx);
    }

    /// One recovery action of `key` off or on at runtime.
    fn toggle_action(&mut self, key: &str, action: &str, enabled: bool, reply: Reply) {
        let Some(&idx) = self.index.get(key) else {
            let _ = reply.send(unknown_key(key));
            return;
        };
        let now = Now::read();
        match self.services[idx].set_action(action, enabled, &now) {
            Ok(fx) => {
                self.apply(idx, fx);
                self.answer_status(idx, reply, &now);
            }
            Err(why) => {
                let _ = reply.send(bad_request(why));
            }
        }
    }

    /// Answers with service `idx`'s status, once what changed it is durable.
    fn answer_status(&mut self, idx: usize, reply: Reply, now: &Now) {
        let status = self.services[idx].status(now);
        let answer = self.snapshot.borrow().status_reply(vec![status]);
        self.durable.push((reply, Response::Status(answer)));
    }
}

fn bad_request(why: impl std::fmt::Display) -> Response {
    Response::Error {
        kind: ErrorKind::BadRequest,
        message: why.to_string(),
    }
}
