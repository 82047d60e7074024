#!/usr/bin/env bash
# A demo service for config.example.json: does "work" and beats every 2 seconds.
#
#   demo-service.sh HEARTBEAT_PATH [KEY]
#
# Send it SIGSTOP to watch watchdogd recover a hung service, or kill -9 it for a crash.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../heartbeat/heartbeat.sh
. "$here/../heartbeat/heartbeat.sh"
hb=${1:?usage: demo-service.sh HEARTBEAT_PATH [KEY]}
key=${2:-demo}
trap 'rm -f "$hb"; exit 0' TERM INT
while :; do
    watchdog_beat "$hb" "$key" running
    sleep 2 &
    wait $!
done
