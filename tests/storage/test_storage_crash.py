"""Crash recovery: SIGKILL a writing child at random moments; cut files at every byte.

A SIGKILL loses the process, not the page cache, so the kill test shows that
recovery handles whatever state the files are left in mid-operation; the
torn-write tests below cut files the way a power loss can, at every byte of
the last batch.
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from batchgen import batches
from crash_child import epoch_of, values
from kraft._native.segment import scan_batches
from kraft.records import decode_batches
from kraft.storage import FileReplicatedLog, LogConfig, QuorumStateStore

HERE = Path(__file__).parent
SLOW = os.environ.get("KRAFT_SLOW") == "1"


def _verify(directory, acked_end, acked_index):
    with FileReplicatedLog.open(directory, LogConfig(segment_bytes=16 * 1024)) as log:
        assert log.end_offset >= acked_end, "an fsynced batch was lost"
        offset, i = 0, 0
        while offset < log.end_offset:
            chunk = log.read(offset, 1 << 20).records
            for batch in decode_batches(chunk):
                assert batch.base_offset == offset
                assert batch.partition_leader_epoch == epoch_of(i)
                assert [bytes(r.value) for r in batch] == values(i)
                offset = batch.last_offset + 1
                i += 1
        assert i >= acked_index + 1
        assert log.last_fetched_epoch() == epoch_of(i - 1) or i % 50 == 0
    state = QuorumStateStore(Path(directory) / "quorum-state").read_election_state()
    assert state is not None and state.epoch >= epoch_of(acked_index)
    return i


@pytest.mark.parametrize("seed", range(20 if SLOW else 4))
def test_sigkill_loses_no_acknowledged_batch(tmp_path, seed):
    rng = random.Random(seed)
    directory = tmp_path / "__raft_performance_test-0"
    rounds = 3
    acked_end, acked_index = 0, -1
    for _ in range(rounds):
        child = subprocess.Popen(
            [sys.executable, str(HERE / "crash_child.py"), str(directory)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=HERE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parents[1])])})
        target = rng.randint(1, 120)
        seen = 0
        try:
            for line in child.stdout:
                end, index = map(int, line.split())
                assert end > acked_end and index == acked_index + 1
                acked_end, acked_index = end, index
                seen += 1
                if seen >= target:
                    time.sleep(rng.random() * 0.01)     # land the kill mid-append
                    break
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert seen >= target, child.stderr.read().decode()
        # restart from the recovered state: the next child continues the sequence
        total = _verify(directory, acked_end, acked_index)
        acked_index = total - 1
        with FileReplicatedLog.open(directory, LogConfig(segment_bytes=16 * 1024)) as log:
            acked_end = log.end_offset


def _write_log(directory, count=4):
    bs = batches(count, records_per_batch=2, value_size=50, epoch=3)
    with FileReplicatedLog.open(directory) as log:
        log.append_as_follower(b"".join(bs), 3)
    return bs


def test_torn_last_batch_at_every_byte(tmp_path):
    source = tmp_path / "source"
    bs = _write_log(source)
    segment = source / "00000000000000000000.log"
    whole = segment.read_bytes()
    last_start = len(whole) - len(bs[-1])
    for cut in range(last_start, len(whole) + 1):
        work = tmp_path / f"cut{cut}"
        shutil.copytree(source, work)
        with open(work / segment.name, "r+b") as f:
            f.truncate(cut)
        with FileReplicatedLog.open(work) as log:
            expected_batches = len(bs) if cut == len(whole) else len(bs) - 1
            assert log.end_offset == 2 * expected_batches
            assert bytes(log.read(0, 1 << 20).records) == whole[: last_start if cut < len(whole) else cut]
            # and the log carries on from there
            log.append_as_leader(batches(1)[0], 3)
        total = sum(p.stat().st_size for p in work.glob("*.log"))
        assert total == (cut if cut == len(whole) else last_start) + len(batches(1)[0])
        shutil.rmtree(work)


@pytest.mark.parametrize("tail", [b"\x00" * 4096, b"\xff" * 100, b"\x00" * 11])
def test_garbage_tail_is_cut(tmp_path, tail):
    bs = _write_log(tmp_path)
    segment = tmp_path / "00000000000000000000.log"
    with open(segment, "ab") as f:
        f.write(tail)
    with FileReplicatedLog.open(tmp_path) as log:
        assert log.end_offset == 2 * len(bs)
    assert segment.stat().st_size == sum(map(len, bs))


def test_corrupt_batch_in_the_middle_truncates_from_it(tmp_path):
    bs = _write_log(tmp_path, count=5)
    segment = tmp_path / "00000000000000000000.log"
    data = bytearray(segment.read_bytes())
    data[len(bs[0]) + len(bs[1]) + 40] ^= 0x55        # inside batch 2
    segment.write_bytes(bytes(data))
    with FileReplicatedLog.open(tmp_path) as log:
        assert log.end_offset == 4
        assert log.last_fetched_epoch() == 3


_PRISTINE = {}


def _pristine_log(tmp_path_factory):
    if "dir" not in _PRISTINE:
        directory = tmp_path_factory.mktemp("pristine")
        bs = batches(6, records_per_batch=3, value_size=40, epoch=2)
        with FileReplicatedLog.open(directory, LogConfig(segment_bytes=3 * len(bs[0]))) as log:
            for b in bs:
                log.append_as_follower(b, 2)
        _PRISTINE["dir"] = directory
        _PRISTINE["end"] = 18
    return _PRISTINE["dir"], _PRISTINE["end"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.sampled_from(["flip", "cut", "garbage", "unlink-index"]),
                                st.integers(0, 10**6), st.binary(min_size=1, max_size=40)),
                      min_size=1, max_size=4))
def test_fuzzed_files_open_to_a_valid_prefix(tmp_path_factory, edits):
    source, end = _pristine_log(tmp_path_factory)
    work = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(source, work, dirs_exist_ok=True)
    segments = sorted(work.glob("*.log"))
    for kind, where, blob in edits:
        target = segments[where % len(segments)]
        data = bytearray(target.read_bytes())
        if kind == "flip" and data:
            data[where % len(data)] ^= blob[0] or 1
        elif kind == "cut":
            del data[where % (len(data) + 1):]
        elif kind == "garbage":
            data += blob
        elif kind == "unlink-index":
            target.with_suffix(".index").unlink(missing_ok=True)
            continue
        target.write_bytes(bytes(data))
    with FileReplicatedLog.open(work, LogConfig(segment_bytes=1 << 20)) as log:
        assert 0 <= log.end_offset <= end
        offset = log.start_offset
        while offset < log.end_offset:
            chunk = bytes(log.read(offset, 1 << 20).records)
            result = scan_batches(chunk, 0, 0, 0, True, -1, offset, True)
            assert result.error is None and result.valid_bytes == len(chunk)
            offset = result.next_offset
        assert offset == log.end_offset
    shutil.rmtree(work)


@settings(max_examples=40 if not SLOW else 300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.integers(1, 4), st.booleans()), min_size=1, max_size=25),
       damage=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.booleans()),
                       min_size=1, max_size=4))
def test_power_loss_keeps_every_flushed_batch(tmp_path_factory, steps, damage):
    """Simulated power loss: bytes written after a file's last fsync may be cut
    off or come back as zeros, anywhere; everything flushed must survive."""
    directory = tmp_path_factory.mktemp("power")
    config = LogConfig(segment_bytes=700)
    durable_size = {}          # file name -> bytes known to be on disk
    durable_end = 0
    log = FileReplicatedLog.open(directory, config)
    expected = {}
    for count, flush in steps:
        data = b"".join(batches(count, records_per_batch=2, value_size=30, epoch=1,
                                base_offset=log.end_offset))
        rolled_from = len(log.segments)
        log.append_as_follower(data, 1)
        for segment in log.segments[rolled_from - 1:-1]:
            durable_size[segment.path.name] = segment.size     # fsynced when it rolled
        if flush:
            log.flush()
            durable_end = log.end_offset
            durable_size[log.segments[-1].path.name] = log.segments[-1].size
    full = {p.name: p.read_bytes() for p in directory.glob("*.log")}
    log.close()
    for name, content in full.items():
        durable = durable_size.get(name, 0)
        if durable < len(content):
            # everything after the durable prefix is at the mercy of the crash
            for start, length, zero in damage:
                a = durable + start % (len(content) - durable)
                b = min(len(content), a + length % 300)
                if zero:
                    content = content[:a] + bytes(b - a) + content[b:]
                else:
                    content = content[:a]
                    break
        (directory / name).write_bytes(content)
        expected[name] = full[name][:durable]
    with FileReplicatedLog.open(directory, config) as log:
        assert log.end_offset >= durable_end
        offset = 0
        while offset < log.end_offset:
            chunk = bytes(log.read(offset, 1 << 20).records)
            result = scan_batches(chunk, 0, 0, 0, True, -1, offset, True)
            assert result.error is None
            offset = result.next_offset
        for name, prefix in expected.items():
            path = directory / name
            if prefix:
                assert path.read_bytes()[:len(prefix)] == prefix
