//! The config file: the seed's JSON format, normalized and validated into a [`Config`].
//!
//! Why it is read by hand from a `serde_json::Value` rather than derived: an operator editing a
//! file with twenty services wants every mistake listed in one go, each naming the process key and
//! the field, and old or hand-edited files (the seed's flat format, a typo in an optional field)
//! must still load with a warning instead of being refused. A derived `Deserialize` stops at the
//! first error and cannot warn.
//!
//! Invariants of a [`Config`] that loaded: every path is absolute (relative ones are resolved
//! against the config file's folder), every default is filled in, every process has a `start`
//! command and every recovery action other than the built-in `kill` has a command. The file is
//! checked, not the machine: scripts are not looked at, and only a missing `working_dir` is
//! noticed (as a warning).

mod actions;
mod defaults;
mod fields;
mod findings;
mod folder;
mod model;
mod normal_form;
mod process;
mod suggestion;
mod validation;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde_json::Value;

pub use defaults::*;
pub use model::{AccessConfig, Config, FlapPolicy, HeartbeatSource, ProcessConfig};

/// A config that loaded, and what in it deserves a look without stopping the daemon.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated config.
    pub config: Config,
    /// Non-fatal findings (unknown fields, deprecated format, …), each naming the field.
    pub warnings: Vec<String>,
}

/// Why a config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The config file (absolute).
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not JSON at all.
    #[error("config {path} is not valid JSON: {message}")]
    Json {
        /// The config file (absolute).
        path: PathBuf,
        /// serde_json's message, with line and column.
        message: String,
    },
    /// The file is JSON but breaks the rules; every problem found is listed.
    #[error("config {path} is invalid:{}{}", bullet_list(.problems), warning_list(.warnings))]
    Invalid {
        /// The config file (absolute).
        path: PathBuf,
        /// Each problem names its field, e.g. `processes.api.timeout_seconds: …`.
        problems: Vec<String>,
        /// Warnings found on the way: a misspelled field often explains a "missing" one.
        warnings: Vec<String>,
    },
}

fn warning_list(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    format!("\nwarnings:{}", bullet_list(items))
}

fn bullet_list(items: &[String]) -> String {
    items.iter().map(|item| format!("\n  - {item}")).collect()
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let path = absolute(path);
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    parse(&text, &path)
}

/// Validates config text; `source` is the file it came from, against whose folder relative paths
/// resolve (it is not read).
pub fn parse(text: &str, source: &Path) -> Result<Loaded, ConfigError> {
    let source = absolute(source);
    let root: Value = serde_json::from_str(text).map_err(|e| ConfigError::Json {
        path: source.clone(),
        message: e.to_string(),
    })?;
    let mut findings = findings::Findings::default();
    let config = validation::build(&root, &source, &mut findings);
    match config {
        Some(config) if findings.problems.is_empty() => Ok(Loaded {
            config,
            warnings: findings.warnings,
        }),
        _ => {
            let mut problems = findings.problems;
            if problems.is_empty() {
                // `build` only gives up after recording why; this keeps the error non-empty
                // should that ever change.
                problems.push("the config could not be built".into());
            }
            Err(ConfigError::Invalid {
                path: source,
                problems,
                warnings: findings.warnings,
            })
        }
    }
}

/// `path` made absolute against the current folder, without touching the file system.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
