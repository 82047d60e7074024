use super::*;
use crate::heartbeat::Reading;
use crate::proc_facts;

/// This test process plays the service: its own session is the one "watchdogd started".
fn own_session() -> Session {
    Session {
        pid: nix::unistd::getsid(None).unwrap().as_raw(),
        // Started when this process did: the process counts as one of the session's.
        at_us: proc_facts::start_time_us(std::process::id() as i32).unwrap(),
        at_step_us: 0,
        ticks: None,
    }
}

fn me() -> Credentials {
    Credentials {
        pid: std::process::id() as i32,
        uid: crate::guard::daemon_uid(),
    }
}

fn slot(uid: Option<u32>) -> Arc<Slot> {
    Arc::new(Slot::new("k", "/n/k.sock".into(), uid, Arc::new(|_| true)))
}

#[test]
fn a_beat_from_the_service_reads_as_a_fresh_heartbeat() {
    let slot = slot(None);
    let (never, _) = slot.reading(Duration::from_secs(5));
    assert!(
        matches!(&never, Reading::Corrupt(why) if why.contains("no READY=1")),
        "{never:?}"
    );
    slot.adopt_session(Some(own_session()));
    slot.receive(me(), b"READY=1\nSTATUS=serving", false);
    assert_eq!(slot.counts().accepted, 1);
    assert_eq!(
        slot.take_news(),
        News {
            status: Some(Some("serving".into())),
            check: true
        }
    );
    assert!(slot.is_ready());
    let (Reading::Beat(beat), timeout) = slot.reading(Duration::from_secs(5)) else {
        panic!()
    };
    assert_eq!(timeout, Duration::from_secs(5));
    assert_eq!(beat.heartbeat.status, "running");
    assert_eq!(beat.heartbeat.iteration, Some(1));
    assert!(protocol::time::now_micros() - beat.heartbeat.timestamp_us < 5_000_000);
    // Pings are no news; the service's own timeout and a trigger are.
    slot.receive(me(), b"WATCHDOG=1", false);
    assert_eq!(slot.take_news(), News::default());
    slot.receive(me(), b"WATCHDOG_USEC=1500000", false);
    assert!(slot.take_news().check);
    let (Reading::Beat(beat), timeout) = slot.reading(Duration::from_secs(5)) else {
        panic!()
    };
    assert_eq!(
        (beat.heartbeat.iteration, timeout),
        (Some(2), Duration::from_millis(1500))
    );
    slot.receive(me(), b"WATCHDOG=trigger", false);
    let (Reading::Beat(beat), _) = slot.reading(Duration::from_secs(5)) else {
        panic!()
    };
    assert_eq!(beat.heartbeat.status, "WATCHDOG=trigger");
    assert_eq!(slot.counts().dropped, 0);
}

#[test]
fn others_are_dropped_and_malformed_datagrams_counted() {
    let mine = crate::guard::daemon_uid();
    let slot = slot(Some(mine));
    slot.adopt_session(Some(own_session()));
    let stranger = Credentials {
        pid: me().pid,
        uid: mine + 1,
    };
    slot.receive(stranger, b"WATCHDOG=1", false);
    slot.receive(me(), b"\xff", false);
    slot.receive(me(), b"READY=1", true);
    assert_eq!(
        slot.counts(),
        Counts {
            accepted: 0,
            dropped: 1,
            malformed: 2
        }
    );
    assert!(slot.take_news().check, "the counters are news");
    let (reading, _) = slot.reading(Duration::from_secs(5));
    assert!(matches!(reading, Reading::Corrupt(_)), "nothing was taken");
}

#[test]
fn a_start_keeps_what_comes_before_its_session_is_known() {
    let slot = slot(None);
    slot.begin_start();
    slot.receive(me(), b"READY=1", false);
    assert_eq!(slot.counts(), Counts::default(), "kept, not yet judged");
    assert!(!slot.is_ready());
    slot.started(Some(own_session()));
    assert!(slot.is_ready());
    assert_eq!(slot.counts().accepted, 1);
    // A new start forgets what the old process said.
    slot.begin_start();
    slot.started(None);
    assert!(!slot.is_ready());
    assert!(matches!(
        slot.reading(Duration::from_secs(1)).0,
        Reading::Corrupt(_)
    ));
}
