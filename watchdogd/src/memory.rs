//! Giving memory back: freed heap pages, and the code pages only the start needed.
//!
//! A daemon resident for months should hold what it uses, not what it once used. Freed heap
//! stays with glibc until trimmed. And the start touches a good part of the program's own code
//! (argument and config parsing, opening and migrating the database, setting up the runtime)
//! that it never runs again, yet those pages stay mapped and counted as resident; after the
//! start they are paged out once (`MADV_PAGEOUT`, Linux 5.4+). What the daemon runs later is
//! faulted back in as it runs; nothing is lost, a page is only read again when needed.

/// Returns freed heap pages to the OS (glibc).
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Pages out the program's own code pages (its executable mappings): called after each stage
/// of the start (so the start's peak is one stage's code, not all of it) and once more when
/// the start is over. Best effort: on kernels without `MADV_PAGEOUT` nothing happens.
pub fn release_startup_code() {
    #[cfg(target_os = "linux")]
    {
        const MADV_PAGEOUT: libc::c_int = 21;
        let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
            return;
        };
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
            return;
        };
        for (start, end) in code_ranges(&maps, &exe.to_string_lossy()) {
            // SAFETY: the range is a mapping of this process, read from /proc/self/maps;
            // paging out clean, read-only, file-backed code only drops pages the kernel can
            // read back from the file on the next access.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, MADV_PAGEOUT);
            }
        }
    }
}

/// The executable (`r-xp`) mappings of `exe` in a `/proc/PID/maps` text.
fn code_ranges(maps: &str, exe: &str) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            let path = fields.nth(3)?;
            if perms != "r-xp" || path != exe {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            Some((
                usize::from_str_radix(a, 16).ok()?,
                usize::from_str_radix(b, 16).ok()?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_programs_own_code_is_picked() {
        let maps = "\
55d0a0000000-55d0a0100000 r--p 00000000 08:01 1234 /usr/sbin/watchdogd
55d0a0100000-55d0a0400000 r-xp 00100000 08:01 1234 /usr/sbin/watchdogd
55d0a0400000-55d0a0500000 rw-p 00400000 08:01 1234 /usr/sbin/watchdogd
7f0000000000-7f0000200000 r-xp 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
";
        assert_eq!(
            code_ranges(maps, "/usr/sbin/watchdogd"),
            vec![(0x55d0a0100000, 0x55d0a0400000)]
        );
        // Running it on the real process does no harm.
        release_startup_code();
        trim_heap();
    }
}
