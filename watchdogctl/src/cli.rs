//! Command-line arguments, declared with clap's derive API so the doc comments are the help text.
//!
//! Global flags (`--socket`, `--config`, `--json`, `-v`) are accepted before or after the
//! command, because deploy scripts append them wherever is convenient. Nothing here touches the
//! socket or the config file: parsing stays cheap and side-effect free.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand};

/// Control watchdogd, the process supervisor: show status, turn services on and off, restart them.
///
/// Exit status: 0 success; 1 the action failed, the wait timed out or (for `status KEY`) the
/// service is not healthy; 2 usage error, unknown key or bad config; 3 watchdogd unreachable or
/// incompatible.
#[derive(Debug, Parser)]
#[command(name = "watchdogctl", version)]
pub struct Cli {
    // The environment variables are read in `client::resolve_socket`, not by clap, because clap
    // rejects an empty variable (`WATCHDOG_SOCKET=`) where users expect "unset".
    /// Control socket of watchdogd [env: WATCHDOG_SOCKET]. Wins over --config.
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// Config file whose `socket_path` names the socket [env: WATCHDOG_CONFIG].
    #[arg(short = 'c', long, global = true, value_name = "CONFIG")]
    pub config: Option<PathBuf>,

    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Say more on stderr: the socket used, timings, daemon version, every step of bulk actions.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// What to ask the daemon.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show every service as a table, or one service (exit 0 only if that one is healthy).
    Status {
        /// Only this service.
        key: Option<String>,
    },
    /// Mark a service wanted and start it unless it is already healthy.
    On {
        /// The service's key in the config.
        key: String,
    },
    /// Stop a service and keep it stopped (it is not recovered until `on`).
    Off {
        /// The service's key in the config.
        key: String,
    },
    /// Run a service's recovery pipeline now (kill, cleanups, start) and mark it wanted.
    Restart {
        /// The service's key in the config.
        key: String,
        /// Return only once the restarted service is healthy again (exit 1 if it is not in time).
        #[arg(long)]
        wait: bool,
        /// Seconds the restart plus the wait may take in all.
        #[arg(long, value_name = "SECS", default_value_t = 60, requires = "wait")]
        timeout: u64,
    },
    /// Turn on every enabled service.
    StartAll,
    /// Turn off every enabled service.
    StopAll,
    /// Check every service now (recovering those past their threshold) and show the result.
    Check,
    /// Re-read watchdogd's config file and apply the changes; an invalid file changes nothing
    /// (exit 2, every problem printed).
    Reload,
    /// Wait until a service is healthy (exit 1 if it is not within the timeout).
    Wait {
        /// The service's key in the config.
        key: String,
        /// Seconds to wait at most.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        timeout: u64,
    },
}

impl Command {
    /// The subcommand's name as typed, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Status { .. } => "status",
            Command::On { .. } => "on",
            Command::Off { .. } => "off",
            Command::Restart { .. } => "restart",
            Command::StartAll => "start-all",
            Command::StopAll => "stop-all",
            Command::Check => "check",
            Command::Wait { .. } => "wait",
            Command::Reload => "reload",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("watchdogctl").chain(args.iter().copied()))
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_command() {
        let cli = parse(&["status", "api", "--json", "--socket", "/tmp/s", "-vv"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.verbose, 2);
        assert_eq!(cli.socket, Some(PathBuf::from("/tmp/s")));
        assert!(matches!(cli.command, Command::Status { key: Some(k) } if k == "api"));
        let cli = parse(&["-c", "/etc/w.json", "check"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("/etc/w.json")));
    }

    #[test]
    fn restart_timeout_defaults_and_needs_wait() {
        let cli = parse(&["restart", "api"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Restart {
                wait: false,
                timeout: 60,
                ..
            }
        ));
        let cli = parse(&["restart", "api", "--wait", "--timeout", "5"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Restart {
                wait: true,
                timeout: 5,
                ..
            }
        ));
        let err = parse(&["restart", "api", "--timeout", "5"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn usage_errors_exit_2() {
        for args in [
            &["on"][..],
            &["frobnicate"],
            &["wait", "api", "--timeout", "soon"],
            &[],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn kebab_case_commands() {
        assert!(matches!(
            parse(&["start-all"]).unwrap().command,
            Command::StartAll
        ));
        assert!(matches!(
            parse(&["stop-all"]).unwrap().command,
            Command::StopAll
        ));
    }
}
