//! `metrics` and the version report (`--version`, `version`).

use protocol::{Request, Response};

use super::{Context, READ_REPLY_TIMEOUT, note, write_stdout};
use crate::cli::Cli;
use crate::client::{Client, SocketInputs, resolve_socket};
use crate::exit::{Exit, Failure};
use crate::json;
use crate::versions::{self, DaemonVersion};

/// `--version` should answer at once even when the daemon is wedged.
const VERSION_REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Context {
    /// The OpenMetrics text exactly as the daemon rendered it, even with `--json`: it is a
    /// format for scrapers already, and wrapping it in JSON would only get in their way.
    pub(super) fn metrics(&mut self) -> Result<Exit, Failure> {
        match self.call(&Request::Metrics, Some(READ_REPLY_TIMEOUT))? {
            Response::Metrics(text) => {
                self.emit(&text)?;
                Ok(Exit::Success)
            }
            other => Err(self.refused(other)),
        }
    }
}

/// Prints our version and the daemon's. `strict` (the `version` command) exits non-zero when
/// the daemon cannot say; the `--version` flag always exits 0, because it is about the client.
pub(super) fn version(cli: &Cli, strict: bool) -> Result<Exit, Failure> {
    let verbose = cli.verbose > 0;
    let resolved = resolve_socket(SocketInputs::from_env(
        cli.socket.clone(),
        cli.config.clone(),
    ));
    let (daemon, socket, exit) = match resolved {
        Err(Failure::Report { exit, message }) => {
            (DaemonVersion::Unreachable { cause: message }, None, exit)
        }
        Err(Failure::StdoutClosed) => return Err(Failure::StdoutClosed),
        Ok((socket, source)) => {
            note(verbose, &format!("socket {} ({source})", socket.display()));
            let client = Client::new(socket.clone());
            let (daemon, exit) = match client.call(&Request::Version, Some(VERSION_REPLY_TIMEOUT)) {
                Ok(Response::Version(v)) => (DaemonVersion::Answered(v), Exit::Success),
                Ok(Response::Error { kind, message }) => (
                    DaemonVersion::Refused { kind, message },
                    Exit::for_error_kind(kind),
                ),
                Ok(other) => (
                    DaemonVersion::Unreachable {
                        cause: format!(
                            "sent an unexpected {} reply; is it another version?",
                            super::reply_kind(&other)
                        ),
                    },
                    Exit::Unreachable,
                ),
                Err(e) => (DaemonVersion::Unreachable { cause: e.cause() }, e.exit()),
            };
            (daemon, Some(socket), exit)
        }
    };
    let text = if cli.json {
        json::line(&versions::json(&daemon, socket.as_deref()))
    } else {
        versions::text(&daemon, socket.as_deref())
    };
    write_stdout(text.as_bytes())?;
    Ok(if strict { exit } else { Exit::Success })
}
