//! The smallest Rust program: `bench/run.sh` times its exec as the floor that `watchdogctl status`
//! is compared with (issue 15: `status` within 1.3 × this at N = 10). It lives in this crate so
//! that it is built with the workspace's release profile, like `watchdogctl`, and CI compiles it.

fn main() {}
