"""Real test-kraft-server-start processes on loopback, for the quorum tests.

Every wait is bounded; :class:`Quorum` kills whatever is still running when
the test ends.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import loopback_ports

SCRIPT = Path(sys.executable).parent / "test-kraft-server-start"
STATS = re.compile(r"^Throughput \(bytes/second\): [0-9.]+, Latency \(ms\): \S+ p75 \S+ p99 \S+ p999$")
LEADER = re.compile(r"Leader is now (\d+) in epoch (\d+)")
HIGH_WATERMARK = re.compile(r"high watermark (\d+)")
STARTED = re.compile(r"Node \d+ \(directory id \S+\) started on")


def free_ports(n: int) -> list[int]:
    """``n`` loopback ports for nodes to bind, reserved against every other test run on the machine
    until the test ends (``loopback_ports``: port 0's ports went to two runs at once)."""
    return loopback_ports.reserve(n)


class _Lines:
    """Lines of a stream, collected by a thread."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, pattern: re.Pattern, timeout: float, start: int = 0) -> Optional[re.Match]:
        deadline = time.monotonic() + timeout
        with self._cond:
            index = start
            while True:
                while index < len(self.lines):
                    match = pattern.search(self.lines[index])
                    if match:
                        return match
                    index += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def join(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) until every line is read: the stream ended, its writer exited."""
        self._thread.join(timeout)

    def matches(self, pattern: re.Pattern) -> list[re.Match]:
        with self._cond:
            return [m for m in (pattern.search(line) for line in self.lines) if m]

    def __len__(self):
        with self._cond:
            return len(self.lines)


class NodeProcess:
    def __init__(self, node_id: int, config: Path, args: tuple = ()):
        self.node_id = node_id
        self.config = config
        self.args = args
        self.process: Optional[subprocess.Popen] = None
        self.stdout: Optional[_Lines] = None
        self.stderr: Optional[_Lines] = None

    def start(self) -> "NodeProcess":
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen([str(SCRIPT), "--config", str(self.config), *self.args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.stdout = _Lines(self.process.stdout)
        self.stderr = _Lines(self.process.stderr)
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.running:
            self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """The exit status, once every line the node wrote has been read too (the reader threads
        lag behind the process under load: a line logged just before exiting would be missed)."""
        status = self.process.wait(timeout)
        for lines in (self.stdout, self.stderr):
            lines.join(timeout)
        return status

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait for the exit status."""
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.running:
            self.process.kill()
            self.wait(30)

    def stderr_text(self) -> str:
        return "\n".join(self.stderr.lines) if self.stderr else ""


class Quorum:
    """Writes the configs of ``size`` nodes on free loopback ports; starts and stops them."""

    def __init__(self, tmp_path: Path, size: int, extra: Optional[dict] = None, args: tuple = ()):
        self.ports = free_ports(size)
        self.log_dirs = {}
        self.nodes: dict[int, NodeProcess] = {}
        voters = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(self.ports))
        for i, port in enumerate(self.ports):
            node_id = i + 1
            self.log_dirs[node_id] = tmp_path / f"logs-{node_id}"
            lines = [f"node.id={node_id}", f"listeners=PLAINTEXT://127.0.0.1:{port}",
                     "controller.listener.names=PLAINTEXT", f"controller.quorum.voters={voters}",
                     f"log.dirs={self.log_dirs[node_id]}"]
            for key, value in ((extra or {}).get(node_id) or {}).items():
                lines.append(f"{key}={value}")
            path = tmp_path / f"kraft-{node_id}.properties"
            path.write_text("\n".join(lines) + "\n")
            self.nodes[node_id] = NodeProcess(node_id, path, args)

    def start(self, *node_ids: int) -> None:
        for node_id in node_ids or self.nodes:
            self.nodes[node_id].start()

    def restart(self, node_id: int) -> NodeProcess:
        old = self.nodes[node_id]
        self.nodes[node_id] = NodeProcess(node_id, old.config, old.args).start()
        return self.nodes[node_id]

    def leader(self, timeout: float) -> Optional[int]:
        """The node that prints the summary line first (only the leader prints it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node_id, node in self.nodes.items():
                if node.running and node.stdout.matches(STATS):
                    return node_id
            time.sleep(0.1)
        return None

    def kill_all(self) -> None:
        for node in self.nodes.values():
            node.kill()

    def diagnostics(self) -> str:
        return "\n".join(f"--- node {i} stderr (last 30 lines)\n" + "\n".join(n.stderr.lines[-30:])
                         for i, n in self.nodes.items() if n.stderr)


def replay_log_dir(partition_dir: Path) -> tuple[dict, dict, dict]:
    """Replay one stopped node's log directory as the test server would.

    From the earliest snapshot (or offset 0) through every batch of the log, counts the data
    records committed before each batch boundary.  Returns three maps: every snapshot on disk to
    the count it holds (the test server's state record), every batch boundary reached to the
    count there, and every batch's base offset to its raw bytes (all the log holds).  A gap in
    the log, or a log that starts after its earliest snapshot (or after 0 with none), fails.
    The log may start before the earliest snapshot: as in Kafka, the segment that was active
    when an older snapshot was deleted stays until it rolls.
    """
    from kraft.records import decode_batches
    from kraft.storage.replicated_log import FileReplicatedLog
    from kraft.tools.snapshots import TestServerState

    def state_of(reader) -> int:
        state = TestServerState(None, max_bytes_between_snapshots=1, max_interval_ms=0, clock=lambda: 0)
        state.load_snapshot(reader)
        return state.committed_records

    log = FileReplicatedLog.open(partition_dir)
    try:
        snapshots = {s.offset: state_of(log.read_snapshot(s)) for s in log.snapshot_ids()}
        replay_from = min(snapshots) if snapshots else 0
        assert log.start_offset <= replay_from, \
            f"{partition_dir}: log starts at {log.start_offset}, after {replay_from}"
        counts, raw = {replay_from: snapshots.get(replay_from, 0)}, {}
        offset, count = log.start_offset, None
        while offset < log.end_offset:
            for batch in decode_batches(log.read(offset, 1 << 20).records):
                assert batch.base_offset == offset, f"{partition_dir}: gap at {offset}"
                raw[offset] = bytes(batch.buffer)
                if offset == replay_from:
                    count = counts[replay_from]
                if count is not None:
                    count += 0 if batch.is_control else batch.record_count
                offset = batch.last_offset + 1
                if count is not None:
                    counts[offset] = count
        assert count is not None or log.end_offset <= replay_from, \
            f"{partition_dir}: no batch starts at the earliest snapshot's end {replay_from}"
        return snapshots, counts, raw
    finally:
        log.close()
