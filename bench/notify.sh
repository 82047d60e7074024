#!/usr/bin/env bash
# What a notify heartbeat costs the daemon (issue 13): its CPU while one service pings
# `WATCHDOG=1` R times a second through the real socket, against the same daemon while one
# service rewrites its heartbeat file R times a second.
#
#   bench/notify.sh [R...]        default: 1 100 1000
#
# For each rate and each kind (notify: wd-notify-service --ping-ms; file: wd-test-service
# --interval-ms), starts the release daemon with that one service (check interval 1 s, timeout
# 5 s), waits until it is healthy, then reads the daemon's utime+stime from /proc/PID/stat over
# BENCH_WINDOW_S seconds (default 30) and prints the share of one core. The senders' own CPU is
# not counted. Writes the table, with the machine, to bench/results/YYYY-MM-DD-HHMM-notify-<host>.md.
# Everything it starts is stopped by PID when it ends or is interrupted.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
if [ $# -gt 0 ]; then RATES=("$@"); else RATES=(1 100 1000); fi
WINDOW_S=${BENCH_WINDOW_S:-30}
RESULTS_DIR=${BENCH_RESULTS_DIR:-$HERE/results}
CLK_TCK=$(getconf CLK_TCK)
for r in "${RATES[@]}"; do
    [[ $r =~ ^[1-9][0-9]*$ ]] && [ "$r" -le 1000 ] || { echo "notify.sh: a rate is 1..1000 per second, got '$r'" >&2; exit 2; }
done

echo "notify.sh: cargo build --release ..." >&2
(cd "$ROOT" && cargo build --release -p watchdogd -p watchdogctl -p watchdog-tests --bins) >&2
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain -- . ':!bench' 2>/dev/null)" ]; then
    REV="$REV with uncommitted changes"
fi

DAEMON=""
WORK=""
cleanup() {
    if [ -n "$DAEMON" ]; then kill "$DAEMON" 2>/dev/null || true; wait "$DAEMON" 2>/dev/null || true; fi
    if [ -n "$WORK" ] && [ -f "$WORK/svc.starts" ]; then
        while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done < "$WORK/svc.starts"
    fi
    if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
    DAEMON=""
    WORK=""
}
trap cleanup EXIT INT TERM

cpu_ticks() { # utime + stime of PID
    local rest
    rest=$(sed 's/^.*) //' "/proc/$1/stat")
    awk '{print $12 + $13}' <<<"$rest"
}

# measure KIND RATE: prints the daemon's CPU share of one core, in percent.
measure() {
    local kind=$1 rate=$2 ms start
    ms=$((1000 / rate))
    WORK=$(mktemp -d /tmp/wdn.XXXXXX)
    if [ "$kind" = notify ]; then
        start="exec $BIN/wd-notify-service --starts-file svc.starts --ping-ms $ms"
        svc="{\"heartbeat\": \"notify\", \"timeout_seconds\": 5, \"commands\": {\"start\": \"$start\"}}"
    else
        start="exec $BIN/wd-test-service --heartbeat hb.json --key svc --starts-file svc.starts --interval-ms $ms"
        svc="{\"heartbeat_path\": \"hb.json\", \"timeout_seconds\": 5, \"commands\": {\"start\": \"$start\"}}"
    fi
    cat > "$WORK/config.json" <<JSON
{"socket_path": "wd.sock", "db_path": "wd.db", "notify_dir": "notify", "log_level": "WARNING",
 "check_interval_seconds": 1, "consecutive_failures_threshold": 1, "verify_delay": 0.2,
 "processes": {"svc": $svc}}
JSON
    (cd "$WORK" && exec "$BIN/watchdogd" --config config.json 2>watchdogd.log) &
    DAEMON=$!
    local deadline=$((SECONDS + 30))
    until "$BIN/watchdogctl" --socket "$WORK/wd.sock" status svc >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || { echo "notify.sh: $kind at $rate/s never got healthy" >&2; cat "$WORK/watchdogd.log" >&2; exit 1; }
        sleep 0.2
    done
    sleep 2 # settle: the start pipeline's tasks are done
    local t0 t1
    t0=$(cpu_ticks "$DAEMON")
    sleep "$WINDOW_S"
    t1=$(cpu_ticks "$DAEMON")
    "$BIN/watchdogctl" --socket "$WORK/wd.sock" status svc >/dev/null \
        || { echo "notify.sh: $kind at $rate/s was not healthy at the end" >&2; exit 1; }
    awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v w="$WINDOW_S" 'BEGIN { printf "%.2f %%", 100 * d / hz / w }'
    cleanup
}

TABLE="| messages/s | notify (\`WATCHDOG=1\`) | file (rewritten heartbeat) |
|---:|---:|---:|"
for rate in "${RATES[@]}"; do
    n=$(measure notify "$rate")
    f=$(measure file "$rate")
    TABLE="$TABLE
| $rate | $n | $f |"
    echo "notify.sh: $rate/s: notify $n, file $f" >&2
done

mkdir -p "$RESULTS_DIR"
OUT="$RESULTS_DIR/$(date -u +%Y-%m-%d-%H%M)-notify-$(hostname -s).md"
{
    echo "# Notify heartbeats: daemon CPU by message rate"
    echo
    echo "bench/notify.sh, checkout $REV, window ${WINDOW_S} s; the daemon's CPU (utime + stime from"
    echo "/proc) as a share of one core, with one service beating at the rate given."
    echo
    echo "$TABLE"
    echo
    echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(uname -sr)."
} > "$OUT"
echo "$TABLE"
echo "notify.sh: wrote $OUT" >&2
