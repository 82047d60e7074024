#!/usr/bin/env bash
# A demo cleanup action: watchdogd runs it between kill and start, with --force.
set -eu
if [ "${1:-}" != "--force" ]; then
    echo "refusing to clear without --force" >&2
    exit 1
fi
echo "demo cache cleared for ${WATCHDOG_PROCESS_KEY:-?}"
