//! Running one job per host on a bounded number of threads.
//!
//! The client stays blocking and tokio-free: each job is an `ssh` child plus a blocking read, so
//! a thread per job in flight is the simplest correct tool. The bound keeps a fleet of hundreds
//! from opening hundreds of SSH connections (and file descriptors) at once. Results come back in
//! the order of the input, whatever order the jobs finish in, so output is deterministic.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Hosts queried at once unless `--max-parallel` says otherwise.
pub const DEFAULT_PARALLEL: usize = 16;

/// `job` applied to every item, at most `limit` at a time, results in input order.
pub fn map_bounded<T, R, F>(items: &[T], limit: usize, job: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let workers = limit.clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = job(item);
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                // Every index below `items.len()` was taken by exactly one worker, and `scope`
                // returns only after all of them finished (a panicking job re-panics above).
                .expect("every job ran")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn results_keep_the_input_order() {
        let items: Vec<u64> = (0..40).collect();
        // Later items finish first.
        let out = map_bounded(&items, 8, |&i| {
            std::thread::sleep(Duration::from_millis(40 - i));
            i * 10
        });
        assert_eq!(out, items.iter().map(|i| i * 10).collect::<Vec<_>>());
    }

    #[test]
    fn no_more_than_the_limit_run_at_once() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let items = vec![(); 30];
        map_bounded(&items, 4, |_| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(10));
            running.fetch_sub(1, Ordering::SeqCst);
        });
        assert_eq!(peak.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn in_parallel_it_takes_about_the_slowest_job() {
        let items = vec![(); 16];
        let started = std::time::Instant::now();
        map_bounded(&items, 16, |_| {
            std::thread::sleep(Duration::from_millis(200))
        });
        assert!(started.elapsed() < Duration::from_millis(1500));
    }

    #[test]
    fn empty_input_and_zero_limit_are_fine() {
        let none: Vec<u8> = Vec::new();
        assert!(map_bounded(&none, 16, |&x| x).is_empty());
        assert_eq!(map_bounded(&[1, 2], 0, |&x| x + 1), [2, 3]);
    }
}
