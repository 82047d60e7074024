//! `metrics` and the version report (`--version`, `version`).

use protocol::{Request, Response};

use super::context::{Context, READ_REPLY_TIMEOUT, note, write_stdout};
use std::path::PathBuf;

use crate::cli::Cli;
use crate::client::Client;
use crate::exit::{Exit, Failure};
use crate::json;
use crate::remote::Destination;
use crate::socket::{SocketInputs, resolve_socket};
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

/// Prints our version and the daemon's (the local one, or the one `-H` names). `strict` (the
/// `version` command) exits non-zero when the daemon cannot say; the `--version` flag always
/// exits 0, because it is about the client.
pub(super) fn version(cli: &Cli, strict: bool) -> Result<Exit, Failure> {
    let verbose = cli.verbose > 0;
    let client = match super::context::destination(cli) {
        Ok(Destination::Local) => resolve_socket(SocketInputs::from_env(
            cli.socket.clone(),
            cli.config.clone(),
        ))
        .map(|(socket, source)| {
            note(verbose, &format!("socket {} ({source})", socket.display()));
            (Client::new(socket.clone()), Some(socket), None)
        }),
        Ok(Destination::One(target)) => {
            let socket = target.url.socket.as_ref().map(PathBuf::from);
            let host = target.label.clone();
            Ok((Client::ssh(target), socket, Some(host)))
        }
        Ok(Destination::Many(_)) => Err(Failure::new(
            Exit::Usage,
            "version asks one daemon: use -H HOST instead of --hosts",
        )),
        Err(e) => Err(e),
    };
    let (daemon, socket, host, exit) = match client {
        Err(Failure::Report { exit, message }) => (
            DaemonVersion::Unreachable { cause: message },
            None,
            None,
            exit,
        ),
        Err(Failure::StdoutClosed) => return Err(Failure::StdoutClosed),
        Ok((client, socket, host)) => {
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
                            crate::client::reply_kind(&other)
                        ),
                    },
                    Exit::Unreachable,
                ),
                Err(e) => (DaemonVersion::Unreachable { cause: e.cause() }, e.exit()),
            };
            (daemon, socket, host, exit)
        }
    };
    let at = versions::At {
        socket: socket.as_deref(),
        host: host.as_deref(),
    };
    let text = if cli.json {
        json::line(&versions::json(&daemon, at))
    } else {
        versions::text(&daemon, at)
    };
    write_stdout(text.as_bytes())?;
    Ok(if strict { exit } else { Exit::Success })
}
