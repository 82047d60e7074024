//! Reading one field of a config object: its JSON type, its range, and a message naming it when
//! it is wrong; plus the did-you-mean for fields nobody knows.
//!
//! Every reader records a problem and carries on rather than returning early, which is what lets
//! `validation.rs` report every problem in a file at once.

use std::time::Duration;

use serde_json::{Map, Value};

use super::validation::Findings;
use super::{LOG_LEVELS, MAX_SECONDS};

/// The outcome of reading one optional field.
pub(super) enum Lookup<T> {
    /// Not in the file (or `null`).
    Absent,
    /// In the file but bad; the problem is recorded.
    Invalid,
    /// In the file and good.
    Found(T),
}

impl<T> Lookup<T> {
    pub(super) fn or(self, default: T) -> T {
        self.or_else(|| default)
    }

    pub(super) fn or_else(self, default: impl FnOnce() -> T) -> T {
        match self {
            Lookup::Found(value) => value,
            Lookup::Absent | Lookup::Invalid => default(),
        }
    }

    pub(super) fn found(self) -> Option<T> {
        match self {
            Lookup::Found(value) => Some(value),
            Lookup::Absent | Lookup::Invalid => None,
        }
    }
}

/// One JSON object being read, with the dotted name that prefixes its messages (none at the top).
pub(super) struct Object<'a> {
    pub(super) map: &'a Map<String, Value>,
    pub(super) at: Option<String>,
}

impl<'a> Object<'a> {
    /// The dotted name of one of its fields, for messages.
    pub(super) fn name(&self, field: &str) -> String {
        match &self.at {
            Some(at) => format!("{at}.{field}"),
            None => field.to_string(),
        }
    }

    /// Its own dotted name, for messages about the whole object.
    pub(super) fn name_of_self(&self) -> &str {
        self.at.as_deref().unwrap_or("top level")
    }

    /// The field's value; `null` counts as absent.
    pub(super) fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    /// Reads an optional field with `parse`, recording a problem when it is bad.
    pub(super) fn read<T>(
        &self,
        found: &mut Findings,
        field: &str,
        parse: fn(&Value) -> Result<T, String>,
    ) -> Lookup<T> {
        let Some(value) = self.get(field) else {
            return Lookup::Absent;
        };
        match parse(value) {
            Ok(value) => Lookup::Found(value),
            Err(why) => {
                found.problems.push(format!("{}: {why}", self.name(field)));
                Lookup::Invalid
            }
        }
    }

    /// Reads a required field; absent is a problem too (`what` says what belongs there).
    pub(super) fn required<T>(
        &self,
        found: &mut Findings,
        field: &str,
        parse: fn(&Value) -> Result<T, String>,
        what: &str,
    ) -> Option<T> {
        match self.read(found, field, parse) {
            Lookup::Found(value) => Some(value),
            Lookup::Invalid => None,
            Lookup::Absent => {
                found
                    .problems
                    .push(format!("{}: missing (required: {what})", self.name(field)));
                None
            }
        }
    }

    /// Warns about every field not in `known`, with a did-you-mean when one is close.
    pub(super) fn warn_unknown(&self, found: &mut Findings, known: &[&str]) {
        for field in self.map.keys().filter(|f| !known.contains(&f.as_str())) {
            let name = self.name(field);
            found.warnings.push(match suggestion(field, known) {
                Some(near) => format!("{name}: unknown field (did you mean \"{near}\"?)"),
                None => format!("{name}: unknown field"),
            });
        }
    }
}

/// A string with something in it (paths, commands, names).
pub(super) fn non_empty_string(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
        other => Err(format!(
            "must be a non-empty string, found {}",
            describe(other)
        )),
    }
}

/// `true` or `false`.
pub(super) fn boolean(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("must be true or false, found {}", describe(value)))
}

/// One of [`LOG_LEVELS`], any case; returned upper-case.
pub(super) fn log_level(value: &Value) -> Result<String, String> {
    let level = value.as_str().map(str::to_ascii_uppercase);
    match level {
        Some(level) if LOG_LEVELS.contains(&level.as_str()) => Ok(level),
        _ => Err(format!(
            "must be one of {}, found {}",
            LOG_LEVELS.join(", "),
            describe(value)
        )),
    }
}

/// Seconds, more than zero.
pub(super) fn positive_seconds(value: &Value) -> Result<Duration, String> {
    seconds(value, false)
}

/// Seconds, zero allowed.
pub(super) fn non_negative_seconds(value: &Value) -> Result<Duration, String> {
    seconds(value, true)
}

/// A number of seconds, integer or not (`0.5`), at most [`MAX_SECONDS`].
fn seconds(value: &Value, zero_ok: bool) -> Result<Duration, String> {
    let expected = if zero_ok {
        "a non-negative number"
    } else {
        "a positive number"
    };
    let Some(n) = value.as_f64() else {
        return Err(format!("must be {expected}, found {}", describe(value)));
    };
    if n < 0.0 || (n == 0.0 && !zero_ok) {
        return Err(format!("must be {expected}, found {value}"));
    }
    if n > MAX_SECONDS {
        return Err(format!(
            "must be at most {MAX_SECONDS} seconds (ten years), found {value}"
        ));
    }
    Duration::try_from_secs_f64(n).map_err(|e| format!("must be {expected}, found {value} ({e})"))
}

/// A count such as a failure threshold: a whole number from 1 (`2.0` is accepted as 2).
pub(super) fn positive_integer(value: &Value) -> Result<u32, String> {
    let whole = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    });
    match whole.map(u32::try_from) {
        Some(Ok(n)) if n > 0 => Ok(n),
        Some(Ok(_)) => Err(format!("must be a positive integer, found {value}")),
        Some(Err(_)) => Err(format!("must be at most {}, found {value}", u32::MAX)),
        None if value.is_number() => Err(format!("must be a positive integer, found {value}")),
        None => Err(format!(
            "must be a positive integer, found {}",
            describe(value)
        )),
    }
}

/// An environment map: variable name → value, names non-empty without `=` or NUL.
pub(super) fn env_map(value: &Value) -> Result<std::collections::BTreeMap<String, String>, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "must be an object of NAME → value strings, found {}",
            describe(value)
        ));
    };
    let mut out = std::collections::BTreeMap::new();
    let mut bad = Vec::new();
    for (name, raw) in map {
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            bad.push(format!("{} is not a valid variable name", quote(name)));
        } else if let Some(v) = raw.as_str().filter(|v| !v.contains('\0')) {
            out.insert(name.clone(), v.to_owned());
        } else {
            bad.push(format!("{} is {}", quote(name), describe(raw)));
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(format!("must map names to strings, but {}", bad.join(", ")))
    }
}

/// A file mode written as octal digits: `"0660"`, `"660"` or the number `660` (read as octal).
pub(super) fn octal_mode(value: &Value) -> Result<u32, String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        other => {
            return Err(format!(
                "must be an octal mode like \"0660\", found {}",
                describe(other)
            ));
        }
    };
    let digits = text.strip_prefix("0o").unwrap_or(&text);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err(format!(
            "must be an octal mode from 0000 to 0777, found {}",
            quote(&text)
        )),
    }
}

/// User or group names, or numeric ids written as strings or numbers.
pub(super) fn principal_list(value: &Value) -> Result<Vec<String>, String> {
    list(
        value,
        "user/group names or numeric ids",
        |item| match item {
            Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            Value::Number(n) if n.is_u64() => Some(n.to_string()),
            _ => None,
        },
    )
}

/// Arguments: any strings, empty ones included.
pub(super) fn string_list(value: &Value) -> Result<Vec<String>, String> {
    list(value, "strings", |item| item.as_str().map(str::to_string))
}

/// Action names: non-empty strings.
pub(super) fn action_list(value: &Value) -> Result<Vec<String>, String> {
    list(value, "non-empty strings", |item| {
        item.as_str()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
    })
}

/// An array whose every item passes `item`; all bad items are named in one message.
fn list(
    value: &Value,
    what: &str,
    item: impl Fn(&Value) -> Option<String>,
) -> Result<Vec<String>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "must be an array of {what}, found {}",
            describe(value)
        ));
    };
    let mut out = Vec::with_capacity(items.len());
    let mut bad = Vec::new();
    for (index, raw) in items.iter().enumerate() {
        match item(raw) {
            Some(s) => out.push(s),
            None => bad.push(format!("item {index} is {}", describe(raw))),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(format!(
            "must be an array of {what}, but {}",
            bad.join(", ")
        ))
    }
}

/// A found value for a message, with its JSON type: `string "x"`, `number 5`, `an object`, …
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {}", quote(s)),
        Value::Array(items) => format!("an array of {} item(s)", items.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// `s` as a JSON string literal, shortened when long so one message stays one line.
pub(super) fn quote(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        return Value::from(s).to_string();
    }
    let head: String = s.chars().take(MAX - 1).collect();
    let quoted = Value::from(head).to_string();
    format!("{}…\"", &quoted[..quoted.len() - 1])
}

/// The known field an unknown one was probably meant to be: the closest by edit distance
/// (case-insensitive, a swap of two neighbours counting as one edit) when that distance is at most
/// 2 or at most a quarter of the longer name (`timeout_secs` → `timeout_seconds`), or else a known
/// field that it begins (`timeout` → `timeout_seconds`).
pub(super) fn suggestion<'k>(unknown: &str, known: &[&'k str]) -> Option<&'k str> {
    let unknown = unknown.to_lowercase();
    let near = known
        .iter()
        .map(|k| (edit_distance(&unknown, k), *k))
        .filter(|(d, k)| *d <= 2 || *d * 4 <= unknown.chars().count().max(k.chars().count()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k);
    near.or_else(|| {
        (unknown.chars().count() >= 4)
            .then(|| known.iter().find(|k| k.starts_with(&unknown)).copied())
            .flatten()
    })
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of adjacent
/// characters each cost one.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j] = distance between a[..i] and b[..j]
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}
