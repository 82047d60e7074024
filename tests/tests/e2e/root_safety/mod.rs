//! Root-safe: nothing a service user controls can turn the daemon against its host. The daemon
//! runs as root (as in CI) and the service as `nobody`; each module is one way a service user
//! could try, and shows it fails. Without root the tests skip and say why.

mod children;
mod clock;
mod devices;
mod durable;
mod hung_fs;
mod identity;
mod links;
mod output;
mod reload;
mod socket;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use nix::unistd::User;
use watchdog_tests::Sandbox;
use watchdog_tests::users;

const T: Duration = Duration::from_secs(20);

/// `nobody`, and a sandbox `nobody` can walk into and write its heartbeat and starts file in;
/// or `None` after printing why the test cannot run here.
fn hostile_sandbox(test: &str) -> Option<(User, Sandbox)> {
    let nobody = match users::nobody() {
        Ok(u) => u,
        Err(why) => {
            eprintln!("{test}: skipped: {why}");
            return None;
        }
    };
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_wd-test-service"));
    if !users::reachable_by_others(bin) {
        eprintln!(
            "{test}: skipped: `nobody` cannot reach {} (a parent folder is not world-searchable)",
            bin.display()
        );
        return None;
    }
    let sb = crate::sandbox();
    for (dir, mode) in [
        (sb.path().to_path_buf(), 0o777),
        (sb.path().join("hb"), 0o777),
    ] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    Some((nobody, sb))
}

/// Gives `path` to `user`.
fn give(path: &std::path::Path, user: &User) {
    std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw())).unwrap();
}

/// A file only root may touch, with known content: the target a hostile link points at.
fn precious(sb: &Sandbox) -> std::path::PathBuf {
    let path = sb.path().join("precious");
    std::fs::write(&path, b"root's own bytes\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// Asserts `path` still holds root's bytes and belongs to root.
fn untouched(path: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::read(path).unwrap(),
        b"root's own bytes\n",
        "{path:?} was written"
    );
    let meta = std::fs::metadata(path).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0), "{path:?} changed owner");
}
