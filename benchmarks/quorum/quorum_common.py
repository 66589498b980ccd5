"""Shared pieces of the whole-quorum benchmark: ports, node processes, commit samples, percentiles.

Both kinds of node (kraft's test server through ``kraft_node.py`` and the
PySyncObj peer in ``pysyncobj_node.py``) report their leader's commits the
same way: every quarter of a second with commits, one line

    QBENCH {"first": <ms>, "last": <ms>, "n": <records>, "hist": {"<latency ms>": <count>, ...}}

on stdout, where ``first``/``last`` are the wall-clock times (ms since the
epoch) of the first and last commit in the interval and ``hist`` counts the
records by commit latency (submit to commit, ms).  The driver keeps every
line with the time it was read and cuts measurement windows out of them.
"""
from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import threading
import time
from typing import Callable, Iterable, Mapping, Optional, Sequence

SAMPLE_PREFIX = "QBENCH "
#: How often a node reports the commits it has seen (seconds).
EMIT_INTERVAL_S = 0.25


def now_ms() -> float:
    return time.time() * 1000.0


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct ports that were free on ``host`` a moment ago."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


# ------------------------------------------------------------------ percentiles
def percentile(histogram: Mapping[float, int], quantile: float) -> float:
    """Nearest-rank percentile of a histogram {value: count}; NaN when empty.

    The result is the smallest value v such that at least ``quantile`` of the
    samples are <= v (so p50 of [1, 2, 3, 4] is 2 and p100 is the maximum).
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {quantile}")
    total = sum(histogram.values())
    if total == 0:
        return math.nan
    rank = max(1, math.ceil(quantile * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    raise AssertionError("unreachable: rank <= total")


def merge_histograms(histograms: Iterable[Mapping[float, int]]) -> dict[float, int]:
    merged: dict[float, int] = {}
    for histogram in histograms:
        for value, count in histogram.items():
            merged[value] = merged.get(value, 0) + count
    return merged


def median(values: Sequence[float]) -> float:
    """The median (mean of the middle two for an even count); NaN when empty."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


# ------------------------------------------------------------------ samples
class SampleEmitter:
    """Collects commit latencies in a node and writes them as QBENCH lines."""

    def __init__(self, write: Callable[[str], None]):
        self._write = write
        self._reset()

    def _reset(self) -> None:
        self._first: Optional[float] = None
        self._last: Optional[float] = None
        self._count = 0
        self._histogram: dict[float, int] = {}

    def add(self, latency_ms: float, commit_ms: float, count: int = 1) -> None:
        """``count`` records committed at ``commit_ms``, each ``latency_ms`` after it was appended."""
        if self._count == 0:
            self._first = commit_ms
        self._last = commit_ms
        self._count += count
        histogram = self._histogram
        histogram[latency_ms] = histogram.get(latency_ms, 0) + count

    def emit(self) -> None:
        """Write the interval's line (nothing when nothing committed) and start a new interval."""
        if self._count:
            self._write(format_sample(self._first, self._last, self._count, self._histogram))
        self._reset()


def format_sample(first_ms: float, last_ms: float, count: int, histogram: Mapping[float, int]) -> str:
    body = {"first": first_ms, "last": last_ms, "n": count,
            "hist": {_key(value): n for value, n in histogram.items()}}
    return SAMPLE_PREFIX + json.dumps(body, separators=(",", ":"))


def _key(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Sample:
    """One QBENCH line: the commits a node's leader saw in one interval."""

    __slots__ = ("first_ms", "last_ms", "count", "histogram")

    def __init__(self, first_ms: float, last_ms: float, count: int, histogram: dict[float, int]):
        self.first_ms = first_ms
        self.last_ms = last_ms
        self.count = count
        self.histogram = histogram

    @property
    def middle_ms(self) -> float:
        return (self.first_ms + self.last_ms) / 2


class SampleFormatError(ValueError):
    """A QBENCH line that is not what the nodes write."""


def parse_sample(line: str) -> Optional[Sample]:
    """The sample in a QBENCH line; None for any other line."""
    if not line.startswith(SAMPLE_PREFIX):
        return None
    try:
        body = json.loads(line[len(SAMPLE_PREFIX):])
        histogram = {float(k): int(v) for k, v in body["hist"].items()}
        sample = Sample(float(body["first"]), float(body["last"]), int(body["n"]), histogram)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise SampleFormatError(f"bad sample line {line!r}: {e}") from None
    if sample.count != sum(histogram.values()) or sample.last_ms < sample.first_ms or sample.count <= 0:
        raise SampleFormatError(f"inconsistent sample line {line!r}")
    return sample


class WindowStats:
    """Committed records and latency percentiles of the samples inside a time window."""

    def __init__(self, samples: Iterable[Sample], start_ms: float, end_ms: float):
        if end_ms <= start_ms:
            raise ValueError("the window must end after it starts")
        inside = [s for s in samples if start_ms <= s.middle_ms < end_ms]
        self.duration_s = (end_ms - start_ms) / 1000.0
        self.records = sum(s.count for s in inside)
        self.histogram = merge_histograms(s.histogram for s in inside)

    @property
    def rate(self) -> float:
        """Committed records per second."""
        return self.records / self.duration_s

    def latency(self, quantile: float) -> float:
        return percentile(self.histogram, quantile)

    def as_dict(self) -> dict:
        return {"committed_per_s": round(self.rate, 1), "records": self.records,
                "p50_ms": self.latency(0.5), "p99_ms": self.latency(0.99), "p999_ms": self.latency(0.999),
                "max_ms": max(self.histogram) if self.histogram else math.nan}


def first_commit_after(samples: Iterable[Sample], after_ms: float) -> Optional[float]:
    """The wall-clock time of the first commit reported after ``after_ms`` (None if none)."""
    times = [s.first_ms for s in samples if s.first_ms > after_ms]
    return min(times) if times else None


# ------------------------------------------------------------------ processes
class NodeProcess:
    """A child process whose output lines are read by threads; QBENCH lines become samples.

    The child runs in its own session, so :meth:`kill` takes its whole process
    group down.
    """

    def __init__(self, name: str, argv: Sequence[str], env: Optional[Mapping[str, str]] = None,
                 cwd: Optional[str] = None):
        self.name = name
        self.argv = list(argv)
        self.samples: list[Sample] = []
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.bad_lines: list[str] = []
        self._lock = threading.Lock()
        full_env = dict(os.environ, PYTHONUNBUFFERED="1")
        full_env.update(env or {})
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env=full_env, cwd=cwd, start_new_session=True,
                                        stdin=subprocess.DEVNULL)
        self._threads = [threading.Thread(target=self._read, args=(self.process.stdout, True), daemon=True),
                         threading.Thread(target=self._read, args=(self.process.stderr, False), daemon=True)]
        for thread in self._threads:
            thread.start()

    def _read(self, stream, is_stdout: bool) -> None:
        for raw in stream:
            line = raw.rstrip("\n")
            with self._lock:
                if not is_stdout:
                    self.stderr.append(line)
                    continue
                try:
                    sample = parse_sample(line)
                except SampleFormatError:
                    self.bad_lines.append(line)
                    continue
                if sample is None:
                    self.stdout.append(line)
                else:
                    self.samples.append(sample)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def snapshot_samples(self) -> list[Sample]:
        with self._lock:
            return list(self.samples)

    def lines(self, stderr: bool = True) -> list[str]:
        with self._lock:
            return list(self.stderr if stderr else self.stdout)

    def signal(self, signum: int) -> None:
        if self.running:
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                pass

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the process group and reap the child."""
        self.signal(signal.SIGKILL)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        for thread in self._threads:
            thread.join(1.0)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def tail(self, n: int = 20) -> str:
        with self._lock:
            return "\n".join(self.stderr[-n:] + self.stdout[-n:])


class ProcessGroup:
    """Every node process the benchmark starts, so that all of them die on any exit."""

    def __init__(self):
        self._processes: list[NodeProcess] = []

    def start(self, name: str, argv: Sequence[str], **kwargs) -> NodeProcess:
        process = NodeProcess(name, argv, **kwargs)
        self._processes.append(process)
        return process

    def kill_all(self) -> None:
        for process in self._processes:
            process.kill()
        self._processes.clear()

    def __enter__(self) -> "ProcessGroup":
        return self

    def __exit__(self, *exc) -> None:
        self.kill_all()


def wait_until(predicate: Callable[[], bool], timeout_s: float, poll_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)
