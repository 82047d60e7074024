//! Logs in the seed's format, `[timestamp] [LEVEL] [target] message`, to stderr (which journald
//! and launchd capture) and, when `log_dir` is set, to a daily file there.
//!
//! The level comes from the config's `log_level` (DEBUG, INFO, WARNING, ERROR); the environment
//! variable `WATCHDOGD_LOG` (a level, or targets with levels such as `info,server=debug`)
//! overrides it for debugging. (`tracing-subscriber`'s `Targets`, not its `EnvFilter`: the
//! latter pulls in a regex engine, hundreds of kilobytes of code in a daemon meant to be small.)

use std::fmt;
use std::path::{Path, PathBuf};

use tracing::{Event, Level, Subscriber};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Environment variable that overrides the configured level.
pub const LOG_ENV: &str = "WATCHDOGD_LOG";

/// The seed's line format.
struct SeedFormat;

impl<S, N> FormatEvent<S, N> for SeedFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let level = match *meta.level() {
            Level::ERROR => "ERROR",
            Level::WARN => "WARNING",
            Level::INFO => "INFO",
            Level::DEBUG => "DEBUG",
            Level::TRACE => "TRACE",
        };
        let ts = protocol::time::format_rfc3339(protocol::time::now_micros());
        // Millisecond precision, UTC: 2026-02-05T06:17:29.601+00:00.
        write!(
            w,
            "[{}{}] [{level}] [{}] ",
            &ts[..23],
            &ts[26..],
            meta.target()
        )?;
        ctx.format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Maps the config's level name to a filter directive.
fn directive(level: &str) -> &'static str {
    match level.to_ascii_uppercase().as_str() {
        "DEBUG" => "debug",
        "WARNING" | "WARN" => "warn",
        "ERROR" | "CRITICAL" => "error",
        _ => "info",
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("log_dir {}: {source}", .dir.display())]
    Folder {
        dir: PathBuf,
        source: crate::guard::path::PathError,
    },
    /// A user other than root and the daemon's own could swap the folder's files for links.
    #[error(
        "log_dir {}: this folder, or one above it, can be written by users other than root and watchdogd's own, who could redirect its log files; use a folder only root can write",
        .0.display()
    )]
    Untrusted(PathBuf),
    #[error("cannot open a log file in {}: {source}", .dir.display())]
    Appender {
        dir: PathBuf,
        source: tracing_appender::rolling::InitError,
    },
    #[error("cannot install the logger: {0}")]
    Install(#[from] tracing_subscriber::util::TryInitError),
}

/// Installs the global subscriber. Keep the guard alive until exit, or the file's tail is lost.
pub fn init(level: &str, log_dir: Option<&Path>) -> Result<Option<WorkerGuard>, LoggingError> {
    let configured = || {
        directive(level)
            .parse::<Targets>()
            .unwrap_or_else(|_| Targets::new().with_default(Level::INFO))
    };
    let from_env = std::env::var(LOG_ENV).ok().filter(|v| !v.trim().is_empty());
    let filter = match from_env.as_deref().map(str::parse::<Targets>) {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            eprintln!("watchdogd: ignoring {LOG_ENV}: {e}");
            configured()
        }
        None => configured(),
    };
    let filter = || filter.clone();
    let stderr = tracing_subscriber::fmt::layer()
        .event_format(SeedFormat)
        .with_writer(std::io::stderr)
        .with_filter(filter());
    let (file, guard) = match log_dir {
        Some(dir) => {
            // The appender opens its daily files by path, later: only a folder that nobody
            // but root (or the daemon's user) can change is safe to hand it.
            let checked =
                crate::guard::path::walk(dir, true).map_err(|source| LoggingError::Folder {
                    dir: dir.to_path_buf(),
                    source,
                })?;
            if !checked.chain_trusted {
                return Err(LoggingError::Untrusted(dir.to_path_buf()));
            }
            let appender = RollingFileAppender::builder()
                .rotation(Rotation::DAILY)
                .filename_prefix("watchdogd")
                .filename_suffix("log")
                .max_log_files(14)
                .build(dir)
                .map_err(|source| LoggingError::Appender {
                    dir: dir.to_path_buf(),
                    source,
                })?;
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .event_format(SeedFormat)
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(filter());
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init()?;
    Ok(guard)
}

use tracing_subscriber::Layer as _;
