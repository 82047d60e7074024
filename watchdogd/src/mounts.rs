//! Which mounted file system a path lies on, judged by its text alone.
//!
//! A file system that stops answering (a hung NFS server, a FUSE daemon that stopped) hangs
//! every look into it, and the reader threads ([`crate::reader`]) must stop sending work there
//! before it eats them all. They group work by mount: the longest mount point in
//! `/proc/self/mountinfo` that is a prefix of the path. Working this out touches no file
//! system but `/proc` (which never hangs), so it is safe to do for a path on a hung mount.
//!
//! The grouping is by the path as written: a symlink on the way into another mount is not
//! seen. That only makes the grouping coarser for that path (its work counts against the
//! mount its name lies on), never lets a hung mount take more threads than the bound.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a mount table read is used before it is read again.
const FRESH_FOR: Duration = Duration::from_secs(5);

/// The mount points, longest first, read from `/proc/self/mountinfo`.
#[derive(Debug)]
pub struct Mounts {
    points: Vec<Arc<Path>>,
    read_at: Option<Instant>,
    /// The table's text when last read: an unchanged table keeps its points.
    text: String,
    /// The answer for each folder asked about, until the table changes (thousands of
    /// heartbeats share a few folders: a lookup is then one hash, not a scan).
    known: std::collections::HashMap<PathBuf, Arc<Path>>,
}

impl Default for Mounts {
    fn default() -> Self {
        Mounts {
            points: vec![Arc::from(Path::new("/"))],
            read_at: None,
            text: String::new(),
            known: std::collections::HashMap::new(),
        }
    }
}

impl Mounts {
    /// The mount point `path` lies on (re-reading the table when it is old).
    pub fn of(&mut self, path: &Path) -> Arc<Path> {
        if self.read_at.is_none_or(|t| t.elapsed() >= FRESH_FOR) {
            self.refresh();
        }
        // A file lies where its folder does, unless it is itself a mount point (rare).
        let Some(dir) = path.parent() else {
            return longest_prefix(&self.points, path);
        };
        if self.is_point(path) {
            return longest_prefix(&self.points, path);
        }
        if let Some(m) = self.known.get(dir) {
            return m.clone();
        }
        let m = longest_prefix(&self.points, dir);
        if self.known.len() >= 4096 {
            self.known.clear();
        }
        self.known.insert(dir.to_path_buf(), m.clone());
        m
    }

    fn is_point(&self, path: &Path) -> bool {
        // Sorted longest first: only points as long as `path` can equal it.
        let len = path.as_os_str().len();
        self.points
            .iter()
            .skip_while(|p| p.as_os_str().len() > len)
            .take_while(|p| p.as_os_str().len() == len)
            .any(|p| p.as_ref() == path)
    }

    fn refresh(&mut self) {
        self.read_at = Some(Instant::now());
        let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
            return;
        };
        if text != self.text {
            self.points = parse(&text);
            self.text = text;
            self.known.clear();
        }
    }
}

/// The longest of `points` (sorted longest first) that `path` lies under; `/` if none.
fn longest_prefix(points: &[Arc<Path>], path: &Path) -> Arc<Path> {
    points
        .iter()
        .find(|p| path.starts_with(p))
        .cloned()
        .unwrap_or_else(|| Arc::from(Path::new("/")))
}

/// The mount points of a `mountinfo` text (field 5, octal escapes undone), longest first.
fn parse(text: &str) -> Vec<Arc<Path>> {
    let mut points: Vec<Arc<Path>> = text
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| Arc::from(unescape(p).as_path()))
        .collect();
    if !points.iter().any(|p| p.as_ref() == Path::new("/")) {
        points.push(Arc::from(Path::new("/")));
    }
    points.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    points.dedup();
    points
}

/// Undoes the kernel's `\NNN` octal escapes (space, tab, newline, backslash).
fn unescape(field: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            let s = std::str::from_utf8(d).ok()?;
            u8::from_str_radix(s, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw
24 22 0:22 / /tmp rw shared:2 - tmpfs tmpfs rw
25 24 0:50 / /tmp/wd1/mnt rw - fuse.hang hang rw
26 22 0:51 / /srv/my\\040data rw - nfs server:/x rw
";

    #[test]
    fn a_path_lies_on_the_longest_mount_point_before_it() {
        let points = parse(MOUNTINFO);
        for (path, mount) in [
            ("/tmp/wd1/mnt/hb/a.json", "/tmp/wd1/mnt"),
            ("/tmp/wd1/mnt", "/tmp/wd1/mnt"),
            ("/tmp/wd1/mntx/a.json", "/tmp"),
            ("/tmp/a.json", "/tmp"),
            ("/var/lib/hb.json", "/"),
            ("/srv/my data/hb.json", "/srv/my data"),
            ("/proc/self/stat", "/proc"),
        ] {
            assert_eq!(
                longest_prefix(&points, Path::new(path)).as_ref(),
                Path::new(mount),
                "{path}"
            );
        }
    }

    #[test]
    fn the_real_table_has_a_root() {
        let mut m = Mounts::default();
        assert!(m.of(Path::new("/nonexistent/x")).starts_with("/"));
    }
}
