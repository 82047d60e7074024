//! Wall-clock timestamps as heartbeat files write them.
//!
//! Heartbeats carry RFC 3339 timestamps as Python's `datetime.isoformat()` writes them
//! (`2026-02-05T06:17:29.601049+00:00`) or with a `Z`. We keep them as microseconds since the
//! Unix epoch (`i64`, negative before 1970) so that comparing ages is integer arithmetic, and
//! convert with the civil-calendar algorithm rather than pulling in a date crate for two
//! functions. A timestamp without an offset (Python's naive `isoformat()`) is read as UTC.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

/// Milliseconds since the Unix epoch, now: the unit of times on the wire.
pub fn now_millis() -> i64 {
    now_micros() / 1000
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads `N` ASCII digits at `pos`.
fn digits(s: &[u8], pos: usize, n: usize) -> Option<i64> {
    let part = s.get(pos..pos + n)?;
    part.iter().try_fold(0i64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// Parses an RFC 3339 / ISO 8601 timestamp into microseconds since the epoch.
///
/// Accepts `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH:MM|±HHMM]`; fractions beyond microseconds are
/// truncated. Returns `None` for anything else, including impossible dates.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let s = text.trim().as_bytes();
    let year = digits(s, 0, 4)?;
    let month = digits(s, 5, 2)?;
    let day = digits(s, 8, 2)?;
    let hour = digits(s, 11, 2)?;
    let minute = digits(s, 14, 2)?;
    let second = digits(s, 17, 2)?;
    if s.get(4) != Some(&b'-')
        || s.get(7) != Some(&b'-')
        || !matches!(s.get(10), Some(b'T' | b't' | b' '))
        || s.get(13) != Some(&b':')
        || s.get(16) != Some(&b':')
    {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut pos = 19;
    let mut micros = 0i64;
    if s.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while s.get(pos).is_some_and(u8::is_ascii_digit) {
            if pos - start < 6 {
                micros = micros * 10 + i64::from(s[pos] - b'0');
            }
            pos += 1;
        }
        let n = pos - start;
        if n == 0 {
            return None;
        }
        for _ in n..6 {
            micros *= 10;
        }
    }
    let offset_secs = match s.get(pos) {
        None => 0,
        Some(b'Z' | b'z') if pos + 1 == s.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(s, pos + 1, 2)?;
            let (om, end) = if s.get(pos + 3) == Some(&b':') {
                (digits(s, pos + 4, 2)?, pos + 6)
            } else {
                (digits(s, pos + 3, 2)?, pos + 5)
            };
            if end != s.len() || oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset_secs;
    Some(secs * 1_000_000 + micros)
}

/// Formats microseconds since the epoch as Python's `isoformat()` does for a UTC datetime:
/// `2026-02-05T06:17:29.601049+00:00`.
pub fn format_rfc3339(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let tod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}+00:00",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    )
}

/// Formats milliseconds since the epoch (the wire's unit) like [`format_rfc3339`].
pub fn format_millis(millis: i64) -> String {
    format_rfc3339(millis.saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_python_isoformat() {
        let t = parse_rfc3339("2026-02-05T06:17:29.601049+00:00").unwrap();
        assert_eq!(t, 1_770_272_249_601_049);
        assert_eq!(format_rfc3339(t), "2026-02-05T06:17:29.601049+00:00");
    }

    #[test]
    fn parses_z_offsets_and_short_fractions() {
        let z = parse_rfc3339("2026-02-05T06:17:29Z").unwrap();
        assert_eq!(z, 1_770_272_249_000_000);
        assert_eq!(parse_rfc3339("2026-02-05T08:17:29+02:00"), Some(z));
        assert_eq!(parse_rfc3339("2026-02-05T01:17:29-0500"), Some(z));
        assert_eq!(parse_rfc3339("2026-02-05T06:17:29.5Z"), Some(z + 500_000));
        assert_eq!(
            parse_rfc3339("2026-02-05T06:17:29.123456789Z"),
            Some(z + 123_456)
        );
        assert_eq!(parse_rfc3339("2026-02-05 06:17:29"), Some(z));
    }

    #[test]
    fn rejects_garbage_and_impossible_dates() {
        for bad in [
            "",
            "yesterday",
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-02-05T24:00:00Z",
            "2026-02-05T06:17:29.Z",
            "2026-02-05T06:17:29+0",
            "2026-02-05T06:17:29Zjunk",
            "２026-02-05T06:17:29Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn extreme_years_round_trip() {
        for text in [
            "9999-12-31T23:59:59.999999+00:00",
            "1969-12-31T23:59:59.000001+00:00",
            "0001-01-01T00:00:00.000000+00:00",
            "2024-02-29T12:00:00.000000+00:00",
        ] {
            let t = parse_rfc3339(text).unwrap();
            assert_eq!(format_rfc3339(t), text);
        }
        assert!(parse_rfc3339("1969-12-31T23:59:59Z").unwrap() < 0);
    }
}
