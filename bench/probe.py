#!/usr/bin/env python3
"""Helpers for bench/run.sh that need millisecond timing or JSON (run.sh stays the orchestrator).

    probe.py wait-healthy CTL SOCK N TIMEOUT_S [TRACE]
        Poll `CTL --socket SOCK status --json` until N services are healthy. Prints the wall-clock
        time (epoch seconds) of the reply that first showed all N healthy; exit 1 on timeout.
        TRACE: append one line per poll (time sent, reply ms, healthy, not yet checked) and a
        final JSON summary line.
    probe.py kill CTL SOCK KEY HEARTBEAT COUNT TAG
    probe.py hang CTL SOCK KEY HEARTBEAT COUNT TAG
        kill: COUNT times SIGKILL the PID the heartbeat file names and poll the FILE (not the
        daemon) until it names another PID; latency = the new heartbeat's timestamp - the time of
        the kill. hang: COUNT times SIGSTOP it instead; latency = the new heartbeat's timestamp -
        the last heartbeat the stopped process wrote. Only a PID whose command line contains TAG
        (the run's temp folder) is ever signalled. Prints JSON {"latencies_ms": [...], ...}.
    probe.py metric NAME [NAME...]
        Reads OpenMetrics text on stdin, prints the value of each NAME (one line each, "nan" if
        absent).
    probe.py metrics-via-socket SOCK [PROTOCOL_VERSION]
        Asks the daemon for its metrics (Request::Metrics) over the control socket, for clients
        that have no `watchdogctl metrics` yet; prints the text. Without PROTOCOL_VERSION it is
        learned from the daemon's refusal of version 0 (printed on stderr as "protocol N").
"""

import datetime
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

POLL_S = 0.001  # heartbeat-file poll period for kill/hang


def status_json(ctl, sock, key=None, timeout=30):
    cmd = [ctl, "--socket", sock, "status", "--json"]
    if key:
        cmd.insert(4, key)
    out = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if not out.stdout.strip():
        return []
    try:
        return json.loads(out.stdout)
    except ValueError:
        return []


def wait_healthy(ctl, sock, n, timeout_s, trace=None):
    start = time.time()
    deadline = start + timeout_s
    healthy = 0
    polls, slowest = 0, 0.0
    out = open(trace, "a") if trace else None
    try:
        while time.time() < deadline:
            sent = time.time()
            rows = status_json(ctl, sock)
            seen = time.time()
            polls += 1
            slowest = max(slowest, seen - sent)
            healthy = sum(1 for r in rows if r.get("health") == "healthy")
            unchecked = sum(1 for r in rows if r.get("health") is None)
            if out:
                out.write(f"{sent - start:.3f} {1000 * (seen - sent):.1f}ms healthy={healthy} "
                          f"unchecked={unchecked} rows={len(rows)}\n")
            if healthy >= n:
                if out:
                    out.write(json.dumps({"polls": polls, "slowest_reply_ms": round(1000 * slowest, 1)}) + "\n")
                print(f"{seen:.6f}")
                return 0
            time.sleep(0.05)
    finally:
        if out:
            out.close()
    print(f"timeout: {healthy}/{n} healthy", file=sys.stderr)
    return 1


def parse_ts(text):
    """RFC 3339 from a heartbeat → epoch seconds."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def read_hb(path):
    try:
        with open(path, "rb") as f:
            beat = json.loads(f.read())
        return int(beat["pid"]), parse_ts(beat["timestamp"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def owned(pid, tag):
    """Whether PID is one of this run's services (its command line names the run's folder)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return tag.encode() in f.read()
    except OSError:
        return False


def settle(ctl, sock, key, not_pid, timeout_s=15.0):
    """Wait until the daemon reports KEY healthy, running, 0 failures, with a PID other than
    not_pid, then one more check interval, so the next trial starts from a steady state."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        rows = status_json(ctl, sock, key)
        r = rows[0] if rows else {}
        if (r.get("health") == "healthy" and r.get("state") == "running"
                and r.get("pid") not in (None, not_pid) and r.get("consecutive_failures") == 0):
            time.sleep(1.2)
            return True
        time.sleep(0.1)
    return False


def trial(mode, ctl, sock, key, hb, tag, timeout_s):
    cur = read_hb(hb)
    if cur is None:
        return {"error": "no heartbeat"}
    pid, _ = cur
    if not owned(pid, tag):
        return {"error": f"pid {pid} is not this run's service; not signalled"}
    last_old = None
    if mode == "kill":
        t0 = time.time()
        os.kill(pid, signal.SIGKILL)
    else:
        os.kill(pid, signal.SIGSTOP)
        t0 = time.time()
    deadline = t0 + timeout_s
    result = None
    while time.time() < deadline:
        beat = read_hb(hb)
        if beat is not None:
            if beat[0] == pid:
                last_old = beat[1] if last_old is None else max(last_old, beat[1])
            else:
                seen = time.time()
                new_ts = beat[1]
                base = t0 if mode == "kill" else last_old
                result = {
                    "old_pid": pid,
                    "new_pid": beat[0],
                    "latency_ms": round((new_ts - base) * 1000.0, 1),
                    "observed_ms": round((seen - t0) * 1000.0, 1),
                }
                break
        time.sleep(POLL_S)
    if mode == "hang" and owned(pid, tag):
        # The daemon's kill normally ends it (SIGTERM + SIGCONT); never leave it stopped.
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if result is None:
        return {"error": f"no new heartbeat within {timeout_s} s", "old_pid": pid}
    if not settle(ctl, sock, key, pid):
        result["warning"] = "did not settle healthy"
    return result


def kill_or_hang(mode, ctl, sock, key, hb, count, tag):
    timeout_s = 10.0 if mode == "kill" else 20.0
    trials = []
    for _ in range(count):
        trials.append(trial(mode, ctl, sock, key, hb, tag, timeout_s))
    lat = [t["latency_ms"] for t in trials if "latency_ms" in t]
    print(json.dumps({"mode": mode, "latencies_ms": lat, "trials": trials}))
    return 0 if len(lat) == count else 1


def metric(names):
    values = {}
    for line in sys.stdin:
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split()
        if len(parts) >= 2 and "{" not in parts[0]:
            values[parts[0]] = parts[1]
    for n in names:
        print(values.get(n, "nan"))
    return 0


def varint(n):
    """bincode 2 standard() varint for an unsigned integer."""
    if n < 251:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfb" + struct.pack("<H", n)
    if n < 1 << 32:
        return b"\xfc" + struct.pack("<I", n)
    return b"\xfd" + struct.pack("<Q", n)


def read_varint(buf, i):
    b = buf[i]
    if b < 251:
        return b, i + 1
    size = {251: 2, 252: 4, 253: 8}[b]
    fmt = {2: "<H", 4: "<I", 8: "<Q"}[size]
    return struct.unpack(fmt, buf[i + 1:i + 1 + size])[0], i + 1 + size


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError("daemon closed the connection")
        data += chunk
    return data


# Variant indices of protocol::Request / Response (protocol/src/message.rs; only ever appended).
REQUEST_METRICS = 13
RESPONSE_ERROR = 0
RESPONSE_METRICS = 9


def ask_metrics(sock_path, protocol_version):
    """One Metrics request; returns (response variant, text)."""
    version = b"bench"
    header = varint(0x57444F47) + varint(protocol_version) + varint(len(version)) + version
    payload = header + varint(REQUEST_METRICS)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(sock_path)
        s.sendall(struct.pack(">I", len(payload)) + payload)
        (length,) = struct.unpack(">I", recv_exact(s, 4))
        body = recv_exact(s, length)
    kind, i = read_varint(body, 0)
    if kind == RESPONSE_ERROR:
        _err_kind, i = read_varint(body, i)
    n, i = read_varint(body, i)
    return kind, body[i:i + n].decode(errors="replace")


def metrics_via_socket(sock_path, protocol_version=None):
    if protocol_version is None:
        kind, text = ask_metrics(sock_path, 0)
        m = re.search(r"daemon speaks (\d+)", text) if kind == RESPONSE_ERROR else None
        if not m:
            print(f"cannot learn the protocol version: {text}", file=sys.stderr)
            return 1
        protocol_version = int(m.group(1))
        print(f"protocol {protocol_version}", file=sys.stderr)
    kind, text = ask_metrics(sock_path, protocol_version)
    if kind == RESPONSE_METRICS:
        sys.stdout.write(text)
        return 0
    print(f"daemon answered variant {kind}, not metrics: {text}", file=sys.stderr)
    return 1


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, rest = argv[1], argv[2:]
    if cmd == "wait-healthy":
        return wait_healthy(rest[0], rest[1], int(rest[2]), float(rest[3]),
                            rest[4] if len(rest) > 4 else None)
    if cmd in ("kill", "hang"):
        return kill_or_hang(cmd, rest[0], rest[1], rest[2], rest[3], int(rest[4]), rest[5])
    if cmd == "metric":
        return metric(rest)
    if cmd == "metrics-via-socket":
        return metrics_via_socket(rest[0], int(rest[1]) if len(rest) > 1 else None)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
