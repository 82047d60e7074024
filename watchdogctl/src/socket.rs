//! Finding the daemon's socket: `--socket`, `WATCHDOG_SOCKET`, the `socket_path` of a config
//! file, or the platform default, in that order.
//!
//! Kept apart from the call itself because `dial-stdio` (the remote end of `-H`) resolves the
//! socket the same way on the remote host, and because the precedence is a rule worth its own
//! table of tests.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use protocol::paths::{CONFIG_ENV, SOCKET_ENV, default_socket_path, socket_path_from_config};

use crate::exit::{Exit, Failure};

/// Where the socket path came from, for `-v` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketSource {
    /// `--socket`.
    Flag,
    /// `WATCHDOG_SOCKET`.
    Env,
    /// The `socket_path` of this config file (or the default, when it names none).
    Config(PathBuf),
    /// The platform default.
    Default,
}

impl fmt::Display for SocketSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketSource::Flag => f.write_str("from --socket"),
            SocketSource::Env => write!(f, "from {SOCKET_ENV}"),
            SocketSource::Config(c) => write!(f, "from config {}", c.display()),
            SocketSource::Default => f.write_str("default"),
        }
    }
}

impl SocketSource {
    /// How the socket was chosen, in words, for "cannot reach" messages.
    pub fn explain(&self) -> String {
        match self {
            SocketSource::Flag => "given with --socket".to_owned(),
            SocketSource::Env => format!("given in {SOCKET_ENV}"),
            SocketSource::Config(c) => format!("the socket_path of config {}", c.display()),
            SocketSource::Default => format!(
                "the default socket: neither -c/--config, --socket, {CONFIG_ENV} nor {SOCKET_ENV} was given"
            ),
        }
    }
}

/// The flags and environment variables that can name the socket, before precedence is applied.
#[derive(Debug, Clone, Default)]
pub struct SocketInputs {
    /// `--socket`.
    pub socket_flag: Option<PathBuf>,
    /// `WATCHDOG_SOCKET`.
    pub socket_env: Option<OsString>,
    /// `--config` / `-c`.
    pub config_flag: Option<PathBuf>,
    /// `WATCHDOG_CONFIG`.
    pub config_env: Option<OsString>,
}

impl SocketInputs {
    /// The flags as parsed plus the two environment variables.
    pub fn from_env(socket_flag: Option<PathBuf>, config_flag: Option<PathBuf>) -> Self {
        SocketInputs {
            socket_flag,
            socket_env: std::env::var_os(SOCKET_ENV),
            config_flag,
            config_env: std::env::var_os(CONFIG_ENV),
        }
    }
}

/// A value that names a path; an empty one counts as unset, as shells users expect.
fn named(value: Option<impl Into<PathBuf>>) -> Option<PathBuf> {
    value.map(Into::into).filter(|p| !p.as_os_str().is_empty())
}

/// Picks the socket: `--socket`, else `WATCHDOG_SOCKET`, else the `socket_path` of `--config`
/// (else of `WATCHDOG_CONFIG`), else the platform default. A config that cannot be read is a
/// usage error (exit 2), not a reason to silently try the default socket.
pub fn resolve_socket(inputs: SocketInputs) -> Result<(PathBuf, SocketSource), Failure> {
    if let Some(socket) = named(inputs.socket_flag) {
        return Ok((socket, SocketSource::Flag));
    }
    if let Some(socket) = named(inputs.socket_env) {
        return Ok((socket, SocketSource::Env));
    }
    if let Some(config) = named(inputs.config_flag).or_else(|| named(inputs.config_env)) {
        let path = socket_path_from_config(&config)
            .map_err(|e| Failure::new(Exit::Usage, e.to_string()))?;
        return Ok((path, SocketSource::Config(config)));
    }
    Ok((default_socket_path(), SocketSource::Default))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn write_config(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("config.json");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn inputs(
        socket_flag: &str,
        socket_env: &str,
        config_flag: &str,
        config_env: &str,
    ) -> SocketInputs {
        let some = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
        SocketInputs {
            socket_flag: some(socket_flag),
            socket_env: some(socket_env).map(PathBuf::into_os_string),
            config_flag: some(config_flag),
            config_env: some(config_env).map(PathBuf::into_os_string),
        }
    }

    #[test]
    fn precedence_is_flag_env_config_default() {
        let dir = tempfile::tempdir().unwrap();
        let flag_cfg = write_config(dir.path(), r#"{"socket_path": "flag.sock"}"#);
        let env_cfg = dir.path().join("env.json");
        std::fs::write(&env_cfg, r#"{"socket_path": "/abs/env-config.sock"}"#).unwrap();
        let (fc, ec) = (flag_cfg.to_str().unwrap(), env_cfg.to_str().unwrap());

        let pick = |i| resolve_socket(i).unwrap();
        assert_eq!(
            pick(inputs("/f.sock", "/e.sock", fc, ec)),
            (PathBuf::from("/f.sock"), SocketSource::Flag)
        );
        assert_eq!(
            pick(inputs("", "/e.sock", fc, ec)),
            (PathBuf::from("/e.sock"), SocketSource::Env)
        );
        assert_eq!(
            pick(inputs("", "", fc, ec)),
            (
                dir.path().join("flag.sock"),
                SocketSource::Config(flag_cfg.clone())
            )
        );
        assert_eq!(
            pick(inputs("", "", "", ec)),
            (
                PathBuf::from("/abs/env-config.sock"),
                SocketSource::Config(env_cfg.clone())
            )
        );
        assert_eq!(
            pick(inputs("", "", "", "")),
            (default_socket_path(), SocketSource::Default)
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let i = SocketInputs {
            socket_flag: None,
            socket_env: Some(OsString::new()),
            config_flag: None,
            config_env: Some(OsString::new()),
        };
        assert_eq!(
            resolve_socket(i).unwrap(),
            (default_socket_path(), SocketSource::Default)
        );
    }

    #[test]
    fn config_socket_path_resolves_against_the_config_folder() {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(
            dir.path(),
            r#"{"socket_path": "run/w.sock", "processes": {}}"#,
        );
        let (path, source) = resolve_socket(inputs("", "", config.to_str().unwrap(), "")).unwrap();
        assert_eq!(path, dir.path().join("run/w.sock"));
        assert_eq!(source, SocketSource::Config(config));
    }

    #[test]
    fn config_without_socket_path_means_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), r#"{"processes": {}}"#);
        let (path, _) = resolve_socket(inputs("", "", config.to_str().unwrap(), "")).unwrap();
        assert_eq!(path, default_socket_path());
    }

    #[test]
    fn bad_or_missing_config_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let bad = write_config(dir.path(), "{ not json");
        let missing = dir.path().join("missing.json");
        for config in [bad, missing] {
            match resolve_socket(inputs("", "", config.to_str().unwrap(), "")) {
                Err(Failure::Report { exit, message }) => {
                    assert_eq!(exit, Exit::Usage);
                    assert!(message.contains(&config.display().to_string()), "{message}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
