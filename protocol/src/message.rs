//! Requests `watchdogctl` sends and the responses `watchdogd` returns.
//!
//! These are wire types: plain structs and enums, no serde attributes that need a self-describing
//! format, times as integer milliseconds since the epoch. Variants are only ever appended.

//!
//! One file per job: [`request`] (what a client asks), [`response`] (what the daemon answers),
//! [`service`] (a service's status), [`pipeline`] (recoveries), [`history`] (audit log and live
//! events). Everything is re-exported here and at the crate root.

pub mod history;
pub mod pipeline;
pub mod request;
pub mod response;
pub mod service;

pub use history::{EventKind, EventRecord, HistoryEntry, HistoryKind};
pub use pipeline::{PipelineResult, StepOutcome, StepReport, Trigger};
pub use request::{
    HistoryRequest, MonitorRequest, Request, RunRequest, ToggleActionRequest, WaitRequest,
};
pub use response::{
    ActionReport, CheckReport, ErrorKind, ReloadReport, Response, ServiceDetail, StatusChanges,
    StatusReply, VersionReply, WaitOutcome, WaitReply,
};
pub use service::{Health, RecoverySummary, ServiceState, ServiceStatus};
