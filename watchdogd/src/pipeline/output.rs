//! A script's output, kept bounded: its first and last [`KEEP`] bytes, the rest only counted.
//!
//! A cleanup may print anything, hundreds of megabytes or binary noise, and the daemon reads it
//! for the log. Holding it whole once cost the daemon 864 MiB of peak memory; holding a head and
//! a tail costs at most twice [`KEEP`] per running script, and tells an operator how it began
//! and how it ended. Everything shown is escaped first ([`escape`]), so control bytes and
//! terminal sequences from a script never reach a log reader's terminal.

use std::collections::VecDeque;

/// Bytes kept from each end of the output.
pub const KEEP: usize = 64 * 1024;
/// Characters of the (escaped, one-line) tail that go into the step's message.
const MESSAGE_TAIL: usize = 2048;

/// The output seen so far.
#[derive(Debug, Default)]
pub struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl Capture {
    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        if self.head.len() < KEEP {
            let n = (KEEP - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        if bytes.len() >= KEEP {
            self.tail.clear();
            bytes = &bytes[bytes.len() - KEEP..];
        }
        self.tail.extend(bytes);
        let over = self.tail.len().saturating_sub(KEEP);
        self.tail.drain(..over);
    }

    /// Bytes seen but not kept (between the head and the tail).
    pub fn omitted(&self) -> u64 {
        self.total - (self.head.len() + self.tail.len()) as u64
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Everything kept, escaped, with a marker where bytes were left out.
    pub fn text(&self) -> String {
        let mut out = escape(&self.head, true);
        if self.omitted() > 0 {
            out.push_str(&format!("\n[… {} bytes not kept …]\n", self.omitted()));
        }
        let (a, b) = self.tail.as_slices();
        let mut tail = Vec::with_capacity(a.len() + b.len());
        tail.extend_from_slice(a);
        tail.extend_from_slice(b);
        out.push_str(&escape(&tail, true));
        out
    }

    /// The end of the output on one line (whitespace folded), for the step's message.
    pub fn summary(&self) -> String {
        let text = self.text();
        let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
        match folded.char_indices().rev().nth(MESSAGE_TAIL - 1) {
            Some((i, _)) => format!("…{}", &folded[i..]),
            None => folded,
        }
    }
}

/// `bytes` as text a terminal shows literally: valid UTF-8 stays, control characters (but
/// newlines and tabs when `keep_lines`) become `\xNN`, and bytes that are not UTF-8 too.
pub fn escape(bytes: &[u8], keep_lines: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            let kept_space = keep_lines && (c == '\n' || c == '\t');
            if c.is_control() && !kept_space {
                for b in c.to_string().bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_head_and_the_tail_and_counts_the_rest() {
        let mut c = Capture::default();
        c.push(b"BEGIN");
        for _ in 0..1000 {
            c.push(&[b'x'; 1000]);
        }
        c.push(b"END");
        assert_eq!(c.total, 1_000_008);
        assert_eq!(c.omitted(), 1_000_008 - 2 * KEEP as u64);
        let text = c.text();
        assert!(text.starts_with("BEGIN"));
        assert!(text.ends_with("END"));
        assert!(text.contains("bytes not kept"));
        assert!(c.summary().ends_with("END"));
        assert!(c.summary().chars().count() <= MESSAGE_TAIL + 1);
    }

    #[test]
    fn a_huge_single_write_is_bounded() {
        let mut c = Capture::default();
        c.push(&vec![b'y'; 10 * KEEP]);
        assert_eq!(c.head.len(), KEEP);
        assert_eq!(c.tail.len(), KEEP);
    }

    #[test]
    fn control_bytes_and_invalid_utf8_are_escaped() {
        assert_eq!(
            escape(b"ok\x1b[31mred\xff\n", false),
            "ok\\x1b[31mred\\xff\\x0a"
        );
        assert_eq!(escape("é\tz\n".as_bytes(), true), "é\tz\n");
        assert_eq!(escape(b"a\rb", true), "a\\x0db");
    }
}
