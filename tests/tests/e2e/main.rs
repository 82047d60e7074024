//! End-to-end tests: the real `watchdogd`, real heartbeat-writing services, the real
//! `watchdogctl`. One integration target, a module per feature.

mod config;
mod contrib;
mod control;
mod crash;
mod daemon;
mod hostile_heartbeat;
mod hostile_socket;
mod mechanisms;
mod operator;
mod recovery;
mod reload;
mod safety;
mod security;

use watchdog_tests::Sandbox;

/// A sandbox whose services run this package's test service binary.
pub fn sandbox() -> Sandbox {
    Sandbox::new(env!("CARGO_BIN_EXE_wd-test-service"))
}
