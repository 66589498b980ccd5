"""One PySyncObj node for the quorum benchmark: the peer doing kraft's test-server work.

    python pysyncobj_node.py --port P --partner P2 --partner P3
                             [--rate N | --window N] [--record-size 256] [--max-records N]

A three-node cluster of these processes on 127.0.0.1 replicates fixed-size
appends through a ``@replicated`` method.  As kraft's test server does, only
the leader generates load, from the moment it becomes leader:

* ``--rate N`` (open loop): record *n* since the claim is submitted once
  ``n / N`` seconds have passed (at once when behind);
* ``--window N`` (closed loop): N appends outstanding, a new one submitted as
  each completes.

Each append's latency runs from the submit call to its commit callback; the
leader reports them as QBENCH lines (see ``quorum_common``).  Every node also
writes ``QSTATE {"applied": <records>, "bytes": <bytes>, "submitted": <appends>}``
when its replicated state or its own submissions change (at most every
quarter second), so a test can check replication.

PySyncObj runs with its defaults: in memory, no journal file (so no fsync),
its own thread ticking the node (``autoTick``) while the main thread submits.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, replicated

from quorum_common import EMIT_INTERVAL_S, SampleEmitter

HOST = "127.0.0.1"
# Appends submitted per turn of the main loop at most, so samples keep being written when far behind.
MAX_BURST = 1000


class AppendLog(SyncObj):
    """The replicated state: how many appends and bytes were applied."""

    def __init__(self, self_address: str, partners: list[str], conf: SyncObjConf):
        super().__init__(self_address, partners, conf)
        self.applied = 0
        self.applied_bytes = 0

    @replicated
    def append(self, payload: bytes) -> int:
        self.applied += 1
        self.applied_bytes += len(payload)
        return self.applied


class Generator:
    """The leader's load: open loop at a rate, or closed loop with a window of outstanding appends.

    Runs in the main thread; PySyncObj's own thread ticks the node and calls
    the commit callbacks, so the latency samples are guarded by a lock.
    """

    def __init__(self, node: AppendLog, *, rate: int | None, window: int | None, record_size: int,
                 max_records: int | None, emitter: SampleEmitter):
        self.node = node
        self.rate = rate
        self.window = threading.BoundedSemaphore(window) if window is not None else None
        self.payload = bytes(record_size)
        self.max_records = max_records
        self.emitter = emitter
        self.lock = threading.Lock()
        self.leading = False
        self.start = 0.0
        self.count = 0
        self.total = 0

    def _on_commit(self, submitted: float):
        def callback(result, error):
            if self.window is not None:
                self.window.release()
            if error == FAIL_REASON.SUCCESS:
                now = time.time()
                with self.lock:
                    self.emitter.add(round((now - submitted) * 1000.0, 1), now * 1000.0)
        return callback

    def emit(self) -> None:
        with self.lock:
            self.emitter.emit()

    def _submit(self, now: float) -> None:
        self.node.append(self.payload, callback=self._on_commit(now))
        self.count += 1
        self.total += 1

    def step(self) -> None:
        """Submit what is due, or wait a little (at most 10 ms)."""
        if not self.node._isLeader() or (self.max_records is not None and self.total >= self.max_records):
            self.leading = False
            time.sleep(0.01)
            return
        now = time.time()
        if not self.leading:
            self.leading = True
            self.start = now
            self.count = 0
        if self.rate is None:
            if self.window.acquire(timeout=0.01):
                self._submit(time.time())
            return
        for _ in range(MAX_BURST):
            if self.max_records is not None and self.total >= self.max_records:
                return
            due = self.start + (self.count + 1) / self.rate
            if due > now:
                time.sleep(min(due - now, 0.01))
                return
            self._submit(now)
            now = time.time()


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--partner", type=int, action="append", required=True, help="a partner's port")
    load = parser.add_mutually_exclusive_group()
    load.add_argument("--rate", type=int, help="open loop: appends per second offered")
    load.add_argument("--window", type=int, help="closed loop: appends outstanding")
    parser.add_argument("--record-size", type=int, default=256)
    parser.add_argument("--max-records", type=int, help="stop generating after this many appends")
    options = parser.parse_args(argv)
    if options.rate is None and options.window is None:
        options.window = 1000
    return options


def main(argv=None) -> int:
    options = parse_args(argv)
    node = AppendLog(f"{HOST}:{options.port}", [f"{HOST}:{p}" for p in options.partner], SyncObjConf())

    def write(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    generator = Generator(node, rate=options.rate, window=options.window, record_size=options.record_size,
                          max_records=options.max_records, emitter=SampleEmitter(write))
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    next_emit = time.monotonic() + EMIT_INTERVAL_S
    reported = None
    try:
        while not stopping:
            generator.step()
            if time.monotonic() >= next_emit:
                next_emit += EMIT_INTERVAL_S
                generator.emit()
                state = (node.applied, node.applied_bytes, generator.total)
                if state != reported:
                    reported = state
                    write("QSTATE " + json.dumps({"applied": state[0], "bytes": state[1], "submitted": state[2]}))
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
