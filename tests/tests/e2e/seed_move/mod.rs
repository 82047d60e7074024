//! A painless move from the seed: its database, its default pipeline, its cleanup scripts run
//! as it ran them, its heartbeat writers' integer strings; and answers a deploy script can
//! trust (read-your-writes, `check`'s exit code).

mod by_hand;
mod database;
mod pipeline;
mod truthful;

const T: std::time::Duration = std::time::Duration::from_secs(20);
