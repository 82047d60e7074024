//! Where things live by default, shared by the daemon and the client so both agree.
//!
//! A system daemon (root) uses `/etc/watchdogd`, `/run/watchdogd` and `/var/lib/watchdogd`; a user
//! daemon uses the XDG folders. `--config`, `--socket` and environment variables override these.

use std::path::{Path, PathBuf};

/// Environment variable naming the control socket (read by `watchdogctl`).
pub const SOCKET_ENV: &str = "WATCHDOG_SOCKET";
/// Environment variable naming the config file (read by both binaries).
pub const CONFIG_ENV: &str = "WATCHDOG_CONFIG";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn uid() -> u32 {
    // SAFETY: as above.
    unsafe { libc::geteuid() }
}

fn xdg(var: &str, home_fallback: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(home_fallback)))
}

/// The config file used when none is named.
pub fn default_config_path() -> PathBuf {
    if is_root() {
        return PathBuf::from("/etc/watchdogd/config.json");
    }
    xdg("XDG_CONFIG_HOME", ".config")
        .map(|d| d.join("watchdogd/config.json"))
        .unwrap_or_else(|| PathBuf::from("/etc/watchdogd/config.json"))
}

/// The control socket used when neither the config nor the command line names one.
pub fn default_socket_path() -> PathBuf {
    if is_root() {
        return PathBuf::from("/run/watchdogd/watchdogd.sock");
    }
    match std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        Some(dir) => dir.join("watchdogd/watchdogd.sock"),
        None => std::env::temp_dir().join(format!("watchdogd-{}/watchdogd.sock", uid())),
    }
}

/// The folder for the database when the config names none.
pub fn default_state_dir() -> PathBuf {
    if is_root() {
        return PathBuf::from("/var/lib/watchdogd");
    }
    xdg("XDG_STATE_HOME", ".local/state")
        .map(|d| d.join("watchdogd"))
        .unwrap_or_else(|| std::env::temp_dir().join(format!("watchdogd-{}", uid())))
}

/// Resolves a path from a config file against the config file's folder.
pub fn resolve(config_dir: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        config_dir.join(p)
    }
}

/// The folder of a config file (its parent, made absolute), against which its paths resolve.
pub fn config_dir(config_file: &Path) -> PathBuf {
    let abs = if config_file.is_absolute() {
        config_file.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("."))
            .join(config_file)
    };
    abs.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Why a config file does not tell where the socket is.
#[derive(Debug, thiserror::Error)]
pub enum SocketPathError {
    #[error("cannot read config {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {} is not valid JSON: {source}", .path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("config {}: socket_path must be a string, found {found}", .path.display())]
    NotAString {
        path: PathBuf,
        /// The value found, as JSON.
        found: serde_json::Value,
    },
}

/// The socket a config file names (`socket_path`, resolved), or the default when it names none.
/// Only the one field is read, so a client can find the daemon even when the rest is invalid.
pub fn socket_path_from_config(config_file: &Path) -> Result<PathBuf, SocketPathError> {
    let path = || config_file.to_path_buf();
    let text = std::fs::read(config_file).map_err(|source| SocketPathError::Read {
        path: path(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|source| SocketPathError::Json {
            path: path(),
            source,
        })?;
    match value.get("socket_path") {
        None | Some(serde_json::Value::Null) => Ok(default_socket_path()),
        Some(serde_json::Value::String(s)) => Ok(resolve(&config_dir(config_file), s)),
        Some(other) => Err(SocketPathError::NotAString {
            path: path(),
            found: other.clone(),
        }),
    }
}
