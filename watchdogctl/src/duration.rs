//! Durations as operators type them: `90s`, `10m`, `2h`, `1d`, `1h30m`, or a plain number of
//! seconds.
//!
//! Used by `off --for` and `history --since`. Parsing is a clap value parser, so a bad value is a
//! usage error (exit 2) whose message names the value. A zero duration is refused: a maintenance
//! window of nothing ends before it starts, and "since now" selects nothing.

use std::time::Duration;

/// The longest duration accepted: about 100 years, far below where milliseconds overflow `i64`.
const MAX_SECS: u64 = 100 * 365 * 86_400;

/// Parses `90s`, `10m`, `2h`, `1d`, `1w`, combinations such as `1h30m`, or plain seconds (`45`).
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = |why: &str| {
        format!(
            "invalid duration {text:?}: {why} (use e.g. 90s, 10m, 2h, 1d, 1h30m or plain seconds)"
        )
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(bad("empty"));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = s.parse().map_err(|_| bad("too long"))?;
        return checked(secs).ok_or_else(|| bad(if secs == 0 { "zero" } else { "too long" }));
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("expected a number"));
        }
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let (unit, tail) = tail.split_at(unit_len);
        let scale: u64 = match unit {
            "s" | "sec" | "secs" => 1,
            "m" | "min" | "mins" => 60,
            "h" | "hr" | "hrs" => 3600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 7 * 86_400,
            "" => return Err(bad("a number in a combination needs a unit")),
            _ => return Err(bad(&format!("unknown unit {unit:?}"))),
        };
        let n: u64 = number.parse().map_err(|_| bad("too long"))?;
        total = n
            .checked_mul(scale)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(|| bad("too long"))?;
        rest = tail;
    }
    checked(total).ok_or_else(|| bad(if total == 0 { "zero" } else { "too long" }))
}

fn checked(secs: u64) -> Option<Duration> {
    (secs > 0 && secs <= MAX_SECS).then(|| Duration::from_secs(secs))
}

/// A duration in the largest units that fit exactly: `90s` → `1m30s`, `7200s` → `2h`.
pub fn format(d: Duration) -> String {
    let mut s = d.as_secs();
    if s == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if s >= size {
            out.push_str(&format!("{}{unit}", s / size));
            s %= size;
        }
    }
    out
}

/// Milliseconds of a duration, for the wire (saturating; every parsed duration fits).
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> u64 {
        parse(text).unwrap().as_secs()
    }

    #[test]
    fn units_and_plain_seconds() {
        assert_eq!(secs("90s"), 90);
        assert_eq!(secs("10m"), 600);
        assert_eq!(secs("2h"), 7200);
        assert_eq!(secs("1d"), 86_400);
        assert_eq!(secs("1w"), 604_800);
        assert_eq!(secs("45"), 45);
        assert_eq!(secs(" 5m "), 300);
        assert_eq!(secs("1h30m"), 5400);
        assert_eq!(secs("1d2h3m4s"), 93_784);
        assert_eq!(secs("10min"), 600);
    }

    #[test]
    fn bad_values_name_the_value() {
        for bad in [
            "", "soon", "10x", "-5m", "1.5h", "m", "1h30", "0", "0s", "0h0m", "5 m",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{bad:?}: {err}");
        }
        assert!(parse("0").unwrap_err().contains("zero"));
        assert!(
            parse("99999999999999999999999")
                .unwrap_err()
                .contains("too long")
        );
        assert!(parse("200000d").unwrap_err().contains("too long"));
        assert!(parse("10x").unwrap_err().contains("unknown unit \"x\""));
    }

    #[test]
    fn formats_in_largest_units() {
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_secs(7200)), "2h");
        assert_eq!(format(Duration::from_secs(93_784)), "1d2h3m4s");
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(millis(Duration::from_secs(2)), 2000);
    }
}
