//! The real binaries under test, built once per test process: `cargo test` does not build
//! another package's binaries.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The real binaries under test.
pub struct Bins {
    pub watchdogd: PathBuf,
    pub watchdogctl: PathBuf,
}

/// Builds `watchdogd` and `watchdogctl` once per test process (cargo does not build another
/// package's binaries for `cargo test`), in the profile the tests were built with.
pub fn bins() -> &'static Bins {
    static BINS: OnceLock<Bins> = OnceLock::new();
    BINS.get_or_init(|| {
        // target/<profile>/deps/<test binary>
        let exe = std::env::current_exe().expect("current exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>")
            .to_path_buf();
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace).args([
            "build",
            "--quiet",
            "-p",
            "watchdogd",
            "-p",
            "watchdogctl",
        ]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(
            status.success(),
            "cargo build of watchdogd/watchdogctl failed"
        );
        Bins {
            watchdogd: profile_dir.join("watchdogd"),
            watchdogctl: profile_dir.join("watchdogctl"),
        }
    })
}
