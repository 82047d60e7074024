//! The hot path of a check: read + parse + classify one heartbeat, and one tick (a batch of
//! checks, as the supervisor dispatches them) over N services, with and without the unchanged-
//! file cache. Heartbeats name this process, so the liveness probe does its real work.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use watchdogd::config;
use watchdogd::probe::{Job, check_batch};

fn write_heartbeats(dir: &Path, n: usize) -> Vec<Arc<config::ProcessConfig>> {
    let mut processes = serde_json::Map::new();
    for i in 0..n {
        let path = dir.join(format!("s{i}.json"));
        protocol::HeartbeatWriter::new(&path, format!("s{i}"))
            .beat("running")
            .unwrap();
        processes.insert(
            format!("s{i}"),
            serde_json::json!({"timeout_seconds": 3600, "heartbeat_path": path, "commands": {"start": "true"}}),
        );
    }
    let text = serde_json::json!({ "processes": processes }).to_string();
    let loaded = config::parse(&text, &dir.join("config.json")).unwrap();
    loaded.config.processes.into_values().collect()
}

fn jobs(
    cfgs: &[Arc<config::ProcessConfig>],
    caches: &mut [Option<watchdogd::heartbeat::Beat>],
) -> Vec<Job> {
    cfgs.iter()
        .zip(caches.iter_mut())
        .enumerate()
        .map(|(idx, (cfg, cache))| Job {
            idx,
            epoch: 0,
            cfg: cfg.clone(),
            known: Default::default(),
            cache: cache.take(),
            changed: false,
        })
        .collect()
}

fn one_check(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let cfgs = write_heartbeats(dir.path(), 1);
    let cfg = &cfgs[0];
    let path = cfg.heartbeat_path.clone().expect("a file heartbeat");
    let mut buf = Vec::new();
    c.bench_function("check/read_parse_classify", |b| {
        b.iter(|| {
            let reading = watchdogd::heartbeat::read(black_box(&path), &mut buf, None);
            watchdogd::probe::judge(
                &reading,
                cfg,
                &Default::default(),
                &watchdogd::clock::Now::read(),
            )
        })
    });
}

fn one_tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick");
    group.measurement_time(Duration::from_secs(5));
    for n in [100, 1_000, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        let cfgs = write_heartbeats(dir.path(), n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("cold", n), &cfgs, |b, cfgs| {
            let mut none = vec![None; cfgs.len()];
            b.iter(|| check_batch(jobs(cfgs, &mut none)))
        });
        group.bench_with_input(
            BenchmarkId::new("unchanged_files_cached", n),
            &cfgs,
            |b, cfgs| {
                let mut caches: Vec<_> = check_batch(jobs(cfgs, &mut vec![None; cfgs.len()]))
                    .0
                    .into_iter()
                    .map(|p| p.cache)
                    .collect();
                b.iter(|| {
                    let (probes, _) = check_batch(jobs(cfgs, &mut caches));
                    for (slot, probe) in caches.iter_mut().zip(probes) {
                        *slot = probe.cache;
                    }
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, one_check, one_tick);
criterion_main!(benches);
