//! `watchdogd`: parses arguments, loads the config, sets up logging and signals, claims the
//! socket, and hands over to [`watchdogd::run`]. Only this file decides the exit code:
//! 0 clean stop, 1 runtime failure (socket taken, database unusable), 2 bad config or usage.

use std::process::ExitCode;

use clap::Parser;
use watchdogd::cli::Args;
use watchdogd::signals::{Ask, Signals};
use watchdogd::{config, logging, server};

fn main() -> ExitCode {
    // Before anything else opens a descriptor: whatever was inherited must not reach children.
    watchdogd::guard::spawn::seal_inherited_fds();
    watchdogd::guard::spawn::remember_limits();
    let args = Args::parse();
    let path = args
        .config
        .clone()
        .unwrap_or_else(protocol::paths::default_config_path);
    let loaded = match config::load(&path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("watchdogd: {e}");
            return ExitCode::from(2);
        }
    };
    let mut config = loaded.config;
    if let Some(sock) = args.socket {
        // A lock left at its default (beside the config's socket) moves with the socket, so
        // two daemons on two sockets do not lock each other out.
        let lock_name = std::path::Path::new("watchdogd.lock");
        if config.socket_path.parent().map(|d| d.join(lock_name)) == Some(config.lock_path.clone())
        {
            config.lock_path = sock
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join(lock_name);
        }
        config.socket_path = sock;
        config.socket_from_command_line = true;
    }
    if args.check_config {
        for w in &loaded.warnings {
            eprintln!("watchdogd: warning: {w}");
        }
        let text = serde_json::to_string_pretty(&config.to_json()).unwrap_or_default();
        println!("{text}");
        // What starting would do to an existing database, before it does it.
        let database = watchdogd::store::layout::inspection::inspect(
            &config.db_path,
            config.history_retention,
        );
        match &database {
            Ok(plan) => eprintln!("watchdogd: database {plan}"),
            Err(e) => eprintln!("watchdogd: database {e}"),
        }
        eprintln!(
            "watchdogd: {} is {} ({} processes)",
            path.display(),
            if database.is_ok() {
                "valid"
            } else {
                "valid, but its database is refused"
            },
            config.processes.len()
        );
        return if database.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        };
    }
    // A database this daemon must not write to is a configuration error: refuse to start.
    if let Err(e) =
        watchdogd::store::layout::inspection::inspect(&config.db_path, config.history_retention)
    {
        eprintln!("watchdogd: cannot use the database {e}");
        return ExitCode::from(2);
    }
    let _log_guard = match logging::init(&config.log_level, config.log_dir.as_deref()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("watchdogd: {e}");
            return ExitCode::from(2);
        }
    };
    for w in &loaded.warnings {
        tracing::warn!(target: "config", "{w}");
    }
    limit_malloc_arenas();
    // Parsing arguments and the config is done for good: its code need not stay resident.
    watchdogd::memory::release_startup_code();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // Heartbeat reads go in batches; a few threads keep up, many would only cost memory.
        .max_blocking_threads(8)
        // The heap trim runs every 30 s on a blocking thread: keeping that thread between
        // trims keeps the thread set stable (no thread made and torn down twice a minute, and
        // the bench can read the daemon's CPU per thread, precisely).
        .thread_keep_alive(std::time::Duration::from_secs(45))
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(target: "watchdogd", "cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let mut signals = Signals::new()?;
        let bound = server::bind(&config)?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (force_tx, force_rx) = tokio::sync::oneshot::channel::<()>();
        let (reload_tx, reload_rx) = tokio::sync::mpsc::channel::<()>(4);
        tokio::spawn(async move {
            let mut stop_tx = Some(stop_tx);
            let mut force_tx = Some(force_tx);
            loop {
                match signals.next().await {
                    Ask::Shutdown => match stop_tx.take() {
                        Some(tx) => {
                            let _ = tx.send(());
                        }
                        None => {
                            if let Some(tx) = force_tx.take() {
                                let _ = tx.send(());
                            }
                        }
                    },
                    Ask::Reload => {
                        // A full queue means a reload is already pending: this one adds nothing.
                        let _ = reload_tx.try_send(());
                    }
                }
            }
        });
        let _lock = bound.lock;
        let stop = async move {
            let _ = stop_rx.await;
        };
        let run = watchdogd::run(config, bound.listener, stop, reload_rx);
        tokio::select! {
            r = run => r,
            _ = force_rx => Err(anyhow::anyhow!("second signal: stopped without waiting for pipelines")),
        }
    });
    // Whatever is still blocked (a lookup, a client) is not waited for beyond a moment.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The logger writes to stderr: one line, in the log format, is enough.
            tracing::error!(target: "watchdogd", "{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// glibc gives each thread that allocates its own arena (up to 8 per core), which multiplies
/// the daemon's resident memory for no gain: its threads allocate little and briefly.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
