//! Which services the table lists, and in what order: the filter typed after `/` and the sort
//! chosen with `o`.
//!
//! A filter is words, all of which must match (case-insensitive): a word matches a service
//! whose key, name, health or state contains it; `unhealthy` matches every checked health but
//! `healthy`; `!word` matches where `word` does not. So `/api` lists the API services,
//! `/unhealthy` the ones to look at, `/!off` everything not turned off.

use protocol::{Health, ServiceStatus};

use super::model::{Entry, Model};
use super::tone::{self, Tone};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// By key.
    Key,
    /// Worst first: failing, then expected trouble, unchecked, healthy, off.
    Health,
    /// Oldest heartbeat first.
    Age,
}

impl Sort {
    pub fn next(self) -> Sort {
        match self {
            Sort::Key => Sort::Health,
            Sort::Health => Sort::Age,
            Sort::Age => Sort::Key,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Sort::Key => "key",
            Sort::Health => "health",
            Sort::Age => "age",
        }
    }
}

/// Whether `s` passes every word of `filter`.
pub fn matches(filter: &str, s: &ServiceStatus) -> bool {
    filter.split_whitespace().all(|word| {
        let word = word.to_lowercase();
        match word.strip_prefix('!') {
            Some(rest) if !rest.is_empty() => !matches_word(rest, s),
            Some(_) => true,
            None => matches_word(&word, s),
        }
    })
}

fn matches_word(word: &str, s: &ServiceStatus) -> bool {
    if word == "unhealthy" {
        return s.health.is_some_and(|h| h != Health::Healthy);
    }
    let health = s.health.map_or("unchecked", Health::as_str);
    [s.key.as_str(), &s.display_name, health, s.state.as_str()]
        .iter()
        .any(|field| field.to_lowercase().contains(word))
}

/// The rank of a row under [`Sort::Health`]: lower first.
fn badness(s: &ServiceStatus) -> u8 {
    match tone::health(s) {
        Tone::Bad => 0,
        Tone::Warn => 1,
        Tone::Plain | Tone::Strong => 2,
        Tone::Good => 3,
        Tone::Dim => 4,
    }
}

/// The rows to list, filtered and sorted (ties by key).
pub fn visible<'a>(model: &'a Model, filter: &str, sort: Sort, now_ms: i64) -> Vec<&'a Entry> {
    let mut rows: Vec<&Entry> = model
        .services
        .values()
        .filter(|e| matches(filter, &e.status))
        .collect();
    match sort {
        Sort::Key => {}
        Sort::Health => rows.sort_by_key(|e| badness(&e.status)),
        Sort::Age => rows.sort_by_key(|e| std::cmp::Reverse(e.age_ms(now_ms).unwrap_or(-1))),
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::model::tests::{reply, status};
    use protocol::ServiceState;

    fn model() -> Model {
        let mut off = status("batch", Some(Health::NoHeartbeat), 3, 0);
        off.state = ServiceState::Stopped;
        let mut old = status("worker", Some(Health::TimedOut), 4, 0);
        old.heartbeat_age_ms = Some(90_000);
        old.display_name = "Queue Worker".into();
        let mut m = Model::default();
        m.on_status(
            reply(vec![
                status("api", Some(Health::Healthy), 1, 0),
                status("api-admin", None, 2, 0),
                off,
                old,
            ]),
            0,
        );
        m
    }

    fn keys(rows: &[&Entry]) -> Vec<String> {
        rows.iter().map(|e| e.status.key.clone()).collect()
    }

    #[test]
    fn filters() {
        let m = model();
        let with = |f: &str| keys(&visible(&m, f, Sort::Key, 0));
        assert_eq!(with(""), ["api", "api-admin", "batch", "worker"]);
        assert_eq!(with("api"), ["api", "api-admin"]);
        assert_eq!(with("API !admin"), ["api"]);
        assert_eq!(with("unhealthy"), ["batch", "worker"]);
        assert_eq!(with("unhealthy !off"), ["worker"]);
        assert_eq!(with("timed"), ["worker"]);
        assert_eq!(with("queue"), ["worker"]);
        assert_eq!(with("unchecked"), ["api-admin"]);
        assert_eq!(with("!"), ["api", "api-admin", "batch", "worker"]);
        assert!(with("nothing-like-this").is_empty());
    }

    #[test]
    fn sorts() {
        let m = model();
        let by = |s: Sort| keys(&visible(&m, "", s, 0));
        assert_eq!(by(Sort::Health), ["worker", "api-admin", "api", "batch"]);
        assert_eq!(by(Sort::Age), ["worker", "api", "api-admin", "batch"]);
        assert_eq!(Sort::Key.next().next().next(), Sort::Key);
    }
}
