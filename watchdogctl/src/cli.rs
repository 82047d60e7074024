//! Command-line arguments, declared with clap's derive API so the doc comments are the help text.
//!
//! Global flags (`--socket`, `--config`, `--json`, `-v`) are accepted before or after the
//! command, because deploy scripts append them wherever is convenient. Nothing here touches the
//! socket or the config file: parsing stays cheap and side-effect free.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, CommandFactory, Parser, Subcommand};

use crate::duration;

/// Control watchdogd, the process supervisor: show status, turn services on and off, restart them.
///
/// Exit status: 0 success; 1 the action failed, the wait timed out or (for `status KEY`) the
/// service is not healthy; 2 usage error, unknown key, bad config, or a watchdogd of another
/// protocol version; 3 watchdogd unreachable (over SSH also: ssh could not connect, or no
/// watchdogctl on the remote host). With --hosts, the highest code of any host.
// clap's own version flag would print only our version; `-V` also asks the daemon for its own.
#[derive(Debug, Parser)]
#[command(name = "watchdogctl", version, disable_version_flag = true)]
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

    /// Print the versions of watchdogctl and of the running watchdogd, with their protocols.
    #[arg(short = 'V', long, global = true)]
    pub version: bool,

    // Read by `remote::destination`, with WATCHDOG_HOST, for the same reason as --socket.
    // The doc comment is the --help text, where the brackets mean "optional", not links.
    /// Talk to watchdogd on another host over SSH [env: WATCHDOG_HOST]:
    /// [ssh://][user@]host[:port][?socket=PATH&ctl=PATH].
    #[allow(rustdoc::broken_intra_doc_links)]
    #[arg(short = 'H', long = "host", global = true, value_name = "URL")]
    pub host: Option<String>,

    /// Several hosts for status, check, history and restart --rolling: a,b,c or @FILE (one host
    /// a line, # comments); may be repeated.
    #[arg(long, global = true, value_name = "HOSTS", action = ArgAction::Append)]
    pub hosts: Vec<String>,

    /// The ssh command and its options, split into words like GIT_SSH_COMMAND (e.g.
    /// "ssh -J bastion") [env: WATCHDOG_SSH] [default: ssh].
    #[arg(long, global = true, value_name = "COMMAND")]
    pub ssh_command: Option<String>,

    /// The watchdogctl to run on remote hosts [env: WATCHDOG_REMOTE_CTL] [default: watchdogctl,
    /// found on the remote PATH].
    #[arg(long, global = true, value_name = "PATH")]
    pub remote_ctl: Option<String>,

    /// With --hosts: hosts contacted at once (default 16), or for restart --rolling the hosts
    /// restarted together in each batch (default 1).
    #[arg(long, global = true, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_parallel: Option<u32>,

    /// Only `--version` may stand without a command; [`Cli::parse_args`] enforces that.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Parses `std::env::args`, like `try_parse`, plus the rule that a command is required
    /// unless `--version` is given.
    pub fn parse_args() -> Result<Cli, clap::Error> {
        Self::check(Cli::try_parse()?)
    }

    fn check(cli: Cli) -> Result<Cli, clap::Error> {
        if cli.command.is_none() && !cli.version {
            return Err(Cli::command().error(
                clap::error::ErrorKind::MissingSubcommand,
                "a command is required (see --help)",
            ));
        }
        Ok(cli)
    }
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
    /// Stop a service and keep it stopped (it is not recovered until `on`), or with `--for` only
    /// for a maintenance window, after which watchdogd turns it back on by itself.
    Off {
        /// The service's key in the config.
        key: String,
        /// Turn it back on after this long: 90s, 10m, 2h, 1d, 1h30m or plain seconds.
        #[arg(long = "for", value_name = "DURATION", value_parser = duration::parse)]
        for_: Option<Duration>,
    },
    /// Run a service's recovery pipeline now (kill, cleanups, start) and mark it wanted.
    Restart {
        /// The service's key in the config.
        key: String,
        /// Return only once the restarted service is healthy again (exit 1 if it is not in time).
        #[arg(long)]
        wait: bool,
        /// Seconds the restart plus the wait may take in all (per host with --rolling).
        #[arg(long, value_name = "SECS", default_value_t = 60, requires = "wait")]
        timeout: u64,
        /// With --hosts: restart one host (or --max-parallel hosts) at a time, in order, and
        /// stop at the first that fails.
        #[arg(long)]
        rolling: bool,
    },
    /// Run one configured action of a service by hand (`run api clear_db`), or of every
    /// enabled service that has it (`run --all clear_db`); `kill` and `start` are actions too.
    /// It goes through the same one-pipeline-per-service gate as a recovery.
    Run {
        /// Run it for every enabled service that has the action.
        #[arg(long)]
        all: bool,
        /// KEY ACTION, or with --all just ACTION.
        #[arg(value_name = "KEY ACTION", num_args = 1..=2, required = true)]
        words: Vec<String>,
        /// Afterwards, wait until the service is healthy (exit 1 if it is not in time).
        #[arg(long)]
        wait: bool,
        /// Seconds the action plus the wait may take in all.
        #[arg(long, value_name = "SECS", default_value_t = 60, requires = "wait")]
        timeout: u64,
    },
    /// Restart every enabled service, `max_parallel_recoveries` at a time (exit 1 if any
    /// failed), with a line per service.
    RestartAll {
        /// Afterwards, wait until every restarted service is healthy again.
        #[arg(long)]
        wait: bool,
        /// Seconds the restarts plus the waits may take in all.
        #[arg(long, value_name = "SECS", default_value_t = 120, requires = "wait")]
        timeout: u64,
    },
    /// Monitor a service again (undoes `disable`); kept by watchdogd across restarts.
    Enable {
        /// The service's key in the config.
        key: String,
    },
    /// Stop monitoring a service (its checks count nothing, it is not recovered) without
    /// editing the config; kept by watchdogd across restarts and reloads.
    Disable {
        /// The service's key in the config.
        key: String,
    },
    /// Show a service's recovery actions, or turn some off or on again at runtime (kept by
    /// watchdogd across restarts and reloads).
    Actions {
        /// The service's key in the config.
        key: String,
        /// Skip this action in recoveries (may be repeated).
        #[arg(long, value_name = "ACTION")]
        disable: Vec<String>,
        /// Run this action in recoveries again (may be repeated).
        #[arg(long, value_name = "ACTION")]
        enable: Vec<String>,
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
    /// Show checks, recoveries (with each step) and events from the audit log, newest first.
    History {
        /// Only this service.
        key: Option<String>,
        /// Show at most this many entries.
        #[arg(long, value_name = "N", default_value_t = 50,
              value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
        /// Only entries from the last DURATION (90s, 10m, 2h, 1d, ...).
        #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
        since: Option<Duration>,
    },
    /// Show the recent audit events; with --follow, print state changes and recovery steps as
    /// they happen, one line each, until interrupted.
    Events {
        /// Keep the connection open and print live events until watchdogd closes it.
        #[arg(short, long)]
        follow: bool,
    },
    /// Print OpenMetrics/Prometheus text for watchdogd and every service (never JSON).
    Metrics,
    /// A full-screen live dashboard: every service's health, pid, heartbeat age and recent
    /// checks, a detail pane, and keys for the actions (? lists them; see docs/top.md).
    Top,
    /// Write one heartbeat file atomically, without contacting watchdogd (for shell scripts and
    /// cron jobs).
    Beat {
        /// The heartbeat file (the service's `heartbeat_path`).
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// The service's key (`process_key` in the file).
        #[arg(long, value_name = "KEY")]
        key: String,
        /// The PID to name [default: the calling shell, i.e. watchdogctl's parent process].
        #[arg(long, value_name = "PID")]
        pid: Option<u32>,
        /// `running` when all is well; anything else asks watchdogd to recover the service.
        #[arg(long, value_name = "STATUS", default_value = "running")]
        status: String,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) generated from these definitions.
    Man,
    /// Print the versions of watchdogctl and watchdogd (exit 3 if watchdogd is unreachable).
    Version,
    /// Bridge stdin/stdout to the daemon's socket, frame for frame: what `-H ssh://HOST` runs
    /// on the remote host (see docs/fleet.md).
    #[command(name = "dial-stdio", hide = true)]
    DialStdio,
}

impl Command {
    /// The subcommand's name as typed, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Status { .. } => "status",
            Command::On { .. } => "on",
            Command::Off { .. } => "off",
            Command::Restart { .. } => "restart",
            Command::Run { .. } => "run",
            Command::RestartAll { .. } => "restart-all",
            Command::Enable { .. } => "enable",
            Command::Disable { .. } => "disable",
            Command::Actions { .. } => "actions",
            Command::StartAll => "start-all",
            Command::StopAll => "stop-all",
            Command::Check => "check",
            Command::Wait { .. } => "wait",
            Command::Reload => "reload",
            Command::History { .. } => "history",
            Command::Events { .. } => "events",
            Command::Metrics => "metrics",
            Command::Top => "top",
            Command::Beat { .. } => "beat",
            Command::Completions { .. } => "completions",
            Command::Man => "man",
            Command::Version => "version",
            Command::DialStdio => "dial-stdio",
        }
    }
}

#[cfg(test)]
mod tests;
