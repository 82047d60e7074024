"""Heartbeats for Python services supervised by watchdogd (no dependencies).

Same API as the seed's HeartbeatWriter:

    from heartbeat import HeartbeatWriter

    writer = HeartbeatWriter(heartbeat_dir="heartbeats", process_key="my_server")
    while running:
        do_work()
        writer.beat()          # status "running"; anything else asks watchdogd to recover
    writer.stop()              # clean shutdown: removes the heartbeat file

Or name the file directly: HeartbeatWriter(process_key="api", path="/var/lib/api/hb.json").
Each beat is written atomically (a temp file in the same folder, then os.replace), so watchdogd
never reads half a file. From a shell: python3 heartbeat.py PATH KEY [STATUS] writes one beat
naming the calling process's parent (the shell).
"""

import json
import os
import sys
import tempfile
from datetime import datetime, timezone


class HeartbeatWriter:
    """Rewrites one heartbeat file for this process."""

    def __init__(self, heartbeat_dir="heartbeats", process_key="service", path=None, pid=None):
        self.process_key = process_key
        self.path = path or os.path.join(heartbeat_dir, f"{process_key}.json")
        self.pid = pid if pid is not None else os.getpid()
        self.iteration = 0

    def beat(self, status="running"):
        """Writes one heartbeat with `status` ("running" when healthy)."""
        self.iteration += 1
        record = {
            "process_key": self.process_key,
            "pid": self.pid,
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "status": status,
            "iteration": self.iteration,
        }
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".hb-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(record, f)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def stop(self):
        """Removes the heartbeat file (clean shutdown); a missing file is fine."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: heartbeat.py PATH KEY [STATUS]")
    HeartbeatWriter(process_key=sys.argv[2], path=sys.argv[1], pid=os.getppid()).beat(
        sys.argv[3] if len(sys.argv) > 3 else "running"
    )
