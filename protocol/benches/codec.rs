//! Encoding and decoding a status reply of N rows: what every `watchdogctl status` costs the
//! daemon (encode) and the client (decode).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use protocol::codec::{decode_response, encode_response};
use protocol::{Health, Response, ServiceState, ServiceStatus, StatusReply};

fn reply(n: usize) -> Response {
    let services = (0..n)
        .map(|i| ServiceStatus {
            key: format!("service-{i:05}"),
            display_name: format!("Service number {i}"),
            enabled: true,
            state: ServiceState::Running,
            health: Some(Health::Healthy),
            pid: Some(10_000 + i as u32),
            heartbeat_age_ms: Some(420),
            consecutive_failures: 0,
            last_check_ms: Some(1_770_272_249_601),
            last_recovery: None,
            detail: format!("pid {} beating, iteration {i}", 10_000 + i),
            clock_skew_ms: None,
            restarts_in_window: 0,
            next_attempt_ms: None,
            off_until_ms: None,
            monitoring_override: None,
            actions_disabled: Vec::new(),
            status_text: None,
        })
        .collect();
    Response::Status(StatusReply {
        daemon_version: "0.1.0".into(),
        daemon_pid: 1,
        services,
        audit_rows_dropped: 0,
        daemon_started_ms: 0,
    })
}

fn status_reply(c: &mut Criterion) {
    let mut group = c.benchmark_group("status_reply");
    for n in [10, 500, 10_000] {
        let msg = reply(n);
        let bytes = encode_response(&msg).unwrap();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("encode", n), &msg, |b, m| {
            b.iter(|| encode_response(black_box(m)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("decode", n), &bytes, |b, bytes| {
            b.iter(|| decode_response(black_box(bytes)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, status_reply);
criterion_main!(benches);
