"""Log benchmarks: durable appends vs raw os.write (+ os.fsync), reads, recovery.

Run:  KRAFT_BENCH_DIR=/work/tmp pytest benchmarks/test_bench_log.py --benchmark-group-by=group

Every group compares ``FileReplicatedLog`` with the raw peer doing the same
I/O in the same run: writing the same batch bytes to one file with
``os.write`` (and ``os.fsync`` after each when the group says fsync).  The
temp directory must be on a real disk (not tmpfs) for fsync to mean
anything: it defaults to ``/work/tmp`` when that exists.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from kraft.records import encode_batch
from kraft.storage import FileReplicatedLog, FlushPolicy, LogConfig

KiB, MiB = 1024, 1024 * 1024
BASE = os.environ.get("KRAFT_BENCH_DIR") or ("/work/tmp" if os.path.isdir("/work/tmp") else None)


@pytest.fixture
def workdir():
    path = Path(tempfile.mkdtemp(prefix="kraft-bench-", dir=BASE))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def make_batch(size: int) -> bytes:
    """One v2 batch of about ``size`` bytes (16 records), as a leader writes it."""
    value = os.urandom(max(1, (size - 61) // 16 - 8))
    return encode_batch([value] * 16, timestamp=1_700_000_000_000)


CASES = [(16 * KiB, 512), (1 * MiB, 32)]     # (batch size, appends per round)


def _ids(case):
    return f"{case[0] // KiB}KiB"


APPEND_PARAMS = [
    pytest.param(case, fsync, impl, id=f"{_ids(case)}-{'fsync' if fsync else 'nofsync'}-{impl}")
    for case in CASES for fsync in (True, False) for impl in ("raw", "log", "log-nocrc")
]


@pytest.mark.parametrize("case, fsync, impl", APPEND_PARAMS)
def test_append(benchmark, workdir, case, fsync, impl):
    """``raw``: os.write (+ os.fsync) of the batch bytes to one file;
    ``log``: FileReplicatedLog.append_as_leader with FlushPolicy.every_append()
    (or never); ``log-nocrc``: the same with LogConfig(verify_leader_crc=False).
    The three run one after the other for each size, to share the disk's mood."""
    size, count = case
    benchmark.group = f"append {_ids(case)} {'fsync' if fsync else 'no fsync'}"
    # start from a clean page cache: the writeback of what the previous test
    # left dirty would otherwise slow whichever test runs next
    os.sync()
    if impl == "raw":
        batch = make_batch(size)
        fd = os.open(workdir / "raw.log", os.O_WRONLY | os.O_CREAT, 0o644)

        def run():
            for _ in range(count):
                view = memoryview(batch)
                while view:
                    view = view[os.write(fd, view):]
                if fsync:
                    os.fsync(fd)

        def close():
            os.close(fd)
    else:
        batch = bytearray(make_batch(size))   # writable: offsets are stamped in place
        policy = FlushPolicy.every_append() if fsync else FlushPolicy.never()
        log = FileReplicatedLog.open(workdir, LogConfig(flush_policy=policy,
                                                        verify_leader_crc=impl == "log"))

        def run():
            for _ in range(count):
                log.append_as_leader(batch, 1)

        close = log.close
    try:
        benchmark.pedantic(run, rounds=12, warmup_rounds=1)
    finally:
        close()
        os.sync()
    _report(benchmark, size, count)


@pytest.mark.parametrize("case, fsync", [
    pytest.param(case, fsync, id=f"{_ids(case)}-{'fsync' if fsync else 'nofsync'}")
    for case in CASES for fsync in (True, False)])
def test_append_interleaved(benchmark, workdir, case, fsync):
    """The same three writers as :func:`test_append`, but taking turns round by
    round (raw, log, log-nocrc, raw, ...), so that a shared disk or CPU whose
    speed drifts weighs on all three alike.  ``extra_info`` holds each one's
    median time per append and the throughput ratios to raw."""
    import statistics
    import time

    size, count = case
    benchmark.group = f"append {_ids(case)} {'fsync' if fsync else 'no fsync'}, interleaved"
    os.sync()
    raw_batch = make_batch(size)
    fd = os.open(workdir / "raw.log", os.O_WRONLY | os.O_CREAT, 0o644)
    policy = FlushPolicy.every_append() if fsync else FlushPolicy.never()
    logs = {name: (FileReplicatedLog.open(workdir / name, LogConfig(flush_policy=policy,
                                                                    verify_leader_crc=crc)),
                   bytearray(raw_batch))
            for name, crc in (("log", True), ("log-nocrc", False))}
    times = {"raw": [], "log": [], "log-nocrc": []}

    def raw_round():
        for _ in range(count):
            view = memoryview(raw_batch)
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)

    def log_round(name):
        log, batch = logs[name]
        for _ in range(count):
            log.append_as_leader(batch, 1)

    def run():
        for _ in range(12):
            for name, fn in (("raw", raw_round), ("log", lambda: log_round("log")),
                             ("log-nocrc", lambda: log_round("log-nocrc"))):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)

    try:
        benchmark.pedantic(run, rounds=1, iterations=1)
    finally:
        os.close(fd)
        for log, _ in logs.values():
            log.close()
        os.sync()
    medians = {name: statistics.median(t) / count for name, t in times.items()}
    for name, median in medians.items():
        benchmark.extra_info[f"{name} us/append"] = round(median * 1e6, 2)
    benchmark.extra_info["log/raw"] = round(medians["raw"] / medians["log"], 3)
    benchmark.extra_info["log-nocrc/raw"] = round(medians["raw"] / medians["log-nocrc"], 3)


def _report(benchmark, size, count):
    median = benchmark.stats.stats.median
    benchmark.extra_info["MB/s"] = round(size * count / median / 1e6, 1)
    benchmark.extra_info["batches/s"] = round(count / median)


@pytest.fixture
def filled_log(workdir):
    """64 MiB of 16 KiB batches in 8 MiB segments."""
    batch = bytearray(make_batch(16 * KiB))
    log = FileReplicatedLog.open(workdir, LogConfig(segment_bytes=8 * MiB))
    for _ in range(64 * MiB // len(batch)):
        log.append_as_leader(batch, 1)
    log.flush()
    yield log, workdir
    log.close()


def test_read_log(benchmark, filled_log):
    """Read everything in 1 MiB batch-aligned slices: memoryviews of the mapped
    segments, not copies (the bytes are touched later, by whoever sends them)."""
    log, _ = filled_log
    benchmark.group = "read 64 MiB in 1 MiB slices"

    def run():
        offset, total = log.start_offset, 0
        while offset < log.end_offset:
            records = log.read(offset, MiB).records
            total += len(records)
            last_offset = int.from_bytes(records[-(len(records) - _last_batch_start(records)):][:8], "big")
            offset = last_offset + _last_delta(records) + 1
        return total

    total = benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    benchmark.extra_info["MB/s"] = round(total / benchmark.stats.stats.median / 1e6, 1)


def _last_batch_start(records) -> int:
    pos = 0
    while True:
        size = int.from_bytes(records[pos + 8:pos + 12], "big") + 12
        if pos + size >= len(records):
            return pos
        pos += size


def _last_delta(records) -> int:
    start = _last_batch_start(records)
    return int.from_bytes(records[start + 23:start + 27], "big")


def test_read_raw(benchmark, filled_log):
    """The peer: os.pread of the same segment files in 1 MiB chunks (copies,
    and not batch-aligned)."""
    _, directory = filled_log
    benchmark.group = "read 64 MiB in 1 MiB slices"
    files = sorted(directory.glob("*.log"))

    def run():
        total = 0
        for path in files:
            fd = os.open(path, os.O_RDONLY)
            try:
                pos = 0
                while True:
                    chunk = os.pread(fd, MiB, pos)
                    if not chunk:
                        break
                    total += len(chunk)
                    pos += len(chunk)
            finally:
                os.close(fd)
        return total

    total = benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    benchmark.extra_info["MB/s"] = round(total / benchmark.stats.stats.median / 1e6, 1)


def _drop_page_cache(directory: Path) -> None:
    """Evict the (clean, fsynced) log files from the page cache."""
    for path in directory.iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


@pytest.mark.parametrize("cache", ["warm", "cold"])
@pytest.mark.parametrize("batch_size", [16 * KiB, 1 * MiB], ids=["16KiB", "1MiB"])
def test_recovery(benchmark, workdir, batch_size, cache):
    """Open (scan, CRC-check, rebuild the indexes of) 256 MiB of log; s/GiB is
    extrapolated linearly (x4).  ``warm``: the files are in the page cache;
    ``cold``: evicted with posix_fadvise(DONTNEED) before each round, so the
    disk is read."""
    benchmark.group = f"recovery of 256 MiB, {batch_size // KiB} KiB batches"
    batch = bytearray(make_batch(batch_size))
    log = FileReplicatedLog.open(workdir, LogConfig(segment_bytes=64 * MiB))
    for _ in range(256 * MiB // len(batch)):
        log.append_as_leader(batch, 1)
    size = log.size_in_bytes()
    log.close()

    def setup():
        if cache == "cold":
            _drop_page_cache(workdir)

    def run():
        FileReplicatedLog.open(workdir).close()

    benchmark.pedantic(run, setup=setup, rounds=3, warmup_rounds=0 if cache == "cold" else 1)
    benchmark.extra_info["s/GiB"] = round(benchmark.stats.stats.median * (1 << 30) / size, 3)
