//! `history` and `events`: the audit log, and the live stream of what happens.

use std::time::Duration;

use protocol::time::now_millis;
use protocol::{HistoryEntry, HistoryRequest, Request, Response};

use super::context::{Context, READ_REPLY_TIMEOUT};
use crate::exit::{Exit, Failure};
use crate::{audit, json};

/// Entries `events` without `--follow` shows.
const RECENT_EVENTS: u32 = 20;

impl Context {
    pub(super) fn history(
        &mut self,
        key: Option<&str>,
        limit: u32,
        since: Option<Duration>,
    ) -> Result<Exit, Failure> {
        let entries = self.history_entries(key, limit, since)?;
        let text = if self.json {
            json::line(&audit::history_json(&entries))
        } else {
            audit::table(&entries, self.color)
        };
        self.emit(&text)?;
        Ok(Exit::Success)
    }

    /// The audit log's entries, newest first: at most `limit`, only those of the last `since`.
    pub(super) fn history_entries(
        &self,
        key: Option<&str>,
        limit: u32,
        since: Option<Duration>,
    ) -> Result<Vec<HistoryEntry>, Failure> {
        let since_ms = since
            .map(|d| now_millis().saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
        let request = HistoryRequest {
            key: key.map(str::to_owned),
            limit,
            since_ms,
        };
        match self.call(&request.into(), Some(READ_REPLY_TIMEOUT))? {
            Response::History(entries) => Ok(entries),
            other => Err(self.refused(other)),
        }
    }

    /// `events` without `--follow`: what happened lately, every kind of entry.
    pub(super) fn recent_events(&mut self) -> Result<Exit, Failure> {
        self.history(None, RECENT_EVENTS, None)
    }

    /// `events --follow`: one line per event as it happens, flushed at once, until the daemon
    /// closes the connection (exit 0), stdout closes (exit 0) or the user interrupts.
    pub(super) fn follow_events(&mut self) -> Result<Exit, Failure> {
        let mut stream = self.client.open_stream(&Request::Events)?;
        self.note("following events; Ctrl-C to stop");
        while let Some(response) = stream.next()? {
            let event = match response {
                Response::Event(event) => event,
                other => return Err(self.refused(other)),
            };
            let line = if self.json {
                json::line(&audit::event_json(&event))
            } else {
                audit::event_line(&event)
            };
            self.emit(&line)?;
        }
        self.note("watchdogd closed the stream");
        Ok(Exit::Success)
    }
}
