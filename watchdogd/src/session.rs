//! A session watchdogd started for a service: the start shell leads it, and its process group is
//! what `kill` stops and whose members may speak for the service on its notify socket. Made by
//! the `start` step ([`crate::pipeline`]), kept by the owner, read by the notify sockets
//! ([`crate::notify_socket`]).

/// A session watchdogd started: its leader and when it started, by the wall clock (with the
/// clock's step then, see [`crate::clock`]) and by the kernel's start time of the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// The leader (the start shell): also the session's and its process group's number.
    pub pid: i32,
    /// When it was started, µs since the epoch by the wall clock then.
    pub at_us: i64,
    /// The wall clock's step then ([`crate::clock::step_us`]), to correct `at_us` later.
    pub at_step_us: i64,
    /// The kernel's start of the leader (ticks after boot), where `/proc` tells.
    pub ticks: Option<i64>,
}

impl Session {
    /// When it was started, on the wall clock as it runs at `now`.
    pub fn at_us_now(&self, now: &crate::clock::Now) -> i64 {
        self.at_us.saturating_add(now.shift_since(self.at_step_us))
    }
}
