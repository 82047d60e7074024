//! The notify path per datagram: parsing `WATCHDOG=1`, and a whole `Slot::receive` (parse,
//! sender recognised by its pidfd, the slot updated) as the receiver task runs it for a
//! service pinging from one process; and a check's judgement of the slot. The sender is this
//! process, in the session the slot is told watchdogd started.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use watchdogd::notify_socket::message;
use watchdogd::notify_socket::sender::Credentials;
use watchdogd::notify_socket::slot::Slot;

fn slot() -> Arc<Slot> {
    let slot = Arc::new(Slot::new(
        "bench",
        "/run/watchdogd-notify/bench.sock".into(),
        None,
        Arc::new(|_| true),
    ));
    // The session this process is in plays the one watchdogd started.
    let sid = nix::unistd::getsid(None).unwrap().as_raw();
    slot.adopt_session(Some(watchdogd::session::Session {
        pid: sid,
        // Started when this process did: the process counts as one of the session's.
        at_us: watchdogd::proc_facts::start_time_us(std::process::id() as i32).unwrap(),
        at_step_us: 0,
        ticks: None,
    }));
    slot
}

fn bench(c: &mut Criterion) {
    c.bench_function("notify/parse WATCHDOG=1", |b| {
        b.iter(|| message::parse(black_box(b"WATCHDOG=1\n")))
    });
    c.bench_function("notify/parse READY=1 STATUS MAINPID", |b| {
        b.iter(|| {
            message::parse(black_box(
                b"READY=1\nSTATUS=serving 3 clients\nMAINPID=4242\n",
            ))
        })
    });
    let slot = slot();
    let me = Credentials {
        pid: std::process::id() as i32,
        uid: nix::unistd::geteuid().as_raw(),
    };
    // The first message reads /proc and opens the pidfd; every later one is the hot path.
    slot.receive(me, b"READY=1\n", false);
    assert_eq!(
        slot.counts().accepted,
        1,
        "the bench process is not accepted"
    );
    c.bench_function("notify/receive WATCHDOG=1 (known sender)", |b| {
        b.iter(|| slot.receive(me, black_box(b"WATCHDOG=1\n"), false))
    });
    assert_eq!(slot.counts().dropped, 0);
    let cfg = {
        let text = r#"{"processes": {"bench": {"heartbeat": "notify", "timeout_seconds": 5, "commands": {"start": "true"}}}}"#;
        watchdogd::config::parse(text, std::path::Path::new("/tmp/config.json"))
            .unwrap()
            .config
            .processes["bench"]
            .clone()
    };
    let known = watchdogd::probe::Known::default();
    c.bench_function("notify/judge the slot (one check)", |b| {
        b.iter(|| {
            let now = watchdogd::clock::Now::read();
            watchdogd::notify_socket::judge(&slot, &cfg, &known, &now)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
