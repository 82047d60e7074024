#!/usr/bin/env bash
# Whole-system benchmark of watchdogd + watchdogctl (issues 6 and 15).
#
#   bench/run.sh [N...]          default: 10 500 10000
#   BENCH_QUICK=1 bench/run.sh 10 500     short windows and few trials: a check that the script
#                                         works, not figures to commit (a couple of minutes)
#
# For each N: generates a config of N services (1 s check interval, threshold 1), starts the real
# daemon on it and measures it from the outside (hyperfine, /proc/PID/status, /proc/PID/stat,
# sqlite3). s0 is always a real process (wd-test-service, a heartbeat every 100 ms, timeout 3 s);
# for N <= BENCH_REAL_MAX (500) every service is real, above that s1.. are simulated by ONE
# bench/sim_writer.py process that keeps their heartbeat files fresh, all naming its own PID.
# Then the same N again with the heartbeat files on a disk file system, for the CPU only.
# Prints two markdown tables and writes them, with the machine's description, to
# bench/results/YYYY-MM-DD-HHMM-<hostname>.md. bench/README.md explains every column.
#
# Environment (all optional; bench/README.md has the full table):
#   WATCHDOG_BIN_DIR=DIR      use the watchdogd/watchdogctl/wd-test-service/wd-noop binaries in DIR
#                             instead of building this checkout (cargo build --release)
#   BENCH_REV=TEXT            what those binaries were built from (goes into the results file)
#   BENCH_STATIC=1            build and measure a statically linked build (glibc crt-static) in
#                             target/static instead of the default (dynamic) release build
#   BENCH_QUICK=1             windows 5 s, 2 kills, 1 hang, 2 adoptions, 20 timed runs
#   BENCH_WINDOW_S=30         length of the CPU window and of the tick-sampling window
#   BENCH_KILLS=5 BENCH_HANGS=3 BENCH_ADOPTS=5   trials (only for N <= 500)
#   BENCH_RUNS=50             timed runs of each client command
#   BENCH_REAL_MAX=500        largest N whose services are all real processes
#   BENCH_STORM=1             0 skips the storm
#   BENCH_SIM_INTERVAL_MS=1000 BENCH_SIM_TIMEOUT_S=5   heartbeat interval and timeout_seconds of
#                             every service but s0
#   BENCH_HB_BASE=/dev/shm    where the heartbeat files go (a tmpfs); "" → the run's folder
#   BENCH_DISK_BASE=/var/tmp  where they go for the disk CPU row; "" skips it
#   BENCH_TIMER=hyperfine|loop   what times the clients (default hyperfine, installed with apt-get
#                             when missing and root; else bench/probe.py's own loop)
#   BENCH_KEEP=1              keep each run's temp folder (config, daemon log, database, traces)
#   BENCH_RESULTS_DIR=DIR     where the results file goes (default bench/results)
#
# Everything it starts is stopped by PID (never by name) when it ends or is interrupted; every
# call to the daemon has a deadline, so a daemon that stops answering fails the run instead of
# hanging it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PROBE=$HERE/probe.py
SIM=$HERE/sim_writer.py

if [ $# -gt 0 ]; then SIZES=("$@"); else SIZES=(10 500 10000); fi
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
    d_window=5 d_kills=2 d_hangs=1 d_adopts=2 d_runs=20 d_warmup=3
else
    d_window=30 d_kills=5 d_hangs=3 d_adopts=5 d_runs=50 d_warmup=5
fi
WINDOW_S=${BENCH_WINDOW_S:-$d_window}
KILLS=${BENCH_KILLS:-$d_kills}
HANGS=${BENCH_HANGS:-$d_hangs}
ADOPTS=${BENCH_ADOPTS:-$d_adopts}
RUNS=${BENCH_RUNS:-$d_runs}
WARMUP=$d_warmup
REAL_MAX=${BENCH_REAL_MAX:-500}
STORM=${BENCH_STORM:-1}
SIM_INTERVAL_MS=${BENCH_SIM_INTERVAL_MS:-1000}
SIM_TIMEOUT_S=${BENCH_SIM_TIMEOUT_S:-5}
RESULTS_DIR=${BENCH_RESULTS_DIR:-$HERE/results}
HB_BASE=${BENCH_HB_BASE-/dev/shm}
if [ -n "$HB_BASE" ] && ! { [ -d "$HB_BASE" ] && [ -w "$HB_BASE" ]; }; then HB_BASE=""; fi
DISK_BASE=${BENCH_DISK_BASE-/var/tmp}
if [ -n "$DISK_BASE" ] && ! { [ -d "$DISK_BASE" ] && [ -w "$DISK_BASE" ]; }; then
    echo "run.sh: $DISK_BASE is not a writable folder: no disk row" >&2
    DISK_BASE=""
fi
LATENCY_MAX=500       # N up to this: kill -9, hang and adoption trials
# After a trial, s0 healthy again, wait past its start grace (= its timeout_seconds, 3 s) before
# the next one: a kill inside the grace measures the grace, not the daemon's reaction.
SETTLE_S=3.5
PEAK_CALLS=20         # status --json calls (then one start-all) before the peak RSS is read
STORM_PERIOD_MS=50    # one `status` call every this many ms during a storm...
STORM_CALL_TIMEOUT_S=10   # ...each cut off after this long (counts as this long)
STORM_TIMEOUT_S=${BENCH_STORM_TIMEOUT_S:-600}
CALL_TIMEOUT_S=120    # any other single watchdogctl call
CLK_TCK=$(getconf CLK_TCK)

for n in "${SIZES[@]}"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: N must be a positive integer, got '$n'" >&2; exit 2; }
done

# --- tools ---------------------------------------------------------------------------------
command -v python3 >/dev/null 2>&1 || { echo "run.sh: python3 is missing" >&2; exit 1; }
python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))' \
    || { echo "run.sh: python3 3.9 or newer is needed" >&2; exit 1; }
TIMER=${BENCH_TIMER:-hyperfine}
case $TIMER in hyperfine | loop) ;; *) echo "run.sh: BENCH_TIMER is hyperfine or loop" >&2; exit 2 ;; esac
if [ "$TIMER" = hyperfine ] && ! command -v hyperfine >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "run.sh: hyperfine is missing: apt-get install -y hyperfine" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >&2 \
            || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >&2; } \
            || true
    fi
    if ! command -v hyperfine >/dev/null 2>&1; then
        echo "run.sh: no hyperfine: timing the clients with bench/probe.py's own loop" >&2
        TIMER=loop
    fi
fi
HAVE_SQLITE3=0
command -v sqlite3 >/dev/null 2>&1 && HAVE_SQLITE3=1

# --- binaries ------------------------------------------------------------------------------
# The checkout's revision as it is when the binaries are built (bench/ itself does not count).
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain -- . ':!bench' 2>/dev/null)" ]; then
    REV="$REV with uncommitted changes"
fi
STATIC=${BENCH_STATIC:-0}
case $STATIC in 0 | 1) ;; *) echo "run.sh: BENCH_STATIC is 0 or 1" >&2; exit 2 ;; esac
if [ -n "${WATCHDOG_BIN_DIR:-}" ] && [ "$STATIC" = 1 ]; then
    echo "run.sh: BENCH_STATIC=1 builds this checkout; it does not go with WATCHDOG_BIN_DIR" >&2
    exit 2
fi
if [ -n "${WATCHDOG_BIN_DIR:-}" ]; then
    BIN=$(cd "$WATCHDOG_BIN_DIR" && pwd)
    BUILT_FROM="prebuilt binaries in $BIN, built from ${BENCH_REV:-an unrecorded revision (set BENCH_REV)}"
elif [ "$STATIC" = 1 ]; then
    # RUSTFLAGS with an explicit --target apply to the binaries only, not to build scripts and
    # proc macros (which must stay dynamic). wd-noop and wd-test-service are built the same way,
    # so `status / wd-noop` compares two static executables.
    TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
    STATIC_DIR=${BENCH_STATIC_TARGET_DIR:-$ROOT/target/static}
    echo "run.sh: static build (crt-static, $TRIPLE) into $STATIC_DIR ..." >&2
    (cd "$ROOT" && RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+crt-static" \
        CARGO_TARGET_DIR=$STATIC_DIR cargo build --release --target "$TRIPLE" \
        -p watchdogd -p watchdogctl -p watchdog-tests --bins) >&2
    BIN=$STATIC_DIR/$TRIPLE/release
    BUILT_FROM="this checkout ($ROOT), static build: RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release --target $TRIPLE"
else
    echo "run.sh: cargo build --release ..." >&2
    (cd "$ROOT" && cargo build --release -p watchdogd -p watchdogctl -p watchdog-tests --bins) >&2
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
    BUILT_FROM="this checkout ($ROOT), default (dynamic) build: cargo build --release"
fi
WD=$BIN/watchdogd
CTL=$BIN/watchdogctl
SVC=$BIN/wd-test-service
NOOP=$BIN/wd-noop
for b in "$WD" "$CTL" "$SVC"; do
    [ -x "$b" ] || { echo "run.sh: $b is missing" >&2; exit 1; }
done
# What was measured, read from the binaries themselves (also for WATCHDOG_BIN_DIR).
LINK_WD=$(python3 "$PROBE" linkage "$WD" 2>/dev/null || echo unknown)
LINK_CTL=$(python3 "$PROBE" linkage "$CTL" 2>/dev/null || echo unknown)
SIZE_WD=$(stat -c %s "$WD") SIZE_CTL=$(stat -c %s "$CTL")
NOOP_DIR=""
NOOP_FROM="tests/src/bin/wd-noop.rs, release profile of the workspace"
if [ ! -x "$NOOP" ]; then
    # Binaries from an older checkout: build the same empty program with rustc instead.
    NOOP_DIR=$(mktemp -d /tmp/wdb-noop.XXXXXX)
    echo 'fn main() {}' >"$NOOP_DIR/noop.rs"
    rustc -C opt-level=s -o "$NOOP_DIR/wd-noop" "$NOOP_DIR/noop.rs" >&2 \
        || { echo "run.sh: no wd-noop in $BIN and rustc cannot build one" >&2; exit 1; }
    NOOP=$NOOP_DIR/wd-noop
    NOOP_FROM="\`fn main() {}\` built by rustc -C opt-level=s (no wd-noop in $BIN)"
fi

# --- state of the current run, for cleanup -------------------------------------------------
RUN_DIR=""   # temp folder of the current run
HB_DIR=""    # its heartbeat folder (on HB_BASE or DISK_BASE, or RUN_DIR/hb)
DPID=""      # the daemon
SIM_PID=""   # the simulated-services writer
NREAL=0      # real services of the current N (s0..s(NREAL-1))
NSIM=0

now() { date +%s.%N; }
# (a - b) seconds, printed with the given format (default: seconds, 2 decimals)
secs_between() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { printf f, a - b }'; }
kib_to_mib() { awk -v k="$1" 'BEGIN { if (k == "") print "-"; else printf "%.1f", k / 1024 }'; }

# utime + stime of PID in clock ticks (/proc/PID/stat fields 14 and 15; the comm field may hold
# spaces, so count from the last ')').
cpu_ticks() {
    local rest
    rest=$(sed -E 's/^.*\) //' "/proc/$1/stat")
    awk '{ print $12 + $13 }' <<<"$rest"
}
cpu_pct() { awk -v d="$1" -v t="$CLK_TCK" -v s="$2" -v f="${3:-%.2f}" 'BEGIN { printf f, 100 * d / t / s }'; }

# CPU time of PID's live threads in ns (the first field of /proc/PID/task/TID/schedstat): finer
# than clock ticks, but a thread that exits takes its time with it, so it is used only when the
# same threads are there at both ends of a window.
task_ns() {
    local f a s=0
    for f in /proc/"$1"/task/*/schedstat; do
        read -r a _ <"$f" 2>/dev/null || continue
        s=$((s + a))
    done
    echo "$s"
}
task_ids() { ls /proc/"$1"/task 2>/dev/null | sort -n | tr '\n' ' '; }

rss_kib() { awk -v k="${2:-VmRSS}" '$1 == k":" { print $2 }' "/proc/$1/status"; }

# PID's descendants (through /proc/PID/task/*/children).
descendants() {
    local kid
    for kid in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        echo "$kid"
        descendants "$kid"
    done
}

# Processes of this run: their command line names the run's heartbeat folder (every real
# service's does, through --heartbeat; so does the writer's).
run_pids() { python3 "$PROBE" run-pids "$1"; }

# Rows in the audit tables: the highest rowid of check_history, recovery_runs and audit_events
# (rows are appended and only pruned after history_retention_days, so this counts rows written).
db_rows() {
    local db=$1
    [ -f "$db" ] || { echo 0; return; }
    if [ "$HAVE_SQLITE3" = 1 ]; then
        local tables sql="" t
        tables=$(sqlite3 -readonly "$db" \
            "SELECT name FROM sqlite_master WHERE type='table' AND name IN ('check_history','recovery_runs','audit_events')" 2>/dev/null || true)
        for t in $tables; do sql="${sql:+$sql + }(SELECT coalesce(max(rowid), 0) FROM $t)"; done
        [ -n "$sql" ] || { echo 0; return; }
        sqlite3 -readonly "$db" "SELECT $sql" 2>/dev/null || echo 0
    else
        python3 - "$db" <<'EOF'
import sqlite3, sys
con = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=5)
names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
total = 0
for t in ("check_history", "recovery_runs", "audit_events"):
    if t in names:
        total += con.execute(f"SELECT coalesce(max(rowid), 0) FROM {t}").fetchone()[0]
print(total)
EOF
    fi
}

ctl() { timeout "$CALL_TIMEOUT_S" "$CTL" --socket "$RUN_DIR/s.sock" "$@"; }

METRICS_VIA=""
PROTO=""
metrics() {
    if [ "$METRICS_VIA" = ctl ]; then
        ctl metrics
    else
        timeout "$CALL_TIMEOUT_S" python3 "$PROBE" metrics-via-socket "$RUN_DIR/s.sock" "$PROTO"
    fi
}

# Starts the daemon on the run's config (its log appended to daemon.log) and waits for its socket.
start_daemon() {
    rm -f "$RUN_DIR/s.sock"
    "$WD" --config "$RUN_DIR/config.json" 2>>"$RUN_DIR/daemon.log" &
    DPID=$!
    for _ in $(seq 1 3000); do
        [ -S "$RUN_DIR/s.sock" ] && return 0
        kill -0 "$DPID" 2>/dev/null || break
        sleep 0.01
    done
    log "no socket after 30 s"
    tail -20 "$RUN_DIR/daemon.log" >&2
    return 1
}

# SIGTERM to the daemon alone: the services it started keep running (the next daemon adopts them).
stop_daemon() {
    [ -n "$DPID" ] || return 0
    if kill -0 "$DPID" 2>/dev/null; then
        kill -TERM "$DPID" 2>/dev/null || true
        for _ in $(seq 1 200); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$DPID" 2>/dev/null || true
    fi
    wait "$DPID" 2>/dev/null || true
    DPID=""
}

# Stops what the current run started: the daemon first (so that it sees no service die), then
# the writer, then every service (the daemon's children, and those earlier daemons started).
stop_procs() {
    local kids=() p
    if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
        # The services the daemon started are its children (in sessions of their own).
        mapfile -t kids < <(descendants "$DPID")
    fi
    stop_daemon
    if [ -n "$SIM_PID" ]; then
        kill -TERM "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
    fi
    SIM_PID=""
    if [ -n "$HB_DIR" ]; then
        mapfile -t -O "${#kids[@]}" kids < <(run_pids "$HB_DIR/")
        for p in "${kids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    fi
}

# A sleep that a signal interrupts at once (bash runs traps only between foreground commands).
NAP_PID=""
nap() {
    sleep "$1" &
    NAP_PID=$!
    wait "$NAP_PID" || true
    NAP_PID=""
}

# Runs a long command (a probe, the timer) in the background and waits for it, so that a signal
# to this script runs its trap at once instead of after the command; stop_run ends it.
LONG_PID=""
long() {
    local rc=0
    "$@" &
    LONG_PID=$!
    wait "$LONG_PID" || rc=$?
    LONG_PID=""
    return "$rc"
}

stop_run() {
    if [ -n "$NAP_PID" ]; then kill "$NAP_PID" 2>/dev/null || true; fi
    if [ -n "$LONG_PID" ]; then kill "$LONG_PID" 2>/dev/null || true; wait "$LONG_PID" 2>/dev/null || true; fi
    stop_procs
    if [ "${BENCH_KEEP:-0}" != 1 ]; then
        [ -n "$HB_DIR" ] && rm -rf "$HB_DIR"
        [ -n "$RUN_DIR" ] && rm -rf "$RUN_DIR"
    fi
    RUN_DIR=""
    HB_DIR=""
}
on_exit() {
    stop_run
    [ -n "$NOOP_DIR" ] && rm -rf "$NOOP_DIR"
    return 0
}
trap 'on_exit' EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

log() { echo "run.sh: [N=$N] $*" >&2; }

# median / p95 / max of numbers on stdin (empty → "-")
stats() {
    python3 -c '
import sys, statistics
xs = sorted(float(x) for x in sys.stdin.read().split() if x != "nan")
if not xs:
    print("- - -"); sys.exit()
p95 = xs[min(len(xs) - 1, max(0, -(-95 * len(xs) // 100) - 1))]
print(f"{statistics.median(xs):.1f} {p95:.1f} {max(xs):.1f}")'
}
# The list FIELD of a JSON object, as words (for stats).
json_list() { python3 -c 'import json,sys; print(*json.loads(sys.argv[1] or "{}").get(sys.argv[2], []))' "$1" "$2"; }
json_field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1] or "{}").get(sys.argv[2]); print("-" if v is None else v)' "$1" "$2"; }

# --- one run: services, daemon, start-all, all healthy ---------------------------------------
# setup_run N HB_BASE: sets RUN_DIR, HB_DIR, NREAL, NSIM, SIM_PID, DPID, STARTUP_S, START_ALL_S,
# START_ALL_RC.
setup_run() {
    local n=$1 base=$2
    NREAL=$(( n <= REAL_MAX ? n : 1 ))
    NSIM=$(( n - NREAL ))
    RUN_DIR=$(mktemp -d /tmp/wdb.XXXXXX)
    if [ -n "$base" ]; then
        HB_DIR=$(mktemp -d "$base/wdb-hb.XXXXXX")
    else
        HB_DIR=$RUN_DIR/hb
        mkdir -p "$HB_DIR"
    fi
    # Simulated services are started again by a request file the writer watches (sim_writer.py).
    python3 - "$RUN_DIR" "$HB_DIR" "$n" "$NREAL" "$SVC" "$SIM_INTERVAL_MS" "$SIM_TIMEOUT_S" >"$RUN_DIR/config.json" <<'EOF'
import json, sys
d, hbdir, n, nreal, svc, sim_ms, sim_timeout = sys.argv[1:8]
n, nreal, sim_ms = int(n), int(nreal), int(sim_ms)
procs = {}
for i in range(n):
    key = f"s{i}"
    hb = f"{hbdir}/{key}.json"
    if i < nreal:
        interval = 100 if i == 0 else sim_ms
        procs[key] = {
            "timeout_seconds": 3 if i == 0 else float(sim_timeout),
            "heartbeat_path": hb,
            "commands": {"start": f"exec {svc} --heartbeat {hb} --key {key} --interval-ms {interval}"},
            "recovery_actions": ["kill", "start"],
        }
    else:
        # Simulated: the heartbeat names the writer's PID. No kill in its pipeline, so a late
        # heartbeat can never make the daemon signal the writer; `start` asks the writer to beat
        # this key again (a shell builtin: the cheapest start there is).
        procs[key] = {
            "timeout_seconds": float(sim_timeout),
            "heartbeat_path": hb,
            "commands": {"start": f": > {d}/simctl/{key}"},
            "recovery_actions": ["start"],
        }
json.dump({
    "log_level": "WARNING",
    "db_path": f"{d}/wd.db",
    "socket_path": f"{d}/s.sock",
    "check_interval_seconds": 1,
    "consecutive_failures_threshold": 1,
    "verify_delay": 0.2,
    "kill_timeout": 2,
    "cleanup_args": [],
    "max_restarts": 1000,
    "processes": procs,
}, sys.stdout, indent=1)
EOF
    "$WD" --check-config -c "$RUN_DIR/config.json" >/dev/null 2>"$RUN_DIR/check-config.log" || {
        cat "$RUN_DIR/check-config.log" >&2; return 1; }

    # The simulated services first: every heartbeat exists before the daemon starts.
    if [ "$NSIM" -gt 0 ]; then
        python3 "$SIM" "$HB_DIR" "$NSIM" "$SIM_INTERVAL_MS" --first "$NREAL" \
            --ready "$RUN_DIR/sim.ready" --stats "$RUN_DIR/sim.json" \
            --control "$RUN_DIR/simctl" --paused "$RUN_DIR/sim.paused" &
        SIM_PID=$!
        for _ in $(seq 1 1200); do [ -f "$RUN_DIR/sim.ready" ] && break; sleep 0.1; done
        [ -f "$RUN_DIR/sim.ready" ] || { log "sim writer not ready after 120 s"; return 1; }
    fi

    # Startup: daemon start → start-all → every service healthy.
    log "starting watchdogd with $n services ($NREAL real, $NSIM simulated), heartbeats in $HB_DIR"
    local t0 t_ok sa_pid t_sa
    t0=$(now)
    start_daemon || return 1
    # start-all runs alongside the polling: "startup" ends when every service is healthy, even if
    # start-all is still answering (its own duration goes to the notes).
    t_sa=$(now)
    { rc=0; ctl start-all >"$RUN_DIR/start-all.out" 2>&1 || rc=$?
      echo "$rc" >"$RUN_DIR/start-all.rc"; now >"$RUN_DIR/start-all.end"; } &
    sa_pid=$!
    long python3 "$PROBE" wait-healthy "$CTL" "$RUN_DIR/s.sock" "$n" 300 "$RUN_DIR/startup.trace" \
        >"$RUN_DIR/startup.t" || { log "not all services healthy after 300 s"; return 1; }
    t_ok=$(cat "$RUN_DIR/startup.t")
    STARTUP_S=$(secs_between "$t_ok" "$t0")
    log "all $n healthy after $STARTUP_S s; waiting for start-all to return"
    wait "$sa_pid" || true
    START_ALL_RC=$(cat "$RUN_DIR/start-all.rc")
    START_ALL_S=$(secs_between "$(cat "$RUN_DIR/start-all.end")" "$t_sa")
    log "start-all took $START_ALL_S s (exit $START_ALL_RC)"

    if ctl metrics >/dev/null 2>&1; then
        METRICS_VIA=ctl
    else
        METRICS_VIA=socket
        PROTO=$(timeout "$CALL_TIMEOUT_S" python3 "$PROBE" metrics-via-socket "$RUN_DIR/s.sock" 2>&1 >/dev/null | sed -n 's/^protocol //p')
        [ -n "$PROTO" ] || { log "cannot read the daemon's metrics"; return 1; }
    fi
}

# cpu_window SECONDS: the daemon's and the writer's CPU over a window in which nothing talks to
# the daemon. Sets CPU_PCT (from the threads' schedstat when the same threads lived through the
# window, else from clock ticks, then marked "(ticks)"), CPU_TICKS_PCT, CPU_NS_PCT ("-" when
# unusable), SIM_PCT, WINDOW_REAL_S, C0/C1 (ticks).
cpu_window() {
    local tw0 tw1 s0=0 s1=0 n0 n1 ids0 ids1
    ids0=$(task_ids "$DPID"); n0=$(task_ns "$DPID")
    tw0=$(now); C0=$(cpu_ticks "$DPID")
    [ -n "$SIM_PID" ] && s0=$(cpu_ticks "$SIM_PID")
    nap "$1"
    tw1=$(now); C1=$(cpu_ticks "$DPID")
    n1=$(task_ns "$DPID"); ids1=$(task_ids "$DPID")
    [ -n "$SIM_PID" ] && s1=$(cpu_ticks "$SIM_PID")
    WINDOW_REAL_S=$(secs_between "$tw1" "$tw0" %.3f)
    CPU_TICKS_PCT=$(cpu_pct "$((C1 - C0))" "$WINDOW_REAL_S")
    if [ "$ids0" = "$ids1" ] && [ "$n1" -gt 0 ]; then
        CPU_NS_PCT=$(awk -v d="$((n1 - n0))" -v s="$WINDOW_REAL_S" 'BEGIN { printf "%.3f", 100 * d / 1e9 / s }')
        CPU_PCT=$CPU_NS_PCT
    else
        CPU_NS_PCT="-"
        CPU_PCT="$CPU_TICKS_PCT (ticks)"
    fi
    SIM_PCT=$(cpu_pct "$((s1 - s0))" "$WINDOW_REAL_S" %.1f)
}

sim_stats() {
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("%s writes/s, max lag %s ms" % (s["writes_per_s"], s["max_lag_ms"]))' \
        "$RUN_DIR/sim.json" 2>/dev/null || echo "no stats"
}

# Times wd-noop, `status` and `status --json`: hyperfine, or probe.py's loop (in rounds). Writes
# $RUN_DIR/timing.json in hyperfine's export shape.
time_clients() {
    local sock=$RUN_DIR/s.sock
    if [ "$TIMER" = hyperfine ]; then
        # wd-noop first and last: hyperfine times one command after the other, so a busy spell
        # on a shared machine would otherwise weigh on one side of the ratio only.
        long timeout 900 hyperfine --warmup "$WARMUP" --runs "$RUNS" -N --style none \
            --export-json "$RUN_DIR/timing.json" \
            "$NOOP" "$CTL --socket $sock status" "$CTL --socket $sock status --json" "$NOOP" \
            >"$RUN_DIR/hyperfine.log" 2>&1
    else
        long timeout 900 python3 "$PROBE" time "$RUNS" "$WARMUP" "$RUN_DIR/timing.json" \
            "$NOOP" "$CTL --socket $sock status" "$CTL --socket $sock status --json"
    fi
}

# Per-N figures, keyed by N, turned into table rows at the end (bytes per service needs two Ns).
declare -A R_RSS R_HWM R_ROW1 R_ROW2 R_CPU_DISK
NOTES=()

run_one() {
    N=$1
    local sock db
    setup_run "$N" "$HB_BASE" || return 1
    sock=$RUN_DIR/s.sock db=$RUN_DIR/wd.db
    local startup_s=$STARTUP_S start_all_s=$START_ALL_S start_all_rc=$START_ALL_RC nsim=$NSIM nreal=$NREAL

    nap 3   # let the post-startup burst (audit backlog, first recoveries) drain

    # 1. CPU, rows written and steady RSS over a quiet window: nothing talks to the daemon.
    log "CPU window ${WINDOW_S} s"
    local m0 m1 r0 r1 checks_s
    m0=$(metrics | python3 "$PROBE" metric watchdogd_checks_total)
    r0=$(db_rows "$db")
    cpu_window "$WINDOW_S"
    local cpu=$CPU_PCT sim_pct=$SIM_PCT secs=$WINDOW_REAL_S c_quiet=$((C1 - C0))
    local cpu_ticks_pct=$CPU_TICKS_PCT cpu_ns_pct=$CPU_NS_PCT
    local rss_steady hwm_steady mem_note
    rss_steady=$(rss_kib "$DPID")
    hwm_steady=$(rss_kib "$DPID" VmHWM)
    mem_note=$(awk '$1 ~ /^(RssAnon|RssFile|Threads):$/ { printf "%s%s %s%s", (n++ ? ", " : ""), $1, $2, ($3 ? " " $3 : "") }' "/proc/$DPID/status")
    m1=$(metrics | python3 "$PROBE" metric watchdogd_checks_total)
    checks_s=$(awk -v a="$m1" -v b="$m0" -v s="$secs" 'BEGIN { if (a == "nan" || b == "nan") print "-"; else printf "%.0f", (a - b) / s }')
    log "CPU $cpu % ($c_quiet ticks), RSS $(kib_to_mib "$rss_steady") MiB ($mem_note), $checks_s checks/s"

    # 2. Tick duration: the daemon's last-batch gauge, sampled once a second.
    log "tick window ${WINDOW_S} s"
    local ticks="" t c2 c3 tw2 tw3 rows_s cpu_sampled tick_med tick_max
    tw2=$(now); c2=$(cpu_ticks "$DPID")
    for _ in $(seq 1 "$WINDOW_S"); do
        t=$(metrics | python3 "$PROBE" metric watchdogd_tick_duration_seconds)
        ticks+="$(awk -v v="$t" 'BEGIN { if (v == "nan") print "nan"; else printf "%.3f", v * 1000 }') "
        nap 1
    done
    tw3=$(now); c3=$(cpu_ticks "$DPID"); r1=$(db_rows "$db")
    # Rows over both windows: healthy checks are sampled once per service per
    # healthy_sample_seconds (default 60), so a short window can miss them altogether.
    rows_s=$(awk -v d="$((r1 - r0))" -v s="$(secs_between "$tw3" "$tw2" %.3f)" -v w="$secs" 'BEGIN { r = d / (s + w); printf (r < 100 ? "%.1f" : "%.0f"), r }')
    cpu_sampled=$(cpu_pct "$((c3 - c2))" "$(secs_between "$tw3" "$tw2" %.3f)")
    read -r tick_med _ tick_max < <(echo "$ticks" | stats)
    log "tick median $tick_med ms, max $tick_max ms; $rows_s audit rows/s"

    # 3. Client latency: the empty Rust program, `status`, `status --json`, in one run.
    log "timing wd-noop, status, status --json ($TIMER, $RUNS runs each)"
    time_clients || { log "timing the clients failed (see $RUN_DIR/hyperfine.log)"; return 1; }
    local noop_med st_med st_p95 js_med ratio
    read -r noop_med st_med st_p95 js_med ratio < <(python3 - "$RUN_DIR/timing.json" <<'EOF'
import json, statistics, sys
res = json.load(open(sys.argv[1]))["results"]
def p95(xs):
    xs = sorted(xs); return xs[min(len(xs) - 1, max(0, -(-95 * len(xs) // 100) - 1))]
noop, st, js = (r["times"] for r in res[:3])
noop = noop + sum((r["times"] for r in res[3:]), [])   # hyperfine's second wd-noop run
m = statistics.median
print(f"{m(noop)*1000:.2f} {m(st)*1000:.2f} {p95(st)*1000:.2f} {m(js)*1000:.2f} {m(st)/m(noop):.2f}")
EOF
)
    log "wd-noop $noop_med ms; status median $st_med ms (p95 $st_p95, ${ratio}× wd-noop), --json $js_med ms"

    # 4. Peak RSS: after the timed runs, $PEAK_CALLS more `status --json` and a `start-all`.
    log "$PEAK_CALLS × status --json, start-all"
    local i peak_sa_rc=0 rss_loaded hwm rss_settled
    for ((i = 0; i < PEAK_CALLS; i++)); do ctl status --json >/dev/null || true; done
    ctl start-all >/dev/null 2>&1 || peak_sa_rc=$?
    rss_loaded=$(rss_kib "$DPID")
    hwm=$(rss_kib "$DPID" VmHWM)
    nap 3
    rss_settled=$(rss_kib "$DPID")
    log "RSS steady $(kib_to_mib "$rss_steady") MiB, after the clients $(kib_to_mib "$rss_loaded") MiB, 3 s later $(kib_to_mib "$rss_settled") MiB; peak (VmHWM) $(kib_to_mib "$hwm") MiB"

    # 5. Failure latency on s0 (real): kill -9, SIGSTOP, then kill -9 of an adopted s0.
    local kill_cell="-" hang_cell="-" silence_cell="-" adopt_cell="-" kill_json="" hang_json=""
    local adopt_jsons=() adopt_startups="" adopt_lat="" adopt_note=""
    if [ "$N" -le "$LATENCY_MAX" ]; then
        log "kill -9 s0 × $KILLS"
        long timeout 600 python3 "$PROBE" kill "$CTL" "$sock" s0 "$HB_DIR/s0.json" "$KILLS" "$HB_DIR/" "$SETTLE_S" \
            >"$RUN_DIR/kill.json" || true
        kill_json=$(cat "$RUN_DIR/kill.json")
        local k_med k_max
        read -r k_med _ k_max < <(json_list "$kill_json" latencies_ms | stats)
        kill_cell="$k_med / $k_max"
        log "kill→healthy $kill_cell ms"

        log "SIGSTOP s0 × $HANGS"
        long timeout 600 python3 "$PROBE" hang "$CTL" "$sock" s0 "$HB_DIR/s0.json" "$HANGS" "$HB_DIR/" "$SETTLE_S" \
            >"$RUN_DIR/hang.json" || true
        hang_json=$(cat "$RUN_DIR/hang.json")
        local s_med b_med
        read -r hang_cell _ _ < <(json_list "$hang_json" latencies_ms | stats)
        read -r s_med _ _ < <(json_list "$hang_json" silence_seen_ms | stats)
        read -r b_med _ _ < <(json_list "$hang_json" silence_after_beat_ms | stats)
        silence_cell="$s_med / $b_med"
        log "hang→silence seen $silence_cell ms (from SIGSTOP / from the last beat); hang→replacement $hang_cell ms"

        log "adopted kill -9 × $ADOPTS (restart the daemon, then kill -9 s0)"
        local t0 t_ok j parent
        for ((i = 0; i < ADOPTS; i++)); do
            stop_daemon
            t0=$(now)
            start_daemon || return 1
            long python3 "$PROBE" wait-healthy "$CTL" "$sock" "$N" 120 "$RUN_DIR/adopt.trace" \
                >"$RUN_DIR/adopt.t" || { log "not all services healthy 120 s after the daemon's restart"; return 1; }
            t_ok=$(cat "$RUN_DIR/adopt.t")
            adopt_startups+="$(secs_between "$t_ok" "$t0" %.3f) "
            long timeout 120 python3 "$PROBE" kill "$CTL" "$sock" s0 "$HB_DIR/s0.json" 1 "$HB_DIR/" "$SETTLE_S" \
                >"$RUN_DIR/adopt.json" || true
            j=$(cat "$RUN_DIR/adopt.json")
            parent=$(python3 -c 'import json,sys; t=(json.loads(sys.argv[1] or "{}").get("trials") or [{}])[0]; print(t.get("old_ppid"))' "$j")
            if [ "$parent" = "$DPID" ]; then
                adopt_note+=" trial $i: s0 was the new daemon's child, not adopted (not counted);"
            else
                adopt_lat+="$(json_list "$j" latencies_ms) "
            fi
            adopt_jsons+=("$j")
        done
        local a_med a_max
        read -r a_med _ a_max < <(echo "$adopt_lat" | stats)
        adopt_cell="$a_med / $a_max"
        log "adopted kill→healthy $adopt_cell ms; daemon restart → all healthy: $adopt_startups s"
    fi

    # 6. Storm: every service stale at once (real ones SIGKILLed, the writer stops beating),
    # `status` timed every $STORM_PERIOD_MS ms until all are healthy again.
    local storm_cell="-" storm_s="-" storm_json=""
    if [ "$STORM" = 1 ]; then
        log "storm: $nreal SIGKILLed, $nsim simulated stopped; status every $STORM_PERIOD_MS ms"
        long python3 "$PROBE" storm "$CTL" "$sock" "$N" "$HB_DIR/" "$HB_DIR" "$nreal" \
            "${SIM_PID:--}" "$RUN_DIR/sim.paused" "$STORM_PERIOD_MS" "$STORM_CALL_TIMEOUT_S" \
            "$STORM_TIMEOUT_S" "$RUN_DIR/storm.trace" >"$RUN_DIR/storm.json" \
            || log "storm: not all healthy within $STORM_TIMEOUT_S s"
        storm_json=$(cat "$RUN_DIR/storm.json")
        storm_cell="$(json_field "$storm_json" max_ms) / $(json_field "$storm_json" p95_ms)"
        storm_s=$(json_field "$storm_json" all_healthy_s)
        log "storm: status max / p95 $storm_cell ms; all healthy after $storm_s s ($storm_json)"
    fi

    # 7. Whole-run figures, then stop everything before reading the logs and the database.
    local final_metrics tick_max_ever dropped
    final_metrics=$(metrics || true)
    read -r tick_max_ever dropped < <(python3 "$PROBE" metric watchdogd_tick_duration_max_seconds \
        watchdogd_audit_rows_dropped_total <<<"$final_metrics" | tr '\n' ' ')
    tick_max_ever=$(awk -v v="$tick_max_ever" 'BEGIN { if (v == "nan") print "-"; else printf "%.1f", v * 1000 }')
    local sim_note="" sim_paused_final=""
    stop_procs
    if [ "$nsim" -gt 0 ]; then
        sim_note="; sim writer ($nsim files every ${SIM_INTERVAL_MS} ms): ${sim_pct} % CPU in the CPU window, $(sim_stats)"
    fi
    local warn_lines unhealthy top_warn slow_startup
    warn_lines=$(grep -c . "$RUN_DIR/daemon.log" || true)
    # The commonest log messages, with times and keys masked.
    top_warn=$(sed -E 's/^\[[^]]*\] //; s/\bs[0-9]+\b/sN/g; s/[0-9]+/#/g; s/\x60/\x27/g' "$RUN_DIR/daemon.log" \
        | sort | uniq -c | sort -rn | head -3 | awk '{ c = $1; $1 = ""; printf "%s%d× \"%s\"", (NR > 1 ? "; " : ""), c, substr($0, 2) }' || true)
    slow_startup=$(grep '^{' "$RUN_DIR/startup.trace" 2>/dev/null | tail -1 || true)
    # Unhealthy checks recorded during the whole run, by health (startup and trials included).
    if [ "$HAVE_SQLITE3" = 1 ]; then
        unhealthy=$(sqlite3 -readonly "$db" "SELECT group_concat(h || ' ' || c, ', ') FROM
            (SELECT health AS h, count(*) AS c FROM check_history WHERE health <> 'healthy' GROUP BY 1)" 2>/dev/null || true)
    else
        unhealthy=$(python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True); print(", ".join("%s %s" % r for r in c.execute("SELECT health, count(*) FROM check_history WHERE health <> '"'healthy'"' GROUP BY 1")))' "$db" 2>/dev/null || true)
    fi
    local keep_note=""
    [ "${BENCH_KEEP:-0}" = 1 ] && keep_note="$RUN_DIR, $HB_DIR"
    stop_run

    # 8. The same N with the heartbeat files on disk: CPU only.
    local cpu_disk="-" disk_note=""
    if [ -n "$DISK_BASE" ]; then
        setup_run "$N" "$DISK_BASE" || return 1
        nap 3
        log "CPU window ${WINDOW_S} s, heartbeats on $(stat -f -c %T "$HB_DIR") ($HB_DIR)"
        cpu_window "$WINDOW_S"
        cpu_disk=$CPU_PCT
        disk_note="heartbeats in $DISK_BASE ($(stat -f -c %T "$DISK_BASE")): startup $STARTUP_S s, CPU $cpu_disk % (schedstat $CPU_NS_PCT %, clock ticks $((C1 - C0)) in $WINDOW_REAL_S s = $CPU_TICKS_PCT %), RSS $(kib_to_mib "$(rss_kib "$DPID")") MiB"
        if [ "$NSIM" -gt 0 ]; then
            stop_procs
            disk_note+="; sim writer: $SIM_PCT % CPU, $(sim_stats)"
        fi
        log "CPU with heartbeats on disk: $cpu_disk %"
        [ "${BENCH_KEEP:-0}" = 1 ] && keep_note+=", $RUN_DIR, $HB_DIR"
        stop_run
    fi

    R_RSS[$N]=$rss_steady
    R_HWM[$N]=$hwm
    R_CPU_DISK[$N]=$cpu_disk
    R_ROW1[$N]="$cpu | $cpu_disk | $(kib_to_mib "$rss_steady") | $(kib_to_mib "$hwm") | BYTES | $tick_med | $tick_max | $rows_s | $startup_s"
    R_ROW2[$N]="$noop_med | $st_med | $ratio | $st_p95 | $js_med | $kill_cell | $adopt_cell | $silence_cell | $hang_cell | $storm_cell | $storm_s"

    NOTES+=("- **N = $N** ($nreal real, $nsim simulated): $checks_s checks/s in the CPU window (schedstat: $cpu_ns_pct %; clock ticks: $c_quiet in $secs s = $cpu_ticks_pct %, ±1 tick = $(cpu_pct 1 "$secs" %.3f) %); CPU while metrics were sampled once a second: $cpu_sampled %; RSS in the quiet window: $mem_note (VmHWM then $(kib_to_mib "$hwm_steady") MiB); after the timed runs, $PEAK_CALLS × \`status --json\` and \`start-all\` (exit $peak_sa_rc): RSS $(kib_to_mib "$rss_loaded") MiB, 3 s later $(kib_to_mib "$rss_settled") MiB, peak VmHWM $(kib_to_mib "$hwm") MiB; longest check batch since start $tick_max_ever ms; audit rows dropped (whole run): $dropped; start-all took $start_all_s s (exit $start_all_rc); unhealthy checks recorded: ${unhealthy:-none}; startup polls: ${slow_startup:-?}; daemon log lines (WARNING and above): $warn_lines${top_warn:+ ($top_warn)}$sim_note.")
    if [ -n "$disk_note" ]; then NOTES+=("  - disk: $disk_note"); fi
    if [ -n "$kill_json" ]; then NOTES+=("  - kill -9 trials: \`$kill_json\`"); fi
    if [ -n "$hang_json" ]; then NOTES+=("  - SIGSTOP trials: \`$hang_json\`"); fi
    if [ "${#adopt_jsons[@]}" -gt 0 ]; then
        NOTES+=("  - adopted kill -9 trials (daemon restarted before each; restart → all healthy: ${adopt_startups% } s;${adopt_note:- every s0 adopted}): $(printf '`%s` ' "${adopt_jsons[@]}")")
    fi
    if [ -n "$storm_json" ]; then NOTES+=("  - storm: \`$storm_json\`"); fi
    if [ -n "$keep_note" ]; then NOTES+=("  - kept: $keep_note"); fi
    return 0
}

T_START=$(now)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for n in "${SIZES[@]}"; do
    run_one "$n" || { echo "run.sh: N=$n failed" >&2; stop_run; exit 1; }
done
T_END=$(now)

# Bytes per service: (RSS at N - RSS at the smallest N) / (N - smallest N), same run.
BASE_N=$(printf '%s\n' "${SIZES[@]}" | sort -n | head -1)
per_service() {
    local n=$1
    if [ "$n" = "$BASE_N" ]; then echo "-"; return; fi
    awk -v a="${R_RSS[$n]}" -v b="${R_RSS[$BASE_N]}" -v p="${R_HWM[$n]}" -v q="${R_HWM[$BASE_N]}" \
        -v n="$n" -v m="$BASE_N" 'BEGIN { printf "%.0f / %.0f", (a - b) * 1024 / (n - m), (p - q) * 1024 / (n - m) }'
}
ROWS1=() ROWS2=()
for n in "${SIZES[@]}"; do
    ROWS1+=("| $n | ${R_ROW1[$n]/BYTES/$(per_service "$n")} |")
    ROWS2+=("| $n | ${R_ROW2[$n]} |")
done
HEADER1="| N | CPU % tmpfs | CPU % disk | RSS steady MiB | RSS peak MiB | bytes/service steady / peak (vs N = $BASE_N) | tick median ms | tick max ms | rows/s | startup s |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
HEADER2='| N | wd-noop ms | status median ms | status / wd-noop | status p95 ms | status --json median ms | kill→healthy median / max ms | adopted kill→healthy median / max ms | hang→silence seen median ms (from SIGSTOP / from last beat) | hang→replacement median ms | storm status max / p95 ms | storm all healthy s |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
TABLE1=$(printf '%s\n' "$HEADER1" "${ROWS1[@]}")
TABLE2=$(printf '%s\n' "$HEADER2" "${ROWS2[@]}")
echo
echo "$TABLE1"
echo
echo "$TABLE2"

# --- results file --------------------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
HOST=$(uname -n)
OUT=$RESULTS_DIR/$(date +%Y-%m-%d-%H%M)-$HOST.md
[ "$STATIC" = 1 ] && OUT=${OUT%.md}-static.md
[ "$QUICK" = 1 ] && OUT=${OUT%.md}-quick.md
MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "$TIMER" = hyperfine ]; then
    TIMER_DESC="$(hyperfine --version) (--warmup $WARMUP --runs $RUNS -N)"
else
    TIMER_DESC="bench/probe.py time (posix_spawn + waitpid, $WARMUP warm-up + $RUNS runs; no hyperfine)"
fi
{
    echo "# Benchmark: $(date -u +%Y-%m-%dT%H:%MZ) on $HOST"
    echo
    echo "\`$( [ "$STATIC" = 1 ] && echo 'BENCH_STATIC=1 ')$( [ "$QUICK" = 1 ] && echo 'BENCH_QUICK=1 ')bench/run.sh ${SIZES[*]}\`, $(secs_between "$T_END" "$T_START" %.0f) s in all."
    echo
    echo "Build measured: watchdogd $LINK_WD, $SIZE_WD bytes; watchdogctl $LINK_CTL, $SIZE_CTL bytes."
    [ "$QUICK" = 1 ] && { echo; echo "**Quick mode**: short windows and few trials; a check of the script, not figures to compare."; }
    echo
    echo "Cost while all is well:"
    echo
    echo "$TABLE1"
    echo
    echo "Clients and failures:"
    echo
    echo "$TABLE2"
    echo
    echo "## Machine"
    echo
    echo "- CPU: $MODEL, $(nproc) cores (nproc)"
    echo "- memory: $MEM"
    echo "- kernel: $(uname -r)"
    echo "- $(rustc --version 2>/dev/null || echo 'rustc: not found')"
    echo "- checkout at the start: $REV; binaries: $BUILT_FROM"
    echo "- load average (1, 5, 15 min) at the start: $LOAD_START; at the end: $LOAD"
    echo "- tools: $TIMER_DESC, $(python3 --version 2>&1), $( [ "$HAVE_SQLITE3" = 1 ] && echo "sqlite3 $(sqlite3 --version | cut -d' ' -f1)" || echo "python sqlite3 module")"
    echo "- wd-noop: $NOOP_FROM"
    echo
    echo "## Setup"
    echo
    echo "check_interval_seconds 1, consecutive_failures_threshold 1, verify_delay 0.2, log_level WARNING,"
    echo "max_parallel_recoveries at its default. s0: wd-test-service, heartbeat every 100 ms, timeout_seconds 3."
    echo "Other services: heartbeat every $SIM_INTERVAL_MS ms, timeout_seconds $SIM_TIMEOUT_S; real processes for"
    echo "N <= $REAL_MAX, else written by one sim_writer.py process (recovery_actions [\"start\"], start"
    echo "\`: > simctl/KEY\`, which makes the writer beat KEY again). Heartbeat files in ${HB_BASE:-the run folder}"
    echo "(\"CPU % disk\": in ${DISK_BASE:-—}), database under /tmp. Windows: ${WINDOW_S} s. Trials: $KILLS kills,"
    echo "$HANGS hangs, $ADOPTS adoptions. Storm: \`status\` every $STORM_PERIOD_MS ms, each cut off after $STORM_CALL_TIMEOUT_S s."
    echo "Metrics read with"
    echo "$( [ "$METRICS_VIA" = ctl ] && echo '`watchdogctl metrics`' || echo 'bench/probe.py metrics-via-socket (this watchdogctl has no `metrics` command)')."
    echo
    echo "## Notes"
    echo
    printf '%s\n' "${NOTES[@]}"
} >"$OUT"
echo
echo "run.sh: wrote $OUT" >&2
