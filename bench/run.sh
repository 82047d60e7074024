#!/usr/bin/env bash
# Whole-system benchmark of watchdogd + watchdogctl (issue 6).
#
#   bench/run.sh [N...]          default: 10 500 10000
#
# For each N: generates a config of N services (1 s check interval, threshold 1), starts the real
# daemon on it and measures it with public tools (hyperfine, /proc/PID/status, /proc/PID/stat,
# sqlite3). s0 is always a real process (wd-test-service, a heartbeat every 100 ms, timeout 3 s);
# for N <= 100 every service is real, above that s1.. are simulated by ONE bench/sim_writer.py
# process that keeps their heartbeat files fresh, all naming its own PID.
# Prints one markdown table and writes it, with the machine's description, to
# bench/results/YYYY-MM-DD-HHMM-<hostname>.md. bench/README.md explains the columns.
#
# Environment (all optional):
#   WATCHDOG_BIN_DIR=DIR      use the watchdogd/watchdogctl/wd-test-service binaries in DIR instead
#                             of building this checkout (cargo build --release)
#   BENCH_REV=TEXT            what those binaries were built from (goes into the results file)
#   BENCH_WINDOW_S=30         length of the CPU window and of the tick-sampling window
#   BENCH_KILLS=5 BENCH_HANGS=3   kill -9 and SIGSTOP trials (only for N <= 500)
#   BENCH_SIM_INTERVAL_MS=1000 BENCH_SIM_TIMEOUT_S=5   heartbeat interval and timeout_seconds of
#                             every service but s0
#   BENCH_HB_BASE=/dev/shm    where the heartbeat files go (a tmpfs; see below); "" → the run's
#                             temp folder under /tmp
#   BENCH_KEEP=1              keep each run's temp folder (config, daemon log, database)
#   BENCH_RESULTS_DIR=DIR     where the results file goes (default bench/results)
#
# Heartbeat files live on a tmpfs (/dev/shm) by default: on a disk file system one Python writer
# cannot replace 10,000 files a second (ext4 starts writeback on every rename over an existing
# file), and the daemon's reads cost the same either way (page cache). The database stays in the
# run's folder under /tmp, on the disk.
#
# Everything it starts is stopped by PID (never by name) when it ends or is interrupted.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PROBE=$HERE/probe.py
SIM=$HERE/sim_writer.py

if [ $# -gt 0 ]; then SIZES=("$@"); else SIZES=(10 500 10000); fi
WINDOW_S=${BENCH_WINDOW_S:-30}
KILLS=${BENCH_KILLS:-5}
HANGS=${BENCH_HANGS:-3}
SIM_INTERVAL_MS=${BENCH_SIM_INTERVAL_MS:-1000}
SIM_TIMEOUT_S=${BENCH_SIM_TIMEOUT_S:-5}
RESULTS_DIR=${BENCH_RESULTS_DIR:-$HERE/results}
HB_BASE=${BENCH_HB_BASE-/dev/shm}
if [ -n "$HB_BASE" ] && ! { [ -d "$HB_BASE" ] && [ -w "$HB_BASE" ]; }; then HB_BASE=""; fi
REAL_MAX=100         # N up to this: every service is a real process
LATENCY_MAX=500      # N up to this: kill -9 and hang trials
CLK_TCK=$(getconf CLK_TCK)

for n in "${SIZES[@]}"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: N must be a positive integer, got '$n'" >&2; exit 2; }
done

# --- tools ---------------------------------------------------------------------------------
if ! command -v hyperfine >/dev/null 2>&1; then
    echo "run.sh: hyperfine is missing: apt-get install hyperfine (or cargo install hyperfine)" >&2
    exit 1
fi
command -v python3 >/dev/null 2>&1 || { echo "run.sh: python3 is missing" >&2; exit 1; }
HAVE_SQLITE3=0
command -v sqlite3 >/dev/null 2>&1 && HAVE_SQLITE3=1

# --- binaries ------------------------------------------------------------------------------
# The checkout's revision as it is when the binaries are built (bench/ itself does not count).
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain -- . ':!bench' 2>/dev/null)" ]; then
    REV="$REV with uncommitted changes"
fi
if [ -n "${WATCHDOG_BIN_DIR:-}" ]; then
    BIN=$(cd "$WATCHDOG_BIN_DIR" && pwd)
    BUILT_FROM="prebuilt binaries in $BIN, built from ${BENCH_REV:-an unrecorded revision (set BENCH_REV)}"
else
    echo "run.sh: cargo build --release ..." >&2
    (cd "$ROOT" && cargo build --release -p watchdogd -p watchdogctl -p watchdog-tests --bins) >&2
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
    BUILT_FROM="this checkout ($ROOT)"
fi
WD=$BIN/watchdogd
CTL=$BIN/watchdogctl
SVC=$BIN/wd-test-service
for b in "$WD" "$CTL" "$SVC"; do
    [ -x "$b" ] || { echo "run.sh: $b is missing" >&2; exit 1; }
done

# --- state of the current run, for cleanup -------------------------------------------------
RUN_DIR=""   # temp folder of the current N
HB_DIR=""    # its heartbeat folder (on HB_BASE, or RUN_DIR/hb)
DPID=""      # the daemon
SIM_PID=""   # the simulated-services writer
NREAL=0      # real services of the current N (s0..s(NREAL-1))

now() { date +%s.%N; }
# a - b, in the unit given by the factor (1000: ms)
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (a - b) * 1000 }'; }

# utime + stime of PID in clock ticks (/proc/PID/stat fields 14 and 15; the comm field may hold
# spaces, so count from the last ')').
cpu_ticks() {
    local rest
    rest=$(sed -E 's/^.*\) //' "/proc/$1/stat")
    awk '{ print $12 + $13 }' <<<"$rest"
}

rss_kib() { awk -v k="${2:-VmRSS}" '$1 == k":" { print $2 }' "/proc/$1/status"; }

# Whether PID is one of this run's services: its command line names the run's heartbeat folder.
owned() {
    [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$HB_DIR/"
}

# PID's descendants (through /proc/PID/task/*/children).
descendants() {
    local kid
    for kid in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        echo "$kid"
        descendants "$kid"
    done
}

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

METRICS_VIA=""
PROTO=""
metrics() {
    if [ "$METRICS_VIA" = ctl ]; then
        "$CTL" --socket "$RUN_DIR/s.sock" metrics
    else
        python3 "$PROBE" metrics-via-socket "$RUN_DIR/s.sock" "$PROTO"
    fi
}

# Stops what the current run started: the daemon first (so that it sees no service die), then
# the services it started, then the simulated writer.
stop_procs() {
    local kids=() p pid f
    if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
        # The services the daemon started are its children (in sessions of their own).
        mapfile -t kids < <(descendants "$DPID")
        kill -TERM "$DPID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$DPID" 2>/dev/null || true
        wait "$DPID" 2>/dev/null || true
    fi
    DPID=""
    if [ -n "$HB_DIR" ]; then
        for ((i = 0; i < NREAL; i++)); do
            f=$HB_DIR/s$i.json
            [ -f "$f" ] || continue
            pid=$(sed -n 's/.*"pid": *\([0-9][0-9]*\).*/\1/p' "$f")
            [ -n "$pid" ] && kids+=("$pid")
        done
        for p in "${kids[@]}"; do
            if owned "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
        done
    fi
    if [ -n "$SIM_PID" ]; then
        kill -TERM "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
    fi
    SIM_PID=""
}

# A sleep that a signal interrupts at once (bash runs traps only between foreground commands).
NAP_PID=""
nap() {
    sleep "$1" &
    NAP_PID=$!
    wait "$NAP_PID" || true
    NAP_PID=""
}

stop_run() {
    if [ -n "$NAP_PID" ]; then kill "$NAP_PID" 2>/dev/null || true; fi
    stop_procs
    if [ "${BENCH_KEEP:-0}" != 1 ]; then
        [ -n "$HB_DIR" ] && rm -rf "$HB_DIR"
        [ -n "$RUN_DIR" ] && rm -rf "$RUN_DIR"
    fi
    RUN_DIR=""
    HB_DIR=""
}
trap 'stop_run' EXIT
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

ROWS=()
NOTES=()

run_one() {
    N=$1
    NREAL=$(( N <= REAL_MAX ? N : 1 ))
    local nsim=$(( N - NREAL ))
    RUN_DIR=$(mktemp -d /tmp/wdb.XXXXXX)
    local sock=$RUN_DIR/s.sock db=$RUN_DIR/wd.db
    if [ -n "$HB_BASE" ]; then
        HB_DIR=$(mktemp -d "$HB_BASE/wdb-hb.XXXXXX")
    else
        HB_DIR=$RUN_DIR/hb
        mkdir -p "$HB_DIR"
    fi

    python3 - "$RUN_DIR" "$HB_DIR" "$N" "$NREAL" "$SVC" "$SIM_INTERVAL_MS" "$SIM_TIMEOUT_S" >"$RUN_DIR/config.json" <<'EOF'
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
        # heartbeat can never make the daemon signal the writer; `start` is a no-op.
        procs[key] = {
            "timeout_seconds": float(sim_timeout),
            "heartbeat_path": hb,
            "commands": {"start": "true"},
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

    # 1. The simulated services first: every heartbeat exists before the daemon starts.
    if [ "$nsim" -gt 0 ]; then
        python3 "$SIM" "$HB_DIR" "$nsim" "$SIM_INTERVAL_MS" --first "$NREAL" \
            --ready "$RUN_DIR/sim.ready" --stats "$RUN_DIR/sim.json" &
        SIM_PID=$!
        for _ in $(seq 1 1200); do [ -f "$RUN_DIR/sim.ready" ] && break; sleep 0.1; done
        [ -f "$RUN_DIR/sim.ready" ] || { log "sim writer not ready after 120 s"; return 1; }
    fi

    # 2. Startup: daemon start → start-all → every service healthy.
    log "starting watchdogd with $N services ($NREAL real, $nsim simulated)"
    local t0 t_ok
    t0=$(now)
    "$WD" --config "$RUN_DIR/config.json" 2>"$RUN_DIR/daemon.log" &
    DPID=$!
    for _ in $(seq 1 3000); do [ -S "$sock" ] && break; sleep 0.01; done
    [ -S "$sock" ] || { log "no socket after 30 s"; cat "$RUN_DIR/daemon.log" >&2; return 1; }
    # start-all runs alongside the polling: "startup" ends when every service is healthy, even if
    # start-all is still answering (its own duration goes to the notes).
    local start_all_rc=0 sa_pid t_sa t_sa_end
    t_sa=$(now)
    { rc=0; "$CTL" --socket "$sock" start-all >"$RUN_DIR/start-all.out" 2>&1 || rc=$?
      echo "$rc" >"$RUN_DIR/start-all.rc"; now >"$RUN_DIR/start-all.end"; } &
    sa_pid=$!
    t_ok=$(python3 "$PROBE" wait-healthy "$CTL" "$sock" "$N" 300 "$RUN_DIR/startup.trace") || {
        log "not all services healthy after 300 s"; return 1; }
    local startup_s
    startup_s=$(awk -v a="$t_ok" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
    log "all $N healthy after $startup_s s; waiting for start-all to return"
    wait "$sa_pid" || true
    start_all_rc=$(cat "$RUN_DIR/start-all.rc")
    t_sa_end=$(cat "$RUN_DIR/start-all.end")
    local start_all_s
    start_all_s=$(awk -v a="$t_sa_end" -v b="$t_sa" 'BEGIN { printf "%.2f", a - b }')
    log "start-all took $start_all_s s (exit $start_all_rc)"

    if "$CTL" --socket "$sock" metrics >/dev/null 2>&1; then
        METRICS_VIA=ctl
    else
        METRICS_VIA=socket
        PROTO=$(python3 "$PROBE" metrics-via-socket "$sock" 2>&1 >/dev/null | sed -n 's/^protocol //p')
        [ -n "$PROTO" ] || { log "cannot read the daemon's metrics"; return 1; }
    fi

    nap 3   # let the post-startup burst (audit backlog, first recoveries) drain

    # 3. CPU, rows written and RSS over a quiet window: nothing talks to the daemon meanwhile.
    log "CPU window ${WINDOW_S} s"
    local m0 m1 c0 c1 r0 r1 s0 s1 tw0 tw1
    m0=$(metrics | python3 "$PROBE" metric watchdogd_checks_total)
    tw0=$(now); c0=$(cpu_ticks "$DPID"); r0=$(db_rows "$db")
    s0=0; [ -n "$SIM_PID" ] && s0=$(cpu_ticks "$SIM_PID")
    nap "$WINDOW_S"
    tw1=$(now); c1=$(cpu_ticks "$DPID")
    s1=0; [ -n "$SIM_PID" ] && s1=$(cpu_ticks "$SIM_PID")
    local rss_kib mem_note
    rss_kib=$(rss_kib "$DPID")
    mem_note=$(awk '$1 ~ /^(RssAnon|RssFile|Threads):$/ { printf "%s%s %s%s", (n++ ? ", " : ""), $1, $2, ($3 ? " " $3 : "") }' "/proc/$DPID/status")
    m1=$(metrics | python3 "$PROBE" metric watchdogd_checks_total)
    local secs cpu_pct rows_s sim_pct checks_s
    secs=$(awk -v a="$tw1" -v b="$tw0" 'BEGIN { print a - b }')
    cpu_pct=$(awk -v d="$((c1 - c0))" -v t="$CLK_TCK" -v s="$secs" 'BEGIN { printf "%.2f", 100 * d / t / s }')
    sim_pct=$(awk -v d="$((s1 - s0))" -v t="$CLK_TCK" -v s="$secs" 'BEGIN { printf "%.1f", 100 * d / t / s }')
    checks_s=$(awk -v a="$m1" -v b="$m0" -v s="$secs" 'BEGIN { if (a == "nan" || b == "nan") print "-"; else printf "%.0f", (a - b) / s }')
    local rss_mib
    rss_mib=$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')
    log "CPU $cpu_pct %, RSS $rss_mib MiB ($mem_note), $checks_s checks/s"

    # 4. Tick duration: the daemon's last-batch gauge, sampled once a second.
    log "tick window ${WINDOW_S} s"
    local ticks="" t mx="nan" c2 c3 tw2 tw3
    tw2=$(now); c2=$(cpu_ticks "$DPID")
    for _ in $(seq 1 "$WINDOW_S"); do
        t=$(metrics | python3 "$PROBE" metric watchdogd_tick_duration_seconds)
        ticks+="$(awk -v v="$t" 'BEGIN { if (v == "nan") print "nan"; else printf "%.3f", v * 1000 }') "
        nap 1
    done
    tw3=$(now); c3=$(cpu_ticks "$DPID"); r1=$(db_rows "$db")
    # Rows over both windows (2 x 30 s): healthy checks are sampled once per service per
    # healthy_sample_seconds (default 60), so a shorter window can miss them altogether.
    rows_s=$(awk -v d="$((r1 - r0))" -v a="$tw3" -v b="$tw0" 'BEGIN { r = d / (a - b); printf (r < 100 ? "%.1f" : "%.0f"), r }')
    local cpu_sampled
    cpu_sampled=$(awk -v d="$((c3 - c2))" -v t="$CLK_TCK" -v a="$tw3" -v b="$tw2" 'BEGIN { printf "%.2f", 100 * d / t / (a - b) }')
    read -r tick_med _ tick_max < <(echo "$ticks" | stats)
    log "tick median $tick_med ms, max $tick_max ms; $rows_s audit rows/s over both windows"

    # 5. Client latency.
    log "hyperfine status / status --json"
    hyperfine --warmup 5 --runs 50 -N --style none --export-json "$RUN_DIR/hyperfine.json" \
        "$CTL --socket $sock status" "$CTL --socket $sock status --json" >"$RUN_DIR/hyperfine.log" 2>&1
    local st_med st_p95 js_med
    read -r st_med st_p95 js_med < <(python3 - "$RUN_DIR/hyperfine.json" <<'EOF'
import json, statistics, sys
res = json.load(open(sys.argv[1]))["results"]
def p95(xs):
    xs = sorted(xs); return xs[min(len(xs) - 1, max(0, -(-95 * len(xs) // 100) - 1))]
a, b = res[0]["times"], res[1]["times"]
print(f"{statistics.median(a)*1000:.2f} {p95(a)*1000:.2f} {statistics.median(b)*1000:.2f}")
EOF
)
    local rss_loaded hwm
    rss_loaded=$(awk -v k="$(rss_kib "$DPID")" 'BEGIN { printf "%.1f", k / 1024 }')
    hwm=$(awk -v k="$(rss_kib "$DPID" VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')
    log "status median $st_med ms (p95 $st_p95), --json $js_med ms; RSS after clients $rss_loaded MiB, peak $hwm MiB"

    # 6. Failure latency on s0 (real): kill -9 and SIGSTOP.
    local kill_cell="-" hang_cell="-" kill_json="" hang_json=""
    if [ "$N" -le "$LATENCY_MAX" ]; then
        log "kill -9 s0 x $KILLS"
        kill_json=$(python3 "$PROBE" kill "$CTL" "$sock" s0 "$HB_DIR/s0.json" "$KILLS" "$HB_DIR/") || true
        local k_med k_max
        read -r k_med _ k_max < <(python3 -c 'import json,sys; print(*json.loads(sys.argv[1] or "{}").get("latencies_ms", []))' "$kill_json" | stats)
        kill_cell="$k_med / $k_max"
        log "kill→healthy $kill_cell ms"
        log "SIGSTOP s0 x $HANGS"
        hang_json=$(python3 "$PROBE" hang "$CTL" "$sock" s0 "$HB_DIR/s0.json" "$HANGS" "$HB_DIR/") || true
        read -r hang_cell _ _ < <(python3 -c 'import json,sys; print(*json.loads(sys.argv[1] or "{}").get("latencies_ms", []))' "$hang_json" | stats)
        log "hang→replacement median $hang_cell ms"
    fi

    # 7. Whole-run figures, then stop everything before reading the logs and the database.
    local final_metrics tick_max_ever dropped
    final_metrics=$(metrics)
    read -r tick_max_ever dropped < <(python3 "$PROBE" metric watchdogd_tick_duration_max_seconds \
        watchdogd_audit_rows_dropped_total <<<"$final_metrics" | tr '\n' ' ')
    tick_max_ever=$(awk -v v="$tick_max_ever" 'BEGIN { if (v == "nan") print "-"; else printf "%.1f", v * 1000 }')
    stop_procs

    local sim_note=""
    if [ "$nsim" -gt 0 ]; then
        sim_note="; sim writer ($nsim files every ${SIM_INTERVAL_MS} ms): ${sim_pct} % CPU in the CPU window, $(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("%s writes/s, max lag %s ms" % (s["writes_per_s"], s["max_lag_ms"]))' "$RUN_DIR/sim.json" 2>/dev/null || echo "no stats")"
    fi
    local warn_lines unhealthy top_warn slow_startup
    warn_lines=$(grep -c . "$RUN_DIR/daemon.log" || true)
    # The commonest log messages, with times and keys masked.
    top_warn=$(sed -E 's/^\[[^]]*\] //; s/\bs[0-9]+\b/sN/g; s/[0-9]+/#/g; s/\x60/\x27/g' "$RUN_DIR/daemon.log" \
        | sort | uniq -c | sort -rn | head -3 | awk '{ c = $1; $1 = ""; printf "%s%d× \"%s\"", (NR > 1 ? "; " : ""), c, substr($0, 2) }' || true)
    slow_startup=$(tail -1 "$RUN_DIR/startup.trace" 2>/dev/null || true)
    # Unhealthy checks recorded during the whole run, by health (startup included).
    if [ "$HAVE_SQLITE3" = 1 ]; then
        unhealthy=$(sqlite3 -readonly "$db" "SELECT group_concat(h || ' ' || c, ', ') FROM
            (SELECT health AS h, count(*) AS c FROM check_history WHERE health <> 'healthy' GROUP BY 1)" 2>/dev/null || true)
    else
        unhealthy=$(python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True); print(", ".join("%s %s" % r for r in c.execute("SELECT health, count(*) FROM check_history WHERE health <> '"'healthy'"' GROUP BY 1")))' "$db" 2>/dev/null || true)
    fi

    ROWS+=("| $N | $st_med | $st_p95 | $js_med | $rss_mib | $cpu_pct | $tick_med | $tick_max | $rows_s | $kill_cell | $hang_cell | $startup_s |")
    NOTES+=("- **N = $N** ($NREAL real, $nsim simulated): $checks_s checks/s in the CPU window; CPU while metrics were sampled once a second: $cpu_sampled %; RSS in the quiet window: $mem_note; after the client runs $rss_loaded MiB (peak VmHWM $hwm MiB); longest check batch since start $tick_max_ever ms; audit rows dropped (whole run): $dropped; start-all took $start_all_s s (exit $start_all_rc); unhealthy checks recorded: ${unhealthy:-none}; startup polls: ${slow_startup:-?}; daemon log lines (WARNING and above): $warn_lines${top_warn:+ ($top_warn)}$sim_note.")
    if [ -n "$kill_json" ]; then NOTES+=("  - kill -9 trials: \`$kill_json\`"); fi
    if [ -n "$hang_json" ]; then NOTES+=("  - SIGSTOP trials: \`$hang_json\`"); fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then NOTES+=("  - kept: $RUN_DIR, $HB_DIR"); fi

    stop_run
}

T_START=$(now)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for n in "${SIZES[@]}"; do
    run_one "$n" || { echo "run.sh: N=$n failed" >&2; stop_run; exit 1; }
done
T_END=$(now)

HEADER='| N | status median ms | status p95 ms | status --json median ms | RSS MiB | CPU % | tick median ms | tick max ms | rows/s | kill→healthy median / max ms | hang→replacement median ms | startup s |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
TABLE=$(printf '%s\n' "$HEADER" "${ROWS[@]}")
echo
echo "$TABLE"

# --- results file --------------------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
HOST=$(uname -n)
OUT=$RESULTS_DIR/$(date +%Y-%m-%d-%H%M)-$HOST.md
MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
{
    echo "# Benchmark: $(date -u +%Y-%m-%dT%H:%MZ) on $HOST"
    echo
    echo "\`bench/run.sh ${SIZES[*]}\`, $(awk -v a="$T_END" -v b="$T_START" 'BEGIN { printf "%.0f", a - b }') s in all."
    echo
    echo "$TABLE"
    echo
    echo "## Machine"
    echo
    echo "- CPU: $MODEL, $(nproc) cores (nproc)"
    echo "- memory: $MEM"
    echo "- kernel: $(uname -r)"
    echo "- $(rustc --version 2>/dev/null || echo 'rustc: not found')"
    echo "- checkout at the start: $REV; binaries: $BUILT_FROM"
    echo "- load average (1, 5, 15 min) at the start: $LOAD_START; at the end: $LOAD"
    echo "- tools: $(hyperfine --version), $(python3 --version 2>&1), $( [ "$HAVE_SQLITE3" = 1 ] && echo "sqlite3 $(sqlite3 --version | cut -d' ' -f1)" || echo "python sqlite3 module")"
    echo
    echo "## Setup"
    echo
    echo "check_interval_seconds 1, consecutive_failures_threshold 1, verify_delay 0.2, log_level WARNING."
    echo "s0: wd-test-service, heartbeat every 100 ms, timeout_seconds 3. Other services: heartbeat every"
    echo "$SIM_INTERVAL_MS ms, timeout_seconds $SIM_TIMEOUT_S; real processes for N <= $REAL_MAX, else written by one"
    echo "sim_writer.py process (recovery_actions [\"start\"], start \`true\`). Heartbeat files in ${HB_BASE:-the run folder}, database under /tmp."
    echo "Windows: ${WINDOW_S} s. Metrics read with"
    echo "$( [ "$METRICS_VIA" = ctl ] && echo '`watchdogctl metrics`' || echo 'bench/probe.py metrics-via-socket (this watchdogctl has no `metrics` command)')."
    echo
    echo "## Notes"
    echo
    printf '%s\n' "${NOTES[@]}"
} >"$OUT"
echo
echo "run.sh: wrote $OUT" >&2
