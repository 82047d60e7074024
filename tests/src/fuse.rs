//! A FUSE file system that never answers: the realest "hung NFS server" a test can have.
//!
//! Mounting needs only `/dev/fuse` and root: the kernel holds every request on the mount until
//! the file system daemon answers `FUSE_INIT`, and this one never reads its descriptor, so every
//! `stat`, `open` or `read` below the mount point blocks (killably) until it is unmounted.
//! Dropping the mount detaches it and closes the descriptor, which aborts the connection: the
//! blocked calls then fail with `ENOTCONN`. Drop it before the folder that holds it.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A mounted file system that hangs every access.
pub struct HungMount {
    dir: PathBuf,
    _fd: OwnedFd,
}

impl HungMount {
    /// Mounts it on `dir` (created if missing), or says why it cannot.
    pub fn new(dir: &Path) -> Result<HungMount, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let fd: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")
            .map_err(|e| format!("cannot open /dev/fuse: {e}"))?
            .into();
        let target = CString::new(dir.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
        let data = CString::new(format!(
            "fd={},rootmode=40000,user_id=0,group_id=0",
            fd.as_raw_fd()
        ))
        .map_err(|e| e.to_string())?;
        // SAFETY: all arguments are valid NUL-terminated strings that outlive the call.
        let r = unsafe {
            libc::mount(
                c"wd-hung".as_ptr(),
                target.as_ptr(),
                c"fuse".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                data.as_ptr().cast(),
            )
        };
        if r != 0 {
            return Err(format!(
                "cannot mount a FUSE file system on {}: {}",
                dir.display(),
                std::io::Error::last_os_error()
            ));
        }
        Ok(HungMount {
            dir: dir.to_path_buf(),
            _fd: fd,
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for HungMount {
    fn drop(&mut self) {
        if let Ok(target) = CString::new(self.dir.as_os_str().as_bytes()) {
            // SAFETY: a valid path; MNT_DETACH never blocks on the hung file system.
            unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        }
    }
}
