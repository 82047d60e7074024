//! watchdogd: the daemon that owns all state and the monitoring loop.
//!
//! [`run`] takes an already-bound listener and a shutdown future, so tests and `main` drive the
//! same code with no test mode. Every module, from the edge inwards (a directory module's own
//! note says more about its parts):
//!
//! - Starting and stopping: [`cli`] (arguments), [`logging`] (the seed's log format, stderr and
//!   daily files), [`signals`] (SIGTERM/SIGINT stop, SIGHUP reloads), [`notify`] (systemd's
//!   READY, STATUS, WATCHDOG pings to the daemon's own supervisor).
//! - The control socket: [`server`] (claiming the socket and the lock, the accept loop),
//!   [`connection`] (one client: frames, requests, replies), [`frames`] (a reply frame sent
//!   within a deadline, shared with the streams), [`access`] (who may read or control),
//!   [`refusals`] (refused clients reported once a minute, not once a request), [`answers`]
//!   (history, detail, metrics and version, answered without the owner), [`watch`] (the stream
//!   behind `watchdogctl top`: a status, then what changes).
//! - The owner: [`supervisor`] (the one owner of service state: its loop and wiring in
//!   `dispatch` (commands), `actions` (pipelines), `checks`, `changes`, `command`, `effects`,
//!   `give_up`, `handle`, `notify`, `publish`, `reload`, `turns`; its rules pure code with
//!   table tests: `bulk`, `slots`, `schedule`, `probing`, and in `service/`: `admit`,
//!   `counters`, `flap`, `overrides`, `pipelines`, `recovery`, `status`, `verdict`, `window`),
//!   [`clock`] (monotonic time for decisions, wall time for people), [`exitwatch`] (pidfd exit
//!   watches), [`metrics`] (OpenMetrics and the node_exporter file).
//! - Checks: [`reader`] (the threads every heartbeat read runs on: the work, `task`; its
//!   buckets with their bound and stuck rules, `queue`; the threads, `pool`), [`mounts`] (which file
//!   system a path is on, so a hung one is kept to itself), [`changes`] (inotify: a heartbeat
//!   read when it changes, a silent one at its deadline), [`probe`] (one check), [`heartbeat`]
//!   (reading a hostile file safely), [`health`] (the one judge: health, and which process is
//!   the service), [`notify_socket`] (heartbeats without files: systemd's notify protocol
//!   spoken to the services, one socket each; `socket`, `receiver`, the datagram parser
//!   `message`, who may speak for a service `sender`, what a check reads `slot`).
//! - Processes: [`proc_facts`] (what `/proc` says of a process: alive, start, group, session,
//!   owner; read-only), [`process`] (stopping: TERM, grace, KILL; the shell commands run in),
//!   [`session`] (the session a start made, which `kill` stops and whose members may speak on
//!   the notify socket).
//! - Recovery: [`pipeline`] (the run, what it is given and what each action sees (`plan`), the
//!   actions `kill`, `start` and cleanups (`script`, also the `on_give_up` hook), the commands
//!   and their environment (`command`), bounded output capture (`output`)).
//! - Root-safe edges: [`guard`] (paths walked without planted links (`path`), files opened by
//!   type (`file`), pidfd signalling and the signalling rules (`pidfd`), what a child inherits
//!   and who it runs as (`spawn`)).
//! - State: [`store`] (SQLite on a thread of its own: the rows and saved state kept (`model`),
//!   the `writer`, `rows` written, `schema` read back, the versioned `layout` with the seed's database migrated in place, `history`
//!   read for people, `orphans` (overrides of keys that left the config while the daemon was
//!   down)), [`config`] (the config file, every problem at once: `fields` read one by one into
//!   `findings`, the top level in `validation`, each process in `process`, its commands and
//!   actions in `actions`, `defaults`, the validated `model`, its `normal_form` for
//!   `--check-config`, the did-you-mean `suggestion`, the `folder` look at `working_dir`).

pub mod access;
pub mod answers;
pub mod changes;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connection;
pub mod exitwatch;
pub mod frames;
pub mod guard;
pub mod health;
pub mod heartbeat;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod mounts;
pub mod notify;
pub mod notify_socket;
pub mod pipeline;
pub mod probe;
pub mod proc_facts;
pub mod process;
pub mod reader;
pub mod refusals;
pub mod server;
pub mod session;
pub mod signals;
pub mod store;
pub mod supervisor;
pub mod watch;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use interprocess::local_socket::tokio::Listener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::supervisor::{Command, Supervisor};

/// Supervises `config`'s services and serves `listener` until `shutdown` resolves, then stops
/// cleanly: no new connections, running pipelines finished or cancelled, the audit log flushed,
/// the socket removed. Services keep running. Each message on `reloads` (SIGHUP) reloads the
/// config file as `watchdogctl reload` does.
pub async fn run(
    config: Config,
    listener: Listener,
    shutdown: impl Future<Output = ()>,
    mut reloads: tokio::sync::mpsc::Receiver<()>,
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let db = config.db_path.clone();
    let retention = config.history_retention;
    let store::Opened {
        store,
        thread: store_thread,
        saved,
        interrupted,
    } = tokio::task::spawn_blocking(move || store::Store::open(&db, retention))
        .await
        .context("store thread panicked")??;
    for run in interrupted {
        let message = format!(
            "{} pipeline started at {} was cut off by watchdogd's death; the service is re-checked now",
            run.trigger,
            protocol::time::format_millis(run.started_ms)
        );
        tracing::warn!(target: "watchdogd", "{}: {message}", run.key);
        store.write(vec![store::Record::event(
            &run.key,
            protocol::EventKind::PipelineInterrupted,
            message,
            protocol::time::now_millis(),
        )]);
    }
    let (lines, rows) = store::orphans::dropped(
        &saved,
        |key| config.processes.contains_key(key),
        protocol::time::now_millis(),
    );
    for line in lines {
        tracing::info!(target: "watchdogd", "{line}");
    }
    if !rows.is_empty() {
        store.write(rows);
    }
    let (policy, warnings) = access::AccessPolicy::resolve(&config.access);
    for w in warnings {
        tracing::warn!(target: "config", "{w}");
    }
    let readers = reader::Readers::new();
    let (supervisor, handle) = Supervisor::new(config.clone(), store, readers, &saved);
    // Opening (and maybe migrating) the database is done too.
    memory::release_startup_code();
    let token = CancellationToken::new();
    let turns = supervisor.turns.clone();
    let owner = tokio::spawn(supervisor.run(token.clone()));
    let reloader = handle.clone();
    let reloader_stop = token.clone();
    let reloads_task = tokio::spawn(async move {
        loop {
            tokio::select! {
                () = reloader_stop.cancelled() => break,
                r = reloads.recv() => {
                    if r.is_none() {
                        break;
                    }
                    if let protocol::Response::Error { message, .. } =
                        reloader.ask(|reply| Command::Reload { reply: Some(reply) }).await
                    {
                        tracing::warn!(target: "watchdogd", "SIGHUP reload: {message}");
                    }
                }
            }
        }
    });
    tokio::spawn(return_freed_memory(token.clone()));
    metrics::spawn_textfile_writer(&handle, token.clone());
    // The socket is bound and listening: connections queue until the accept loop takes them,
    // so READY=1 may go out now.
    let notifier = Arc::new(notify::Notifier::from_env());
    notify::spawn(notifier.clone(), &handle, turns, token.clone());
    let server = tokio::spawn(server::serve(
        listener,
        handle,
        Arc::new(policy),
        token.clone(),
    ));
    tracing::info!(
        target: "watchdogd",
        "watchdogd {} ready on {} (pid {})",
        protocol::VERSION,
        config.socket_path.display(),
        std::process::id()
    );
    shutdown.await;
    tracing::info!(target: "watchdogd", "shutting down");
    notifier.send("STOPPING=1\nSTATUS=shutting down");
    token.cancel();
    server.await.context("server task panicked")?;
    owner.await.context("supervisor task panicked")?;
    reloads_task.await.context("reload task panicked")?;
    // Every store handle is gone with those tasks: the thread drains its queue and ends.
    tokio::task::spawn_blocking(move || store_thread.join())
        .await
        .context("store join failed")?
        .map_err(|_| anyhow::anyhow!("store thread panicked"))?;
    tracing::info!(target: "watchdogd", "stopped");
    Ok(())
}

/// Hands freed heap pages back to the OS now and then. A burst (loading a large config,
/// `start-all` over thousands of services) leaves glibc's heap fragmented, and without this the
/// daemon's resident size stays at its high-water mark for good. Once, a while after the start,
/// the code pages only the start needed (parsing arguments and the config, opening and
/// migrating the database) are handed back too ([`memory::release_startup_code`]).
async fn return_freed_memory(stop: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
    // The first tick is at once; the second, 30 s on, is when the start is over.
    for round in 0u64.. {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let _ = tokio::task::spawn_blocking(move || {
            memory::trim_heap();
            if round == 1 {
                memory::release_startup_code();
            }
        })
        .await;
    }
}
