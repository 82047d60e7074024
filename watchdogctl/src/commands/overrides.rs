//! One action by hand, all services at once, and the runtime overrides: `run`, `restart-all`,
//! `enable`, `disable`, `actions`.

use std::time::{Duration, Instant};

use protocol::{
    ActionReport, MonitorRequest, PipelineResult, Request, Response, RunRequest,
    ToggleActionRequest, WaitOutcome, WaitRequest,
};

use super::context::Context;
use super::service::{action_failure, secs_to_ms};
use crate::exit::{Exit, Failure};
use crate::{json, output};

impl Context {
    /// `run KEY ACTION` / `run --all ACTION`, optionally waiting for health afterwards.
    pub(super) fn run_action(
        &mut self,
        all: bool,
        words: &[String],
        wait: Option<u64>,
    ) -> Result<Exit, Failure> {
        let (key, action) = match (all, words) {
            (true, [action]) => (None, action.clone()),
            (false, [key, action]) => (Some(key.clone()), action.clone()),
            (true, _) => {
                return Err(Failure::new(
                    Exit::Usage,
                    "run --all takes just the ACTION (e.g. run --all clear_db)",
                ));
            }
            (false, _) => {
                return Err(Failure::new(
                    Exit::Usage,
                    "run takes KEY ACTION (e.g. run api clear_db), or --all ACTION",
                ));
            }
        };
        let started = Instant::now();
        let what = format!("run {}{}", if all { "--all " } else { "" }, words.join(" "));
        let request: Request = RunRequest {
            key: key.clone(),
            action,
        }
        .into();
        let reply = match wait {
            Some(timeout) => self.call_within(&request, &what, timeout)?,
            None => self.call(&request, None)?,
        };
        let reports = match reply {
            Response::Action(report) => vec![report],
            Response::Bulk(reports) => reports,
            other => return Err(self.refused(other)),
        };
        self.finish_bulk(&reports, "run", wait, started)
    }

    /// `restart-all [--wait]`.
    pub(super) fn restart_all(&mut self, wait: Option<u64>) -> Result<Exit, Failure> {
        let started = Instant::now();
        let reply = match wait {
            Some(timeout) => self.call_within(&Request::RestartAll, "restart-all", timeout)?,
            None => self.call(&Request::RestartAll, None)?,
        };
        let reports = match reply {
            Response::Bulk(reports) => reports,
            other => return Err(self.refused(other)),
        };
        self.finish_bulk(&reports, "restart-all", wait, started)
    }

    /// Prints the reports (each with its steps and their output, or JSON), waits for the
    /// successful ones to be healthy with a new process when asked, and exits 1 if any failed
    /// or did not get healthy in time; the summary names them all, whatever came first.
    fn finish_bulk(
        &mut self,
        reports: &[ActionReport],
        verb: &str,
        wait: Option<u64>,
        started: Instant,
    ) -> Result<Exit, Failure> {
        let text = if self.json {
            json::line(&json::bulk(reports))
        } else if reports.len() == 1 {
            output::action(&reports[0])
        } else {
            output::bulk(reports, true)
        };
        self.emit(&text)?;
        if let [only] = reports
            && let Some(failure) = action_failure(verb, only)
        {
            return Err(failure);
        }
        let failed: Vec<&str> = reports
            .iter()
            .filter(|r| r.result == PipelineResult::Failed)
            .map(|r| r.key.as_str())
            .collect();
        let mut unhealthy = Vec::new();
        if let Some(timeout) = wait {
            let budget = Duration::from_secs(timeout);
            for r in reports
                .iter()
                .filter(|r| !matches!(r.result, PipelineResult::Failed | PipelineResult::Skipped))
            {
                let left = budget.saturating_sub(started.elapsed());
                let reply = self.wait_reply(WaitRequest {
                    key: r.key.clone(),
                    timeout_ms: secs_to_ms(left.as_secs().max(1)),
                    not_pid: r.old_pid,
                })?;
                if reply.outcome == WaitOutcome::Healthy {
                    if !self.json {
                        self.emit(&output::healthy(&reply.status))?;
                    }
                } else {
                    let why = output::not_healthy(&r.key, timeout, &reply.status);
                    eprintln!("watchdogctl: {why}");
                    unhealthy.push(r.key.as_str());
                }
            }
        }
        if failed.is_empty() && unhealthy.is_empty() {
            return Ok(Exit::Success);
        }
        let mut why = Vec::new();
        if !failed.is_empty() {
            why.push(format!(
                "{} of {} services failed ({})",
                failed.len(),
                reports.len(),
                failed.join(", ")
            ));
        }
        if !unhealthy.is_empty() {
            why.push(format!(
                "{} not healthy within {}s ({})",
                unhealthy.len(),
                wait.unwrap_or_default(),
                unhealthy.join(", ")
            ));
        }
        Err(Failure::new(
            Exit::Failed,
            format!("{verb}: {}", why.join("; ")),
        ))
    }

    /// `enable KEY` / `disable KEY`.
    pub(super) fn monitor(&mut self, key: &str, enabled: bool) -> Result<Exit, Failure> {
        let request: Request = MonitorRequest {
            key: key.to_owned(),
            enabled,
        }
        .into();
        let reply = match self.call(&request, None)? {
            Response::Status(reply) => reply,
            other => return Err(self.refused(other)),
        };
        let text = if self.json {
            json::line(&json::services(&reply.services))
        } else {
            let what = if enabled {
                "monitored"
            } else {
                "not monitored (disabled at runtime)"
            };
            format!("{key}: {what}\n")
        };
        self.emit(&text)?;
        Ok(Exit::Success)
    }

    /// `actions KEY [--disable A] [--enable A]`: applies the toggles, then shows every
    /// recovery action with whether it runs.
    pub(super) fn actions(
        &mut self,
        key: &str,
        disable: &[String],
        enable: &[String],
    ) -> Result<Exit, Failure> {
        let toggles = disable
            .iter()
            .map(|a| (a, false))
            .chain(enable.iter().map(|a| (a, true)));
        for (action, enabled) in toggles {
            let request: Request = ToggleActionRequest {
                key: key.to_owned(),
                action: action.clone(),
                enabled,
            }
            .into();
            let response = self.call(&request, None)?;
            if !matches!(response, Response::Status(_)) {
                return Err(self.refused(response));
            }
        }
        let detail = match self.call(
            &Request::Detail {
                key: key.to_owned(),
            },
            None,
        )? {
            Response::Detail(d) => d,
            other => return Err(self.refused(other)),
        };
        let cfg: serde_json::Value = serde_json::from_str(&detail.config_json).unwrap_or_default();
        let names = |field: &str| -> Vec<String> {
            cfg[field]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (configured, off_in_config) = (names("recovery_actions"), names("disabled_actions"));
        let rows: Vec<(String, &str)> = configured
            .iter()
            .map(|a| {
                let state = if off_in_config.contains(a) {
                    "off (config: disabled_actions)"
                } else if detail.status.actions_disabled.contains(a) {
                    "off (runtime: watchdogctl actions --enable undoes it)"
                } else {
                    "on"
                };
                (a.clone(), state)
            })
            .collect();
        let text = if self.json {
            let list: Vec<serde_json::Value> = rows
                .iter()
                .map(|(a, s)| serde_json::json!({"action": a, "runs": *s == "on", "state": s}))
                .collect();
            json::line(&serde_json::Value::Array(list))
        } else {
            rows.iter().map(|(a, s)| format!("{a}: {s}\n")).collect()
        };
        self.emit(&text)?;
        Ok(Exit::Success)
    }
}
