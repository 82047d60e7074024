//! Reading one field of a config object: its JSON type, its range, and a message naming it when
//! it is wrong.
//!
//! Every reader records a problem and carries on rather than returning early, which is what lets
//! `validation.rs` report every problem in a file at once.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::defaults::{LOG_LEVELS, MAX_SECONDS};
use super::findings::Findings;
use super::suggestion::suggestion;

/// Why one field's value is refused; shown after the field's dotted name
/// (`processes.api.timeout_seconds: must be a positive number, found string "5"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum FieldError {
    /// The value as a whole is of the wrong type or out of range.
    #[error("must be {expected}, found {found}")]
    Expected {
        /// What belongs there: `a positive number`, `true or false`, …
        expected: String,
        /// What is there, as [`describe`] or the JSON text puts it.
        found: String,
    },
    /// A collection with bad items, each named.
    #[error("must {rule}, but {}", .bad.join(", "))]
    BadItems {
        /// What the collection must do: `be an array of strings`, `map names to strings`.
        rule: String,
        /// Each bad item and why: `item 2 is number 5`.
        bad: Vec<String>,
    },
}

impl FieldError {
    fn expected(expected: impl Into<String>, found: impl Into<String>) -> FieldError {
        FieldError::Expected {
            expected: expected.into(),
            found: found.into(),
        }
    }
}

/// A field reader: the value, or why it is refused.
pub(super) type Parse<T> = fn(&Value) -> Result<T, FieldError>;

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
    pub(super) fn read<T>(&self, found: &mut Findings, field: &str, parse: Parse<T>) -> Lookup<T> {
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
        parse: Parse<T>,
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
pub(super) fn non_empty_string(value: &Value) -> Result<String, FieldError> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
        other => Err(FieldError::expected("a non-empty string", describe(other))),
    }
}

/// `true` or `false`.
pub(super) fn boolean(value: &Value) -> Result<bool, FieldError> {
    value
        .as_bool()
        .ok_or_else(|| FieldError::expected("true or false", describe(value)))
}

/// One of [`LOG_LEVELS`], any case; returned upper-case.
pub(super) fn log_level(value: &Value) -> Result<String, FieldError> {
    let level = value.as_str().map(str::to_ascii_uppercase);
    match level {
        Some(level) if LOG_LEVELS.contains(&level.as_str()) => Ok(level),
        _ => Err(FieldError::expected(
            format!("one of {}", LOG_LEVELS.join(", ")),
            describe(value),
        )),
    }
}

/// Seconds, more than zero.
pub(super) fn positive_seconds(value: &Value) -> Result<Duration, FieldError> {
    seconds(value, false)
}

/// Seconds, zero allowed.
pub(super) fn non_negative_seconds(value: &Value) -> Result<Duration, FieldError> {
    seconds(value, true)
}

/// A number of seconds, integer or not (`0.5`), at most [`MAX_SECONDS`].
fn seconds(value: &Value, zero_ok: bool) -> Result<Duration, FieldError> {
    let expected = if zero_ok {
        "a non-negative number"
    } else {
        "a positive number"
    };
    let Some(n) = value.as_f64() else {
        return Err(FieldError::expected(expected, describe(value)));
    };
    if n < 0.0 || (n == 0.0 && !zero_ok) {
        return Err(FieldError::expected(expected, value.to_string()));
    }
    if n > MAX_SECONDS {
        return Err(FieldError::expected(
            format!("at most {MAX_SECONDS} seconds (ten years)"),
            value.to_string(),
        ));
    }
    Duration::try_from_secs_f64(n)
        .map_err(|e| FieldError::expected(expected, format!("{value} ({e})")))
}

/// A count such as a failure threshold: a whole number from 1 (`2.0` is accepted as 2).
pub(super) fn positive_integer(value: &Value) -> Result<u32, FieldError> {
    let whole = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    });
    const EXPECTED: &str = "a positive integer";
    match whole.map(u32::try_from) {
        Some(Ok(n)) if n > 0 => Ok(n),
        Some(Ok(_)) => Err(FieldError::expected(EXPECTED, value.to_string())),
        Some(Err(_)) => Err(FieldError::expected(
            format!("at most {}", u32::MAX),
            value.to_string(),
        )),
        None if value.is_number() => Err(FieldError::expected(EXPECTED, value.to_string())),
        None => Err(FieldError::expected(EXPECTED, describe(value))),
    }
}

/// An environment map: variable name → value, names non-empty without `=` or NUL.
pub(super) fn env_map(value: &Value) -> Result<BTreeMap<String, String>, FieldError> {
    let Value::Object(map) = value else {
        return Err(FieldError::expected(
            "an object of NAME → value strings",
            describe(value),
        ));
    };
    let mut out = BTreeMap::new();
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
        Err(FieldError::BadItems {
            rule: "map names to strings".into(),
            bad,
        })
    }
}

/// A file mode written as octal digits: `"0660"`, `"660"` or the number `660` (read as octal).
pub(super) fn octal_mode(value: &Value) -> Result<u32, FieldError> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        other => {
            return Err(FieldError::expected(
                "an octal mode like \"0660\"",
                describe(other),
            ));
        }
    };
    let digits = text.strip_prefix("0o").unwrap_or(&text);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err(FieldError::expected(
            "an octal mode from 0000 to 0777",
            quote(&text),
        )),
    }
}

/// User or group names, or numeric ids written as strings or numbers.
pub(super) fn principal_list(value: &Value) -> Result<Vec<String>, FieldError> {
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
pub(super) fn string_list(value: &Value) -> Result<Vec<String>, FieldError> {
    list(value, "strings", |item| item.as_str().map(str::to_string))
}

/// Action names: non-empty strings.
pub(super) fn action_list(value: &Value) -> Result<Vec<String>, FieldError> {
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
) -> Result<Vec<String>, FieldError> {
    let Value::Array(items) = value else {
        return Err(FieldError::expected(
            format!("an array of {what}"),
            describe(value),
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
        Err(FieldError::BadItems {
            rule: format!("be an array of {what}"),
            bad,
        })
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
