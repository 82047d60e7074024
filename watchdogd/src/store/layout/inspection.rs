//! What opening a `db_path` will do, told before anything is changed (`watchdogd
//! --check-config`, and the check at start): created, upgraded, migrated from the seed, or
//! refused; and whether this user could write it at all. Reads the file only.

use std::path::Path;

use nix::unistd::{AccessFlags, Uid, access};
use rusqlite::{Connection, OpenFlags};

use super::seed::seed_ms;
use super::{LATEST, Layout, LayoutError, layout};

/// What opening `path` will do, in words, or why it will be refused (`watchdogd
/// --check-config`, and the check at start). `retention`: `history_retention_days`, to say
/// which of a migrated file's rows will be pruned. Reads the file only.
pub fn inspect(path: &Path, retention: std::time::Duration) -> Result<String, LayoutError> {
    if !path.exists() {
        return Ok(format!(
            "{}: does not exist yet; it will be created",
            path.display()
        ));
    }
    let conn = open_to_look(path);
    let found = match &conn {
        Ok(c) => layout(c),
        Err(e) => Err(rusqlite::Error::InvalidParameterName(e.to_string())),
    };
    let shown = path.display().to_string();
    let plan = match found {
        // Unreadable or corrupt: the store moves a corrupt file aside at start (loudly).
        Err(e) => {
            let e = match &conn {
                Err(open) => open.to_string(),
                Ok(_) => e.to_string(),
            };
            return Ok(format!(
                "{shown}: cannot be read as a database ({e}); at start a corrupt file is moved aside and a new one created"
            ));
        }
        Ok(Layout::Empty) => format!("{shown}: empty; the tables will be created"),
        Ok(Layout::Ours { version }) if version == LATEST => {
            format!("{shown}: up to date (schema version {LATEST})")
        }
        Ok(Layout::Ours { version }) => {
            format!("{shown}: schema version {version}; it will be upgraded in place to {LATEST}")
        }
        Ok(Layout::Seed { checks, services }) => {
            let old = conn
                .as_ref()
                .ok()
                .and_then(|c| seed_rows_older_than(c, retention).ok())
                .unwrap_or(0);
            let pruned = if old > 0 {
                format!(
                    "; {old} of its checks are older than history_retention_days ({} days) and will be pruned at the first start, as any row that old",
                    retention.as_secs() / 86_400
                )
            } else {
                String::new()
            };
            format!(
                "{shown}: the Python watchdog's database ({services} services, {checks} checks); it will be migrated in place to schema version {LATEST}, keeping its rows and columns{pruned}"
            )
        }
        Ok(Layout::Newer { version }) => {
            return Err(LayoutError::Newer {
                path: shown,
                version,
            });
        }
        Ok(Layout::Foreign { tables }) => {
            return Err(LayoutError::Foreign {
                path: shown,
                tables: if tables.is_empty() {
                    "none".into()
                } else {
                    tables.join(", ")
                },
            });
        }
    };
    Ok(match writable(path) {
        Ok(()) => plan,
        Err(why) => format!(
            "{plan}. But {why}: watchdogd would start and keep supervising, and lose every audit row and intent change (`status` counts them as dropped); fix its permissions or point db_path elsewhere"
        ),
    })
}

/// Opens `path` to look only. A WAL database needs its `-shm` file writable even to be read;
/// a user who may not write there (`--check-config` run as another user) reads it as
/// immutable instead.
fn open_to_look(path: &Path) -> rusqlite::Result<Connection> {
    let plain = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| layout(&c).map(|_| c));
    if plain.is_ok() {
        return plain;
    }
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => uri.push_str(&format!("%{:02X}", c as u32)),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
    .and_then(|c| layout(&c).map(|_| c))
    .or(plain)
}

/// Why this user could not write a database file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Unwritable {
    #[error("uid {uid} cannot write it ({errno})")]
    File { uid: Uid, errno: nix::Error },
    /// SQLite's journal lives beside the file.
    #[error("uid {uid} cannot create files in its folder {} ({errno}), as SQLite must", .dir.display())]
    Folder {
        uid: Uid,
        dir: std::path::PathBuf,
        errno: nix::Error,
    },
}

/// Whether this user may write the file and its folder (SQLite's journal lives beside it).
fn writable(path: &Path) -> Result<(), Unwritable> {
    let uid = Uid::effective();
    access(path, AccessFlags::W_OK).map_err(|errno| Unwritable::File { uid, errno })?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    access(dir, AccessFlags::W_OK | AccessFlags::X_OK).map_err(|errno| Unwritable::Folder {
        uid,
        dir: dir.to_path_buf(),
        errno,
    })
}

/// The seed's check rows older than `retention`, by their own times.
fn seed_rows_older_than(
    conn: &Connection,
    retention: std::time::Duration,
) -> rusqlite::Result<i64> {
    let cutoff =
        protocol::time::now_millis() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    conn.query_row(
        &format!(
            "SELECT count(*) FROM check_history WHERE {} < ?1",
            seed_ms("checked_at")
        ),
        [cutoff],
        |r| r.get(0),
    )
}
