//! What reading a config found, gathered rather than returned: every reader adds to one
//! [`Findings`] and carries on, which is what lets a load report every problem at once.

/// What reading found: `problems` make the config unusable, `warnings` don't.
#[derive(Debug, Default)]
pub(super) struct Findings {
    /// Each names its field: `processes.api.timeout_seconds: …`.
    pub(super) problems: Vec<String>,
    /// The same, for what loads anyway (unknown fields, deprecated ones, …).
    pub(super) warnings: Vec<String>,
}
