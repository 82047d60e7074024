//! The daemon's command line.

use std::path::PathBuf;

use clap::Parser;

/// watchdogd: supervises services that prove they are alive by writing heartbeat files.
///
/// Runs in the foreground (as systemd and launchd expect), logs to stderr, and answers
/// watchdogctl on its control socket. SIGTERM or SIGINT stops it cleanly; the services it
/// started keep running.
#[derive(Debug, Parser)]
#[command(name = "watchdogd", version)]
pub struct Args {
    /// The config file (default: /etc/watchdogd/config.json for root, else
    /// $XDG_CONFIG_HOME/watchdogd/config.json).
    #[arg(short = 'c', long, env = "WATCHDOG_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Validate the config, print it normalized (or every error), and exit: 0 valid, 2 invalid.
    #[arg(long)]
    pub check_config: bool,

    /// Listen here instead of the config's `socket_path`.
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}
