//! Status, the detail view, and the actions on services (on, off, off --for, restart, start-all,
//! stop-all, check, wait, reload).

use std::time::{Duration, Instant};

use protocol::time::now_millis;
use protocol::{
    ActionReport, Health, PipelineResult, Request, Response, ServiceStatus, StatusReply,
    WaitOutcome, WaitReply, WaitRequest,
};

use super::context::{Context, READ_REPLY_TIMEOUT};
use crate::exit::{Exit, Failure};
use crate::{detail, duration, json, output};

/// Extra time a wait reply may take beyond the wait itself before we give up on the daemon.
const WAIT_REPLY_MARGIN: Duration = Duration::from_secs(30);

pub(super) fn secs_to_ms(secs: u64) -> u64 {
    secs.saturating_mul(1000)
}

impl Context {
    pub(super) fn status_reply(&self, request: Request) -> Result<StatusReply, Failure> {
        let timeout = matches!(request, Request::Status { .. }).then_some(READ_REPLY_TIMEOUT);
        match self.call(&request, timeout)? {
            Response::Status(reply) => {
                self.note(&format!(
                    "watchdogd {} (pid {})",
                    reply.daemon_version, reply.daemon_pid
                ));
                Ok(reply)
            }
            other => Err(self.refused(other)),
        }
    }

    pub(super) fn status(&mut self, key: Option<&str>) -> Result<Exit, Failure> {
        match key {
            // Scripts read `status KEY --json` as an array of one service: keep it that way.
            Some(key) if !self.json => return self.detail(key),
            _ => {}
        }
        let reply = self.status_reply(Request::Status {
            key: key.map(str::to_owned),
        })?;
        let Some(key) = key else {
            self.print_services(&reply.services, reply.audit_rows_dropped)?;
            return Ok(Exit::Success);
        };
        let Some(service) = reply.services.iter().find(|s| s.key == key) else {
            return Err(Failure::new(
                Exit::Unreachable,
                format!(
                    "watchdogd at {} sent no status for {key} (is it another version?)",
                    self.client.describe()
                ),
            ));
        };
        self.emit(&json::line(&json::services(std::slice::from_ref(service))))?;
        Ok(health_exit(service))
    }

    /// `status KEY` as text: the detail view, with the same exit as the one-row status.
    fn detail(&mut self, key: &str) -> Result<Exit, Failure> {
        let request = Request::Detail {
            key: key.to_owned(),
        };
        let found = match self.call(&request, Some(READ_REPLY_TIMEOUT))? {
            Response::Detail(found) => found,
            other => return Err(self.refused(other)),
        };
        if found.status.key != key {
            return Err(Failure::new(
                Exit::Unreachable,
                format!(
                    "watchdogd at {} sent the detail of {} for {key} (is it another version?)",
                    self.client.describe(),
                    found.status.key
                ),
            ));
        }
        self.emit(&detail::view(&found, now_millis(), self.color))?;
        Ok(health_exit(&found.status))
    }

    pub(super) fn reload(&mut self) -> Result<Exit, Failure> {
        match self.call(&Request::Reload, None)? {
            Response::Reload(report) => {
                let text = if self.json {
                    json::line(&json::reload(&report))
                } else {
                    output::reload(&report)
                };
                self.emit(&text)?;
                Ok(Exit::Success)
            }
            other => Err(self.refused(other)),
        }
    }

    /// The daemon's answer to `check`.
    pub(super) fn check_report(&self) -> Result<protocol::CheckReport, Failure> {
        match self.call(&Request::Check, None)? {
            Response::Check(report) => Ok(report),
            other => Err(self.refused(other)),
        }
    }

    /// `check`, as the seed's cron run: every service checked now, those past their threshold
    /// recovered; exit 0 when every enabled service is healthy or was recovered, 1 when a
    /// recovery failed or a service is still unhealthy.
    pub(super) fn check(&mut self) -> Result<Exit, Failure> {
        let report = self.check_report()?;
        if self.json {
            self.emit(&json::line(&json::check(&report)))?;
        } else {
            self.print_services(&report.status.services, report.status.audit_rows_dropped)?;
            for r in &report.recoveries {
                self.emit(&output::action(r))?;
            }
        }
        match check_verdict(&report) {
            None => Ok(Exit::Success),
            Some(message) => Err(Failure::new(Exit::Failed, message)),
        }
    }

    fn print_services(&mut self, services: &[ServiceStatus], dropped: u64) -> Result<(), Failure> {
        if self.json {
            return super::context::write_stdout(&json::services_line(services));
        }
        let text = {
            let mut text = output::status_table(services, now_millis(), self.color);
            if dropped > 0 {
                text.push_str(&format!(
                    "audit rows dropped: {dropped} (see the watchdogd log)\n"
                ));
            }
            text
        };
        self.emit(&text)
    }

    pub(super) fn action_reply(&self, request: &Request) -> Result<ActionReport, Failure> {
        match self.call(request, None)? {
            Response::Action(report) => Ok(report),
            other => Err(self.refused(other)),
        }
    }

    pub(super) fn print_action(&mut self, report: &ActionReport) -> Result<(), Failure> {
        let text = if self.json {
            json::line(&json::action(report))
        } else {
            output::action(report)
        };
        self.emit(&text)
    }

    pub(super) fn action(&mut self, request: Request, verb: &str) -> Result<Exit, Failure> {
        let report = self.action_reply(&request)?;
        self.print_action(&report)?;
        action_failure(verb, &report).map_or(Ok(Exit::Success), Err)
    }

    /// `off KEY --for D`: off now, back on after the window. The reply is the `off` pipeline's
    /// report; the window's end is reckoned here from the moment of asking, which is at most a
    /// round trip earlier than the daemon's own (shown by `status`).
    pub(super) fn off_for(&mut self, key: &str, window: Duration) -> Result<Exit, Failure> {
        let for_ms = duration::millis(window);
        let asked = now_millis();
        let until = asked.saturating_add(i64::try_from(for_ms).unwrap_or(i64::MAX));
        let report = self.action_reply(&Request::OffFor {
            key: key.to_owned(),
            for_ms,
        })?;
        // The daemon keeps the window even when the kill failed, so it is always reported.
        let text = if self.json {
            json::line(&json::off_for(&report, until))
        } else {
            let window = duration::format(window);
            output::action(&report) + &output::off_until(key, &window, until, asked)
        };
        self.emit(&text)?;
        action_failure("off", &report).map_or(Ok(Exit::Success), Err)
    }

    pub(super) fn bulk(&mut self, request: Request, verb: &str) -> Result<Exit, Failure> {
        let reports = match self.call(&request, None)? {
            Response::Bulk(reports) => reports,
            other => return Err(self.refused(other)),
        };
        let text = if self.json {
            json::line(&json::bulk(&reports))
        } else {
            output::bulk(&reports, self.verbose)
        };
        self.emit(&text)?;
        let failed = reports
            .iter()
            .filter(|r| r.result == PipelineResult::Failed)
            .count();
        if failed == 0 {
            return Ok(Exit::Success);
        }
        Err(Failure::new(
            Exit::Failed,
            format!("{verb}: {failed} of {} services failed", reports.len()),
        ))
    }

    pub(super) fn wait_reply(&self, request: WaitRequest) -> Result<WaitReply, Failure> {
        let timeout = Duration::from_millis(request.timeout_ms) + WAIT_REPLY_MARGIN;
        match self.call(&request.into(), Some(timeout))? {
            Response::Wait(reply) => Ok(reply),
            other => Err(self.refused(other)),
        }
    }

    pub(super) fn wait(&mut self, key: &str, timeout_secs: u64) -> Result<Exit, Failure> {
        let reply = self.wait_reply(WaitRequest {
            key: key.to_owned(),
            timeout_ms: secs_to_ms(timeout_secs),
            not_pid: None,
        })?;
        let text = if self.json {
            json::line(&json::wait(&reply))
        } else if reply.outcome == WaitOutcome::Healthy {
            output::healthy(&reply.status)
        } else {
            String::new()
        };
        self.emit(&text)?;
        wait_result(key, timeout_secs, &reply)
    }

    /// The action of `restart --wait` (or `run`, `restart-all` with `--wait`), whose reply must
    /// come within the whole `--timeout` (over ssh: connecting included); `what` names it in
    /// messages. Running out of time exits 1, as a wait that times out does: the service was
    /// not back in time. The daemon may still finish the action.
    pub(super) fn call_within(
        &self,
        request: &Request,
        what: &str,
        timeout_secs: u64,
    ) -> Result<Response, Failure> {
        let budget = Duration::from_millis(secs_to_ms(timeout_secs));
        self.try_call(request, Some(budget)).map_err(|e| {
            if e.timed_out() {
                Failure::new(
                    Exit::Failed,
                    format!(
                        "{what} did not finish within --timeout {timeout_secs}s: {e}; it may \
                         still complete (see status)"
                    ),
                )
            } else {
                e.into()
            }
        })
    }

    /// The restart of `restart --wait`, within the `--timeout` (see [`Context::call_within`]).
    pub(super) fn restart_within(
        &self,
        key: &str,
        timeout_secs: u64,
    ) -> Result<ActionReport, Failure> {
        let request = Request::Restart {
            key: key.to_owned(),
        };
        match self.call_within(&request, &format!("restart {key}"), timeout_secs)? {
            Response::Action(report) => Ok(report),
            other => Err(self.refused(other)),
        }
    }

    /// `restart --wait`: one budget covers both calls; the wait insists on a PID other than the
    /// one the restart replaced, so the old process's last heartbeat cannot pass for the new one.
    pub(super) fn restart_and_wait(
        &mut self,
        key: &str,
        timeout_secs: u64,
    ) -> Result<Exit, Failure> {
        let started = Instant::now();
        let report = self.restart_within(key, timeout_secs)?;
        if !self.json {
            self.print_action(&report)?;
        }
        if let Some(failure) = action_failure("restart", &report) {
            if self.json {
                self.emit(&json::line(&json::restart_wait(&report, None)))?;
            }
            return Err(failure);
        }
        let spent = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let reply = self.wait_reply(WaitRequest {
            key: key.to_owned(),
            timeout_ms: secs_to_ms(timeout_secs).saturating_sub(spent),
            not_pid: report.old_pid,
        })?;
        let text = if self.json {
            json::line(&json::restart_wait(&report, Some(&reply)))
        } else if reply.outcome == WaitOutcome::Healthy {
            output::healthy(&reply.status)
        } else {
            String::new()
        };
        self.emit(&text)?;
        wait_result(key, timeout_secs, &reply)
    }
}

/// Why `check` exits 1, if it does: a recovery it ran failed, or an enabled service that is
/// wanted is unhealthy and was not recovered (see [`Context::check`]).
pub(super) fn check_verdict(report: &protocol::CheckReport) -> Option<String> {
    let failed: Vec<&str> = report
        .recoveries
        .iter()
        .filter(|r| r.result == PipelineResult::Failed)
        .map(|r| r.key.as_str())
        .collect();
    let recovered = |key: &str| {
        report
            .recoveries
            .iter()
            .any(|r| r.key == key && r.result.is_success())
    };
    // Started by a recovery that succeeded (this check's or one just before it) and inside its
    // start grace: recovered, its first heartbeat still to come.
    let restarted = |s: &ServiceStatus| {
        s.state == protocol::ServiceState::Starting
            && s.last_recovery
                .as_ref()
                .is_some_and(|r| r.result.is_success())
    };
    let unhealthy: Vec<&str> = report
        .status
        .services
        .iter()
        .filter(|s| {
            s.enabled
                && s.monitoring_override != Some(false)
                && !matches!(
                    s.state,
                    protocol::ServiceState::Stopped | protocol::ServiceState::Disabled
                )
                && s.health != Some(Health::Healthy)
                && !recovered(&s.key)
                && !restarted(s)
        })
        .map(|s| s.key.as_str())
        .collect();
    let mut why = Vec::new();
    if !failed.is_empty() {
        why.push(format!("recovery failed: {}", failed.join(", ")));
    }
    if !unhealthy.is_empty() {
        why.push(format!("still unhealthy: {}", unhealthy.join(", ")));
    }
    (!why.is_empty()).then(|| format!("check: {}", why.join("; ")))
}

/// Exit 0 only for a healthy service (`status KEY`); not yet checked counts as unhealthy.
pub(super) fn health_exit(service: &ServiceStatus) -> Exit {
    if service.health == Some(Health::Healthy) {
        Exit::Success
    } else {
        Exit::Failed
    }
}

/// The stderr failure for an action whose pipeline failed, if it did.
pub(super) fn action_failure(verb: &str, report: &ActionReport) -> Option<Failure> {
    (report.result == PipelineResult::Failed).then(|| {
        Failure::new(
            Exit::Failed,
            format!("{verb} {} failed: {}", report.key, report.message),
        )
    })
}

/// Exit 0 for a healthy wait, else exit 1 with the "not healthy after" message.
pub(super) fn wait_result(
    key: &str,
    timeout_secs: u64,
    reply: &WaitReply,
) -> Result<Exit, Failure> {
    match reply.outcome {
        WaitOutcome::Healthy => Ok(Exit::Success),
        WaitOutcome::TimedOut => Err(Failure::new(
            Exit::Failed,
            output::not_healthy(key, timeout_secs, &reply.status),
        )),
    }
}
