//! The one look loading a config takes at the machine: whether each `working_dir` is there.
//!
//! A `working_dir` that is missing loads, with a warning, since it may appear before the
//! service is started. A `working_dir` on a file system that does not answer must not hang the
//! daemon's start, `--check-config` or a reload: the look runs on a thread of its own and is
//! waited for [`LOOK_WITHIN`]; past that it is given up on (the thread is left to finish when
//! the file system answers, and no second look at the same folder starts meanwhile).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// How long one look may take.
const LOOK_WITHIN: Duration = Duration::from_secs(1);

/// Folders whose look has not returned.
fn hanging() -> &'static Mutex<HashSet<PathBuf>> {
    static HANGING: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    HANGING.get_or_init(Mutex::default)
}

/// A warning about folder `dir` (config field `field`), if it is not a usable folder.
pub(super) fn check(field: &str, dir: &Path) -> Option<String> {
    let metadata = match look(dir) {
        Some(m) => m,
        None => {
            return Some(format!(
                "{field}: {} did not answer within {}s (is its file system hung?)",
                dir.display(),
                LOOK_WITHIN.as_secs()
            ));
        }
    };
    match metadata {
        Ok(meta) if meta.is_dir() => None,
        Ok(_) => Some(format!("{field}: {} is not a folder", dir.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(format!("{field}: folder {} does not exist", dir.display()))
        }
        Err(e) => Some(format!("{field}: cannot check {}: {e}", dir.display())),
    }
}

/// `metadata(dir)`, or `None` when it did not return in time (or an earlier look still hangs).
fn look(dir: &Path) -> Option<std::io::Result<std::fs::Metadata>> {
    let lock = || hanging().lock().unwrap_or_else(|p| p.into_inner());
    if lock().contains(dir) {
        return None;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let owned = dir.to_path_buf();
    let finished = done.clone();
    let spawned = std::thread::Builder::new()
        .name("config-look".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let _ = tx.send(std::fs::metadata(&owned));
            finished.store(true, std::sync::atomic::Ordering::SeqCst);
            hanging()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&owned);
        });
    if spawned.is_err() {
        // No thread to spare: look here (a hang is then possible, but nothing else works).
        return Some(std::fs::metadata(dir));
    }
    match rx.recv_timeout(LOOK_WITHIN) {
        Ok(m) => Some(m),
        Err(_) => {
            // Marked as hanging unless the look ended meanwhile (it then unmarks after this).
            let mut set = lock();
            if !done.load(std::sync::atomic::Ordering::SeqCst) {
                set.insert(dir.to_path_buf());
            }
            None
        }
    }
}
