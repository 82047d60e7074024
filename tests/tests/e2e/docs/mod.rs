//! The documentation keeps up with the code: its links resolve, every page is reachable from
//! the README, and the `--json` contract in docs/json.md matches what watchdogctl prints.

mod json;
mod links;

use std::path::PathBuf;

/// The repository's top folder.
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the repository")
        .to_path_buf()
}
