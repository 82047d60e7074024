//! What a service has done since the daemon started, counted for metrics: kept by the service,
//! copied into each published snapshot.

/// Counters of one service since the daemon started (for metrics).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceCounters {
    /// Pipelines by result: succeeded, warned, failed, skipped.
    pub recoveries: [u64; 4],
    pub last_recovery_duration_ms: Option<i64>,
    /// Notify datagrams by outcome, for a service that speaks notify.
    pub notify: Option<crate::notify_socket::Counts>,
}
