# shellcheck shell=bash
# Heartbeats for shell services: source this file, then call
#
#   watchdog_beat PATH KEY [STATUS]
#
# to write one heartbeat for the calling shell ($$) to PATH, atomically (temp file + rename).
# STATUS defaults to "running"; anything else asks watchdogd to recover the service.
# WATCHDOG_ITERATION counts the beats of this shell. Needs bash 4.2+ (bash 5 for microseconds;
# older shells fall back to `date`).

WATCHDOG_ITERATION=${WATCHDOG_ITERATION:-0}

watchdog_beat() {
    local path=$1 key=$2 status=${3:-running} ts secs micros tmp
    if [ -z "$path" ] || [ -z "$key" ]; then
        echo "usage: watchdog_beat PATH KEY [STATUS]" >&2
        return 2
    fi
    WATCHDOG_ITERATION=$((WATCHDOG_ITERATION + 1))
    if [ -n "${EPOCHREALTIME:-}" ]; then
        secs=${EPOCHREALTIME%[.,]*}
        micros=${EPOCHREALTIME#*[.,]}
        TZ=UTC0 printf -v ts '%(%Y-%m-%dT%H:%M:%S)T.%s+00:00' "$secs" "$micros"
    else
        ts=$(date -u +%Y-%m-%dT%H:%M:%S.000000+00:00)
    fi
    # JSON-escape the two strings (backslash and double quote; control characters are dropped).
    key=${key//\\/\\\\}; key=${key//\"/\\\"}; key=$(printf '%s' "$key" | tr -d '\000-\037')
    status=${status//\\/\\\\}; status=${status//\"/\\\"}; status=$(printf '%s' "$status" | tr -d '\000-\037')
    mkdir -p "$(dirname "$path")" || return 1
    tmp="$(dirname "$path")/.$(basename "$path").$$.tmp"
    printf '{"process_key": "%s", "pid": %d, "timestamp": "%s", "status": "%s", "iteration": %d}\n' \
        "$key" "$$" "$ts" "$status" "$WATCHDOG_ITERATION" > "$tmp" && mv -f "$tmp" "$path"
}
