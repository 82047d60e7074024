//! Times and ages as the text output shows them.
//!
//! Absolute times are UTC, written `2026-11-28T03:17:34Z`: one token (so event lines split on
//! spaces), sortable, and the same instant the JSON output and the audit log give. The client
//! has no time-zone database, and guessing the local offset would make two operators' outputs
//! disagree.

use protocol::time::format_millis;

/// A point in time, to the second: `2026-11-28T03:17:34Z`.
pub fn format_time(ms: i64) -> String {
    let full = format_millis(ms);
    match full.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => full,
    }
}

/// A time close to `now_ms`: only `03:17:34Z` on the same UTC day, else the full
/// [`format_time`].
pub fn format_until(ms: i64, now_ms: i64) -> String {
    let full = format_time(ms);
    let now = format_time(now_ms);
    let same_day = full.get(..10).is_some_and(|d| now.get(..10) == Some(d));
    match full.split_once('T') {
        Some((_, clock)) if same_day => clock.to_owned(),
        _ => full,
    }
}

/// A heartbeat age: `3s`, `2m05s`, `1h02m`, `3d04h`. Negative ages (clock skew) read as `0s`.
pub fn format_age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A coarse "how long ago", one unit: `5s`, `2m`, `3h`, `4d`.
pub fn format_ago(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_770_272_249_601; // 2026-02-05T06:17:29.601Z

    #[test]
    fn times() {
        assert_eq!(format_time(NOW), "2026-02-05T06:17:29Z");
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_until(NOW + 600_000, NOW), "06:27:29Z");
        assert_eq!(format_until(NOW + 86_400_000, NOW), "2026-02-06T06:17:29Z");
    }

    #[test]
    fn ages() {
        assert_eq!(format_age(0), "0s");
        assert_eq!(format_age(3_999), "3s");
        assert_eq!(format_age(-5_000), "0s");
        assert_eq!(format_age(125_000), "2m05s");
        assert_eq!(format_age(3_720_000), "1h02m");
        assert_eq!(format_age(86_400_000 * 3 + 3_600_000 * 4), "3d04h");
        assert_eq!(format_ago(59_000), "59s");
        assert_eq!(format_ago(125_000), "2m");
        assert_eq!(format_ago(7_300_000), "2h");
        assert_eq!(format_ago(86_400_000 * 2), "2d");
    }
}
