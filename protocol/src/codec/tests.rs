//! Golden bytes (a failure means the wire format changed: bump `PROTOCOL_VERSION`), round
//! trips, and hostile input (garbage, forged lengths, random streams) that must never panic.

use super::*;
use crate::message::*;

#[test]
fn a_status_view_encodes_byte_for_byte_as_the_owned_reply() {
    use std::sync::Arc;
    let service = |key: &str| crate::ServiceStatus {
        key: key.into(),
        display_name: format!("Service {key}"),
        enabled: true,
        state: crate::ServiceState::Running,
        health: Some(crate::Health::Healthy),
        pid: Some(4242),
        heartbeat_age_ms: Some(120),
        consecutive_failures: 0,
        last_check_ms: Some(1_770_000_000_000),
        last_recovery: None,
        detail: "pid 4242 beating".into(),
        clock_skew_ms: None,
        restarts_in_window: 1,
        next_attempt_ms: None,
        off_until_ms: None,
        monitoring_override: Some(false),
        actions_disabled: vec!["clear_db".into()],
        status_text: Some("serving".into()),
    };
    let services: Vec<Arc<crate::ServiceStatus>> = ["a", "b", "c"]
        .iter()
        .map(|k| Arc::new(service(k)))
        .collect();
    let owned = Response::Status(crate::StatusReply {
        daemon_version: "1.2.3".into(),
        daemon_pid: 77,
        services: services.iter().map(|s| (**s).clone()).collect(),
        audit_rows_dropped: 5,
        daemon_started_ms: 1_769_999_999_000,
    });
    let view = StatusView {
        daemon_version: "1.2.3",
        daemon_pid: 77,
        services: &services,
        audit_rows_dropped: 5,
        daemon_started_ms: 1_769_999_999_000,
    };
    let bytes = encode_status(&view).unwrap();
    assert_eq!(bytes, encode_response(&owned).unwrap());
    assert_eq!(decode_response(&bytes).unwrap(), owned);
}

fn sample_status() -> ServiceStatus {
    ServiceStatus {
        key: "api".into(),
        display_name: "API".into(),
        enabled: true,
        state: ServiceState::Running,
        health: Some(Health::Healthy),
        pid: Some(4242),
        heartbeat_age_ms: Some(1500),
        consecutive_failures: 0,
        last_check_ms: Some(1_770_272_249_601),
        last_recovery: None,
        detail: "ok".into(),
        clock_skew_ms: None,
        restarts_in_window: 0,
        next_attempt_ms: None,
        off_until_ms: None,
        monitoring_override: Some(false),
        actions_disabled: vec!["clear_db".into()],
        status_text: Some("serving".into()),
    }
}

#[test]
fn request_round_trips_every_variant() {
    let all = [
        Request::Status { key: None },
        Request::Status {
            key: Some("api".into()),
        },
        Request::On { key: "api".into() },
        Request::Off { key: "api".into() },
        Request::Restart { key: "api".into() },
        Request::StartAll,
        Request::StopAll,
        Request::Check,
        WaitRequest {
            key: "api".into(),
            timeout_ms: 5000,
            not_pid: Some(7),
        }
        .into(),
    ];
    for req in all {
        let bytes = encode_request(&req).unwrap();
        assert_eq!(decode_request(&bytes).unwrap(), req);
    }
}

/// Golden bytes: if this fails, the wire format changed; bump PROTOCOL_VERSION and update.
#[test]
fn golden_request_bytes() {
    let header_len = encode_request(&Request::StartAll).unwrap().len() - 1;
    let body = |r: &Request| encode_request(r).unwrap()[header_len..].to_vec();
    assert_eq!(body(&Request::Status { key: None }), vec![0, 0]);
    assert_eq!(
        body(&Request::Status {
            key: Some("a".into())
        }),
        vec![0, 1, 1, b'a']
    );
    assert_eq!(body(&Request::On { key: "a".into() }), vec![1, 1, b'a']);
    assert_eq!(body(&Request::Off { key: "a".into() }), vec![2, 1, b'a']);
    assert_eq!(
        body(&Request::Restart { key: "a".into() }),
        vec![3, 1, b'a']
    );
    assert_eq!(body(&Request::StartAll), vec![4]);
    assert_eq!(body(&Request::StopAll), vec![5]);
    assert_eq!(body(&Request::Check), vec![6]);
    let wait = WaitRequest {
        key: "a".into(),
        timeout_ms: 1,
        not_pid: None,
    };
    assert_eq!(body(&wait.into()), vec![7, 1, b'a', 1, 0]);
    assert_eq!(body(&Request::Reload), vec![8]);
    assert_eq!(
        body(&Request::OffFor {
            key: "a".into(),
            for_ms: 1
        }),
        vec![9, 1, b'a', 1]
    );
    let history = HistoryRequest {
        key: None,
        limit: 2,
        since_ms: None,
    };
    assert_eq!(body(&history.into()), vec![10, 0, 2, 0]);
    assert_eq!(body(&Request::Events), vec![11]);
    assert_eq!(
        body(&Request::Detail { key: "a".into() }),
        vec![12, 1, b'a']
    );
    assert_eq!(body(&Request::Metrics), vec![13]);
    assert_eq!(body(&Request::Version), vec![14]);
    let run = RunRequest {
        key: None,
        action: "a".into(),
    };
    assert_eq!(body(&run.into()), vec![15, 0, 1, b'a']);
    assert_eq!(body(&Request::RestartAll), vec![16]);
    let monitor = MonitorRequest {
        key: "a".into(),
        enabled: false,
    };
    assert_eq!(body(&monitor.into()), vec![17, 1, b'a', 0]);
    let toggle = ToggleActionRequest {
        key: "a".into(),
        action: "b".into(),
        enabled: true,
    };
    assert_eq!(body(&toggle.into()), vec![18, 1, b'a', 1, b'b', 1]);
    assert_eq!(body(&Request::Watch), vec![19]);
    // The frozen header: magic (varint u32 > 2^16 → 0xfc + 4 LE bytes), protocol, version.
    let full = encode_request(&Request::StartAll).unwrap();
    assert_eq!(&full[..5], &[0xfc, b'G', b'O', b'D', b'W']);
    assert_eq!(full[5], PROTOCOL_VERSION as u8);
}

#[test]
fn golden_error_response_is_variant_zero() {
    let bytes = encode_response(&Response::Error {
        kind: ErrorKind::UnknownKey,
        message: "x".into(),
    })
    .unwrap();
    assert_eq!(bytes, vec![0, 2, 1, b'x']);
}

/// Golden bytes of the newest reply: variant 12, then its fields in order.
#[test]
fn golden_changes_response() {
    let bytes = encode_response(&Response::Changes(StatusChanges {
        services: vec![],
        removed: vec!["a".into()],
        audit_rows_dropped: 3,
    }))
    .unwrap();
    assert_eq!(bytes, vec![12, 0, 1, 1, b'a', 3]);
}

#[test]
fn response_round_trips() {
    let all = [
        Response::Status(StatusReply {
            daemon_version: "0.1.0".into(),
            daemon_pid: 1,
            services: vec![sample_status()],
            audit_rows_dropped: 3,
            daemon_started_ms: 5,
        }),
        Response::Check(CheckReport {
            status: StatusReply {
                daemon_version: "0.1.0".into(),
                daemon_pid: 1,
                services: vec![sample_status()],
                audit_rows_dropped: 0,
                daemon_started_ms: 5,
            },
            recoveries: vec![],
        }),
        Response::Action(ActionReport {
            key: "api".into(),
            result: PipelineResult::Warned,
            message: "recovered".into(),
            steps: vec![StepReport {
                action: "clear_db".into(),
                outcome: StepOutcome::Warned,
                message: "exit 1".into(),
                duration_ms: 3,
            }],
            old_pid: Some(9),
        }),
        Response::Bulk(vec![]),
        Response::Changes(StatusChanges {
            services: vec![sample_status()],
            removed: vec!["old".into()],
            audit_rows_dropped: 7,
        }),
        Response::Wait(WaitReply {
            outcome: WaitOutcome::TimedOut,
            status: sample_status(),
        }),
    ];
    for resp in all {
        let bytes = encode_response(&resp).unwrap();
        assert_eq!(decode_response(&bytes).unwrap(), resp);
    }
}

#[test]
fn version_mismatch_is_named_before_the_body_is_read() {
    let mut header = RequestHeader::current();
    header.protocol = 99;
    let mut bytes = bincode::serde::encode_to_vec(&header, request_config()).unwrap();
    bytes.extend_from_slice(&[200, 200, 200]); // a body this version cannot read
    match decode_request(&bytes) {
        Err(CodecError::VersionMismatch {
            client: 99,
            daemon: PROTOCOL_VERSION,
            ..
        }) => {}
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn garbage_and_forged_lengths_are_errors_not_aborts() {
    // A header whose version string claims 2^40 bytes.
    let mut forged = vec![0xfc];
    forged.extend_from_slice(&MAGIC.to_le_bytes());
    forged.push(1);
    forged.push(0xfd);
    forged.extend_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(decode_request(&forged).is_err());
    assert!(decode_request(&[]).is_err());
    assert!(decode_request(&[0xff; 64]).is_err());
    assert!(decode_response(&[9, 9, 9]).is_err());
    let mut trailing = encode_request(&Request::Check).unwrap();
    trailing.push(0);
    assert!(matches!(
        decode_request(&trailing),
        Err(CodecError::TrailingBytes(1))
    ));
}

#[test]
fn random_bytes_never_panic() {
    // A small deterministic xorshift: every length 0..512, several seeds.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for len in 0..512 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = decode_request(&bytes);
        let _ = decode_response(&bytes);
    }
}

/// A property test of the whole read path (frame decoder, then request decoding) over
/// random byte streams, including random length prefixes: no panic, no abort, and no
/// allocation beyond the frame limit (a forged length is refused before reading).
#[test]
fn random_streams_through_frames_and_requests_never_panic() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..4000 {
        let len = (next() % 300) as usize;
        let mut stream: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 3 == 0 && stream.len() >= 4 {
            // A plausible small length prefix, so that payloads reach the decoder.
            let n = (next() % 64) as u32;
            stream[..4].copy_from_slice(&n.to_be_bytes());
        }
        let mut reader = stream.as_slice();
        while let Ok(frame) = read_frame(&mut reader, MAX_REQUEST_FRAME) {
            assert!(frame.len() <= MAX_REQUEST_FRAME);
            let _ = decode_request(&frame);
        }
    }
}

#[test]
fn frames_refuse_oversized_lengths_before_allocating() {
    let mut buf = Vec::new();
    write_frame(&mut buf, b"hello").unwrap();
    assert_eq!(&buf[..4], &[0, 0, 0, 5]);
    assert_eq!(read_frame(&mut buf.as_slice(), 16).unwrap(), b"hello");
    let huge = [0xff, 0xff, 0xff, 0xff];
    assert!(matches!(
        read_frame(&mut huge.as_slice(), MAX_RESPONSE_FRAME),
        Err(CodecError::FrameTooLarge { .. })
    ));
    let truncated = [0, 0, 0, 9, 1, 2];
    assert!(matches!(
        read_frame(&mut truncated.as_slice(), 16),
        Err(CodecError::Io(_))
    ));
}
