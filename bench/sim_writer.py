#!/usr/bin/env python3
"""Simulated services for the whole-system benchmark: ONE process keeps N heartbeat files fresh.

    sim_writer.py DIR N INTERVAL_MS [--first K] [--ready FILE] [--stats FILE]
                  [--control CTLDIR --paused FILE]

Writes DIR/s{K}.json .. DIR/s{K+N-1}.json (process_key "s{i}"), every one naming this process's
PID, so watchdogd does the same per-service work (read, parse, PID liveness, age) as for N real
services without N processes. Each file is rewritten once per INTERVAL_MS, atomically (a temp
file in DIR, then os.replace), and the N writes are spread evenly over the interval in small
slices instead of one burst.

The first round is written at once; then FILE (--ready) is created, so a caller can start the
daemon only when every heartbeat exists. On SIGTERM/SIGINT, and every 10 s, the writer's own cost
goes to --stats FILE (JSON: cpu seconds, writes, how late it ran): if `max_lag_ms` grows towards
the services' timeout, this machine cannot keep up and the interval must be longer.

Storms (--control): SIGUSR1 stops the heartbeats of every key at once (the services go stale
together, the writer itself stays alive). A file CTLDIR/s{i} brings key s{i} back: the writer
looks into CTLDIR every slice (1/50 s), writes that key's heartbeat at once, beats it again from
then on and deletes the file. The services' `start` command is `: > CTLDIR/s{i}`, a shell
builtin, so a recovery costs the daemon one `bash -c` and the writer one unlink. FILE (--paused)
always holds the number of stopped keys (written atomically whenever it changes), so a caller
knows when every key has been started again.
"""

import argparse
import datetime
import json
import os
import signal
import sys
import time

# Slices per interval: each slice writes N/SLICES files, then sleeps until the next one.
SLICES_PER_SECOND = 50


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("n", type=int)
    ap.add_argument("interval_ms", type=int)
    ap.add_argument("--first", type=int, default=0, help="number of the first key (default 0)")
    ap.add_argument("--ready", help="create this file once the first round is written")
    ap.add_argument("--stats", help="write cost statistics (JSON) here")
    ap.add_argument("--control", help="folder of start requests (one empty file per key)")
    ap.add_argument("--paused", help="keep the number of stopped keys in this file")
    args = ap.parse_args()
    if args.n < 0 or args.interval_ms <= 0:
        ap.error("N must be >= 0 and INTERVAL_MS > 0")
    if bool(args.control) != bool(args.paused):
        ap.error("--control and --paused go together")

    os.makedirs(args.dir, exist_ok=True)
    pid = os.getpid()
    keys = [f"s{i}" for i in range(args.first, args.first + args.n)]
    paths = [os.path.join(args.dir, k + ".json") for k in keys]
    # One temp name per file: this process is the only writer, so no two writes share one.
    tmps = [os.path.join(args.dir, "." + k + ".json.tmp") for k in keys]
    # Everything but the timestamp and the iteration is fixed: build it once.
    heads = [('{"process_key": "%s", "pid": %d, "timestamp": "' % (k, pid)) for k in keys]
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)

    stop = False

    def on_signal(_sig, _frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # Storm support: keys whose heartbeats are stopped, and the request to stop all of them.
    paused = [False] * args.n
    index = {k: i for i, k in enumerate(keys)}
    pause_all = False
    npaused_written = None

    def on_pause(_sig, _frame):
        nonlocal pause_all
        pause_all = True

    if args.control:
        os.makedirs(args.control, exist_ok=True)
        signal.signal(signal.SIGUSR1, on_pause)

    writes = 0
    max_lag = 0.0
    started = time.monotonic()
    cpu0 = time.process_time()

    def write_one(i: int, iteration: int, stamp: str) -> None:
        nonlocal writes
        data = ('%s%s", "status": "running", "iteration": %d}' % (heads[i], stamp, iteration)).encode()
        fd = os.open(tmps[i], flags, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmps[i], paths[i])
        writes += 1

    def now_stamp() -> str:
        return datetime.datetime.now(datetime.timezone.utc).isoformat()

    def dump_stats() -> None:
        if not args.stats:
            return
        elapsed = time.monotonic() - started
        cpu = time.process_time() - cpu0
        stats = {
            "pid": pid,
            "files": args.n,
            "interval_ms": args.interval_ms,
            "elapsed_s": round(elapsed, 3),
            "cpu_s": round(cpu, 3),
            "cpu_percent": round(100.0 * cpu / elapsed, 2) if elapsed > 0 else 0.0,
            "writes": writes,
            "writes_per_s": round(writes / elapsed, 1) if elapsed > 0 else 0.0,
            "max_lag_ms": round(max_lag * 1000.0, 1),
        }
        tmp = args.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(stats, f)
        os.replace(tmp, args.stats)

    def write_paused(count: int) -> None:
        nonlocal npaused_written
        if count == npaused_written:
            return
        tmp = args.paused + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % count)
        os.replace(tmp, args.paused)
        npaused_written = count

    def storm_turn(iteration: int) -> None:
        """Applies a pending SIGUSR1 and the start requests waiting in the control folder."""
        nonlocal pause_all
        if pause_all:
            pause_all = False
            for i in range(args.n):
                paused[i] = True
        resumed = []
        with os.scandir(args.control) as it:
            for entry in it:
                i = index.get(entry.name)
                if i is not None:
                    resumed.append((i, entry.path))
        if resumed:
            stamp = now_stamp()
            for i, path in resumed:
                paused[i] = False
                write_one(i, iteration, stamp)
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        write_paused(paused.count(True))

    # Round 1 at once, so that every heartbeat exists before the daemon starts.
    stamp = now_stamp()
    for i in range(args.n):
        write_one(i, 1, stamp)
    if args.control:
        write_paused(0)
    if args.ready:
        open(args.ready, "w").close()

    interval = args.interval_ms / 1000.0
    slices = max(1, min(args.n, int(round(SLICES_PER_SECOND * interval))))
    slice_len = interval / slices
    # File i is written in slice (i * slices) // n of each round.
    bounds = [(s * args.n) // slices for s in range(slices + 1)]
    iteration = 1
    next_stats = time.monotonic() + 10.0
    deadline = time.monotonic()
    while not stop:
        iteration += 1
        for s in range(slices):
            deadline += slice_len
            now = time.monotonic()
            if deadline > now:
                time.sleep(deadline - now)
            else:
                max_lag = max(max_lag, now - deadline)
            if stop:
                break
            if args.control:
                storm_turn(iteration)
            stamp = now_stamp()
            for i in range(bounds[s], bounds[s + 1]):
                if not paused[i]:
                    write_one(i, iteration, stamp)
        if time.monotonic() >= next_stats:
            dump_stats()
            next_stats += 10.0
    dump_stats()
    return 0


if __name__ == "__main__":
    sys.exit(main())
