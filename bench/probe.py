#!/usr/bin/env python3
"""Helpers for bench/run.sh that need millisecond timing or JSON (run.sh stays the orchestrator).

    probe.py wait-healthy CTL SOCK N TIMEOUT_S [TRACE]
        Poll `CTL --socket SOCK status --json` until N services are healthy. Prints the wall-clock
        time (epoch seconds) of the reply that first showed all N healthy; exit 1 on timeout.
        TRACE: append one line per poll (time sent, reply ms, healthy, not yet checked) and a
        final JSON summary line.
    probe.py kill CTL SOCK KEY HEARTBEAT COUNT TAG [SETTLE_S]
    probe.py hang CTL SOCK KEY HEARTBEAT COUNT TAG [SETTLE_S]
        kill: COUNT times SIGKILL the PID the heartbeat file names and poll the FILE (not the
        daemon) until it names another PID; latency = the new heartbeat's timestamp - the time of
        the kill. hang: COUNT times SIGSTOP it instead; latency = the new heartbeat's timestamp -
        the last heartbeat the stopped process wrote. While the process is stopped, hang also asks
        the daemon (`CTL status KEY --json`, one call after the other) until it reports the service anything
        but healthy: silence_seen_ms (from the SIGSTOP) and silence_after_beat_ms (from the last
        heartbeat's timestamp). Only a PID whose command line contains TAG (the run's temp
        folder) is ever signalled. Prints JSON {"latencies_ms": [...], ...}; every trial also
        names the signalled process's parent (old_ppid), so a caller can tell an adopted process
        from a child of the daemon. After each trial it waits until the daemon reports KEY healthy
        again, then SETTLE_S more (default 1.2): pass the service's start grace (its
        timeout_seconds), so that the next trial kills a service that is past it.
    probe.py storm CTL SOCK N TAG HB_DIR NREAL SIM_PID PAUSED_FILE PERIOD_MS CALL_TIMEOUT_S
                   TIMEOUT_S TRACE
        Every service stale at once, then recovered: SIGKILLs the PID each real service's
        heartbeat (HB_DIR/s0.json .. s{NREAL-1}.json) names and sends SIGUSR1 to the simulated
        writer SIM_PID ("-": none), whose stopped count is in PAUSED_FILE. Meanwhile, and until
        every service is healthy and running again (no real one on a killed PID, no simulated key
        stopped) or TIMEOUT_S has passed, runs `CTL status` every PERIOD_MS, each call cut off
        after CALL_TIMEOUT_S (a cut-off call counts as CALL_TIMEOUT_S). Prints JSON: latency
        median/p95/max over the storm, cut-off and failed calls, seconds until all healthy, most
        services seen unhealthy / queued at once. TRACE gets one line per call.
    probe.py time RUNS WARMUP OUT_JSON CMD [CMD...]
        A timing loop in rounds: WARMUP + RUNS rounds, each running every CMD (one shell-split
        string) once, in an order that rotates, spawned directly (posix_spawn, no shell), stdout
        and stderr to /dev/null; wall time from the spawn to the reaped exit. Writes
        {"results": [{"command", "times": [seconds...], "exit_codes"}]} like
        `hyperfine --export-json`.
    probe.py run-pids TAG
        PIDs whose command line contains TAG (the run's heartbeat folder: every real service and
        the writer name it), except this process, its parent and other probe.py processes; for
        run.sh's cleanup, which then signals exactly those PIDs.
    probe.py metric NAME [NAME...]
        Reads OpenMetrics text on stdin, prints the value of each NAME (one line each, "nan" if
        absent).
    probe.py metrics-via-socket SOCK [PROTOCOL_VERSION]
        Asks the daemon for its metrics (Request::Metrics) over the control socket, for clients
        that have no `watchdogctl metrics` yet; prints the text. Without PROTOCOL_VERSION it is
        learned from the daemon's refusal of version 0 (printed on stderr as "protocol N").
    probe.py linkage BINARY
        Prints "static" when the ELF file BINARY has no program interpreter (PT_INTERP), else
        "dynamic (PATH)" with the interpreter's path: which build a results file measured.
"""

import datetime
import json
import os
import re
import shlex
import signal
import statistics
import socket
import struct
import subprocess
import sys
import time

POLL_S = 0.001  # heartbeat-file poll period for kill/hang
STATUS_POLL_S = 0.002  # pause between `status KEY --json` calls while waiting for the silence


def status_json(ctl, sock, key=None, timeout=30):
    cmd = [ctl, "--socket", sock, "status", "--json"]
    if key:
        cmd.insert(4, key)
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return []
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


def parent_of(pid):
    """PPID from /proc/PID/stat (counted from the last ')': the comm field may hold spaces)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def first_unhealthy(ctl, sock, key, deadline):
    """Asks `status KEY --json` again and again (STATUS_POLL_S apart); the time the first reply
    that is not healthy arrived."""
    while time.time() < deadline:
        rows = status_json(ctl, sock, key, timeout=5)
        seen = time.time()
        if rows and rows[0].get("health") not in (None, "healthy"):
            return seen, rows[0].get("health")
        time.sleep(STATUS_POLL_S)
    return None, None


def settle(ctl, sock, key, not_pid, settle_s, timeout_s=15.0):
    """Wait until the daemon reports KEY healthy, running, 0 failures, with a PID other than
    not_pid, then settle_s more, so the next trial starts from a steady state."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        rows = status_json(ctl, sock, key)
        r = rows[0] if rows else {}
        if (r.get("health") == "healthy" and r.get("state") == "running"
                and r.get("pid") not in (None, not_pid) and r.get("consecutive_failures") == 0):
            time.sleep(settle_s)
            return True
        time.sleep(0.1)
    return False


def trial(mode, ctl, sock, key, hb, tag, timeout_s, settle_s):
    cur = read_hb(hb)
    if cur is None:
        return {"error": "no heartbeat"}
    pid, last_old = cur
    if not owned(pid, tag):
        return {"error": f"pid {pid} is not this run's service; not signalled"}
    ppid = parent_of(pid)
    if mode == "kill":
        t0 = time.time()
        os.kill(pid, signal.SIGKILL)
    else:
        os.kill(pid, signal.SIGSTOP)
        t0 = time.time()
    deadline = t0 + timeout_s
    result = {"old_pid": pid, "old_ppid": ppid}
    if mode == "hang":
        # The daemon's view first: when does a reader see the silence? The heartbeat file cannot
        # change meanwhile (its writer is stopped), unless the daemon replaced the process.
        seen, health = first_unhealthy(ctl, sock, key, deadline)
        beat = read_hb(hb)
        if beat is not None and beat[0] == pid:
            last_old = max(last_old, beat[1])
        if seen is not None:
            result["silence_seen_ms"] = round((seen - t0) * 1000.0, 1)
            result["silence_after_beat_ms"] = round((seen - last_old) * 1000.0, 1)
            result["silence_health"] = health
    found = False
    while time.time() < deadline:
        beat = read_hb(hb)
        if beat is not None:
            if beat[0] == pid:
                last_old = max(last_old, beat[1])
            else:
                seen = time.time()
                base = t0 if mode == "kill" else last_old
                result.update({
                    "new_pid": beat[0],
                    "latency_ms": round((beat[1] - base) * 1000.0, 1),
                    "observed_ms": round((seen - t0) * 1000.0, 1),
                })
                found = True
                break
        time.sleep(POLL_S)
    if mode == "hang" and owned(pid, tag):
        # The daemon's kill normally ends it (SIGTERM + SIGCONT); never leave it stopped.
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if not found:
        result["error"] = f"no new heartbeat within {timeout_s} s"
        return result
    if not settle(ctl, sock, key, pid, settle_s):
        result["warning"] = "did not settle healthy"
    return result


def kill_or_hang(mode, ctl, sock, key, hb, count, tag, settle_s):
    timeout_s = 10.0 if mode == "kill" else 20.0
    trials = []
    for _ in range(count):
        trials.append(trial(mode, ctl, sock, key, hb, tag, timeout_s, settle_s))
    lat = [t["latency_ms"] for t in trials if "latency_ms" in t]
    out = {"mode": mode, "latencies_ms": lat}
    if mode == "hang":
        out["silence_seen_ms"] = [t["silence_seen_ms"] for t in trials if "silence_seen_ms" in t]
        out["silence_after_beat_ms"] = [t["silence_after_beat_ms"] for t in trials
                                        if "silence_after_beat_ms" in t]
    out["trials"] = trials
    print(json.dumps(out))
    return 0 if len(lat) == count else 1


def p95(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, -(-95 * len(xs) // 100) - 1))]


def parse_table(text):
    """`watchdogctl status` table → [(key, state, health, pid)], columns found by the header
    (KEY NAME STATE HEALTH PID ...; the bench's keys and display names are one word each)."""
    lines = text.splitlines()
    if not lines:
        return []
    col = {name: i for i, name in enumerate(lines[0].split())}
    if not all(c in col for c in ("KEY", "STATE", "HEALTH", "PID")):
        return []
    k, st, h, p = col["KEY"], col["STATE"], col["HEALTH"], col["PID"]
    rows = []
    for line in lines[1:]:
        f = line.split()
        if len(f) > max(k, st, h, p) and re.fullmatch(r"s[0-9]+", f[k]):
            rows.append((f[k], f[st], f[h], f[p]))
    return rows


def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return None


def storm(ctl, sock, n, tag, hb_dir, nreal, sim_pid, paused_file, period_ms, call_timeout_s,
          timeout_s, trace):
    killed = set()
    for i in range(nreal):
        beat = read_hb(os.path.join(hb_dir, f"s{i}.json"))
        if beat and owned(beat[0], tag):
            killed.add(beat[0])
    sim = None if sim_pid == "-" else int(sim_pid)
    if sim is not None and not owned(sim, hb_dir):   # the writer's command line names HB_DIR
        print(json.dumps({"error": f"writer {sim} is not this run's; not signalled"}))
        return 1
    t0 = time.time()
    for pid in killed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if sim is not None:
        os.kill(sim, signal.SIGUSR1)
    killed_s = {str(p) for p in killed}
    lat, cut, failed = [], 0, 0
    most_unhealthy = most_queued = 0
    first_down = done = None
    deadline = t0 + timeout_s
    with open(trace, "w") as out:
        while time.time() < deadline:
            sent = time.time()
            try:
                r = subprocess.run([ctl, "--socket", sock, "status"], capture_output=True,
                                   timeout=call_timeout_s)
                took = time.time() - sent
                ok = r.returncode == 0
                text = r.stdout.decode(errors="replace")
            except subprocess.TimeoutExpired:
                took, ok, text = float(call_timeout_s), False, ""
                cut += 1
            lat.append(took * 1000.0)
            rows = parse_table(text) if ok else []
            if not ok and took < call_timeout_s:
                failed += 1
            unhealthy = sum(1 for _k, st, h, pid in rows
                            if h != "healthy" or st != "running" or pid in killed_s)
            queued = sum(1 for _k, st, _h, _p in rows if st == "queued")
            paused = read_int(paused_file) if sim is not None else 0
            most_unhealthy = max(most_unhealthy, unhealthy)
            most_queued = max(most_queued, queued)
            if first_down is None and (unhealthy or paused):
                first_down = sent - t0
            out.write(f"{sent - t0:.3f} {took * 1000:.1f}ms rc={'ok' if ok else 'fail'} "
                      f"rows={len(rows)} unhealthy={unhealthy} queued={queued} paused={paused}\n")
            if ok and len(rows) == n and unhealthy == 0 and paused == 0 and (
                    first_down is not None or sim is None):
                done = time.time() - t0
                break
            # One call every PERIOD_MS (at once after a call that took longer).
            time.sleep(max(0.0, sent + period_ms / 1000.0 - time.time()))
    res = {
        "killed": len(killed), "writer_paused": sim is not None, "calls": len(lat),
        "median_ms": round(statistics.median(lat), 1) if lat else None,
        "p95_ms": round(p95(lat), 1) if lat else None,
        "max_ms": round(max(lat), 1) if lat else None,
        "cut_off": cut, "failed": failed,
        "first_unhealthy_s": None if first_down is None else round(first_down, 2),
        "all_healthy_s": None if done is None else round(done, 2),
        "most_unhealthy": most_unhealthy, "most_queued": most_queued,
    }
    print(json.dumps(res))
    return 0 if done is not None else 1


def time_commands(runs, warmup, out_json, cmds):
    """Runs the commands in rounds, each round every command once (the order rotating), so that
    a busy moment on a shared machine costs every command alike and the ratios stay fair."""
    devnull = os.open(os.devnull, os.O_RDWR)
    argvs = [shlex.split(c) for c in cmds]
    times = [[] for _ in cmds]
    codes = [[] for _ in cmds]
    for r in range(warmup + runs):
        for k in range(len(cmds)):
            i = (r + k) % len(cmds)
            t0 = time.perf_counter()
            pid = os.posix_spawn(argvs[i][0], argvs[i], os.environ,
                                 file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1),
                                               (os.POSIX_SPAWN_DUP2, devnull, 2)])
            _, status = os.waitpid(pid, 0)
            took = time.perf_counter() - t0
            if r >= warmup:
                times[i].append(took)
                codes[i].append(os.waitstatus_to_exitcode(status))
    results = [{"command": c, "times": t, "exit_codes": e} for c, t, e in zip(cmds, times, codes)]
    with open(out_json, "w") as f:
        json.dump({"results": results}, f)
    return 0


def run_pids(tag):
    me, parent, this = os.getpid(), os.getppid(), os.path.abspath(__file__).encode()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (me, parent):
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if tag.encode() in cmdline and this not in cmdline:
            print(name)
    return 0


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


def linkage(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        print(f"{path}: not a 64-bit little-endian ELF file", file=sys.stderr)
        return 1
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        off = phoff + i * phentsize
        p_type, = struct.unpack_from("<I", data, off)
        if p_type == 3:  # PT_INTERP
            p_offset, = struct.unpack_from("<Q", data, off + 8)
            p_filesz, = struct.unpack_from("<Q", data, off + 32)
            interp = data[p_offset:p_offset + p_filesz].rstrip(b"\0").decode()
            print(f"dynamic ({interp})")
            return 0
    print("static")
    return 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, rest = argv[1], argv[2:]
    if cmd == "wait-healthy":
        return wait_healthy(rest[0], rest[1], int(rest[2]), float(rest[3]),
                            rest[4] if len(rest) > 4 else None)
    if cmd in ("kill", "hang"):
        return kill_or_hang(cmd, rest[0], rest[1], rest[2], rest[3], int(rest[4]), rest[5],
                            float(rest[6]) if len(rest) > 6 else 1.2)
    if cmd == "storm":
        return storm(rest[0], rest[1], int(rest[2]), rest[3], rest[4], int(rest[5]), rest[6],
                     rest[7], float(rest[8]), float(rest[9]), float(rest[10]), rest[11])
    if cmd == "time":
        return time_commands(int(rest[0]), int(rest[1]), rest[2], rest[3:])
    if cmd == "run-pids":
        return run_pids(rest[0])
    if cmd == "metric":
        return metric(rest)
    if cmd == "metrics-via-socket":
        return metrics_via_socket(rest[0], int(rest[1]) if len(rest) > 1 else None)
    if cmd == "linkage":
        return linkage(rest[0])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
