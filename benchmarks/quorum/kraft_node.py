"""One kraft node for the quorum benchmark: ``test-kraft-server-start`` as shipped, plus raw commit samples.

    python kraft_node.py [--no-fsync] [--copy-fetch-responses] [--python-record-size] [--stepping-throttle] --config FILE [--throughput N] [--record-size N]

Runs :func:`kraft.tools.test_server.main` unchanged, with the workload's
commit statistics extended so that every committed record's latency is also
written as QBENCH lines (see ``quorum_common``): the server's own summary line
gives p75/p99/p999 only, over Kafka's 2 x 30 s windows, while the benchmark
needs p50 and exact per-window figures.  The summary lines still appear.

``--no-fsync`` makes the log's segment fsync a no-op (the server has no
such switch; this is a benchmark-only mode to show what fsync costs).
"""
from __future__ import annotations

import asyncio
import sys

from kraft.server import driver
from kraft.storage import replicated_log, segment
from kraft.tools import test_server, workload
from kraft.tools.perf_stats import CommitStats

from quorum_common import EMIT_INTERVAL_S, SampleEmitter


def _write_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class SampledCommitStats(CommitStats):
    """The workload's statistics, also reporting each record's latency as QBENCH lines.

    The workload reports commits through ``CommitStats.record_many`` (records
    that share a latency, at once) where the server has it, else through
    ``record``; whichever it is gets wrapped, so the server keeps its fast path.
    """

    def __init__(self, now_ms: float):
        super().__init__(now_ms)
        self._emitter = SampleEmitter(_write_line)
        self._loop = asyncio.get_running_loop()
        self._loop.call_later(EMIT_INTERVAL_S, self._emit)

    def _emit(self) -> None:
        self._emitter.emit()
        self._loop.call_later(EMIT_INTERVAL_S, self._emit)

    if hasattr(CommitStats, "record_many"):
        def record_many(self, latency_ms: float, size: int, now_ms: float, count: int):
            self._emitter.add(int(latency_ms) if latency_ms > 0 else 0, now_ms, count)
            return super().record_many(latency_ms, size, now_ms, count)
    else:
        def record(self, latency_ms: float, size: int, now_ms: float, _add=SampleEmitter.add,
                   _record=CommitStats.record):
            # Called once per committed record on the leader: kept to two plain calls.
            _add(self._emitter, int(latency_ms) if latency_ms > 0 else 0, now_ms)
            return _record(self, latency_ms, size, now_ms)


def _skip_fsync(self) -> None:
    """A segment flush that does not reach the disk (``--no-fsync``)."""


def main(argv: list[str]) -> int:
    if "--copy-fetch-responses" in argv:
        # benchmark-only: every response frame copied into one buffer, as before the vectored
        # writes of issue 17 (the before/after of profile_ceiling.py --compare-copy)
        argv = [a for a in argv if a != "--copy-fetch-responses"]
        from kraft.net import messages
        one_buffer = messages.encode_response
        messages.encode_response = lambda *args, vectored=False: one_buffer(*args)
    if "--python-record-size" in argv:
        # benchmark-only: the accumulator sizes records in Python, as before the native record_size
        argv = [a for a in argv if a != "--python-record-size"]
        from kraft.core import accumulator
        from kraft.records import sizes
        accumulator.record_size = sizes.python_record_size
    if "--stepping-throttle" in argv:
        # benchmark-only: the workload's pacing counts the records due one by one from the exact
        # time, as before (up to rate/1000 steps per call)
        argv = [a for a in argv if a != "--stepping-throttle"]
        from kraft.tools.perf_stats import Throttle

        def stepping_due(self, now_ms):
            n = max(0, int((now_ms - self.start_ms) * self.records_per_second // 1000))
            while self.delay_ms(n + 1, now_ms) == 0:
                n += 1
            while n > 0 and self.delay_ms(n, now_ms) > 0:
                n -= 1
            return n
        Throttle.due = stepping_due
    if "--no-release-mapped" in argv:
        # benchmark-only: keep every mapped page read resident (the behaviour before issue 18)
        argv = [a for a in argv if a != "--no-release-mapped"]
        replicated_log.RELEASE_MAPPED_EVERY_BYTES = 1 << 62
    if "--no-fsync" in argv:
        argv = [a for a in argv if a != "--no-fsync"]
        segment.LogSegment.flush = _skip_fsync
        driver._fsync = lambda fd: None     # the leader's background flush (issue 17)
    workload.CommitStats = SampledCommitStats
    return test_server.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
