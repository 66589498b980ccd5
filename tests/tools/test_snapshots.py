"""The test server's state machine: snapshots by committed bytes or time, and loading one back."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings, strategies as st

from kraft.core.log import OffsetAndEpoch
from kraft.core.memory import Batch
from kraft.storage.replicated_log import FileReplicatedLog
from kraft.storage.snapshots import RecordsSnapshotWriter
from kraft.tools.snapshots import SnapshotStateError, TestServerState


class Clock:
    def __init__(self, now=1_000):
        self.now = now

    def __call__(self):
        return self.now


class SnapshottingClient:
    """The part of RaftClient the state machine uses, on a real log directory."""

    def __init__(self, log, clock):
        self.log = log
        self.clock = clock
        self.requests = []

    def create_snapshot(self, snapshot_id, last_contained_ms):
        self.requests.append(snapshot_id)
        raw = self.log.create_new_snapshot(snapshot_id)
        return None if raw is None else RecordsSnapshotWriter(raw, last_contained_ms, self.clock)


@pytest.fixture
def log(tmp_path):
    opened = FileReplicatedLog.open(tmp_path / "p-0")
    yield opened
    opened.close()


def batches(start, sizes, epoch=1, value=b"v" * 100):
    out = []
    for n in sizes:
        out.append(Batch(start, start + n - 1, epoch, 0, (value,) * n))
        start += n
    return out


def test_a_snapshot_is_written_once_enough_bytes_are_committed_and_loads_back(log):
    clock = Clock()
    client = SnapshottingClient(log, clock)
    state = TestServerState(client, max_bytes_between_snapshots=5000, max_interval_ms=0, clock=clock)
    state.apply(batches(0, [10, 10]))  # about 2 x (61 + 10 x 108) bytes: not yet
    assert client.requests == []
    state.apply(batches(20, [10, 10, 5], epoch=2))
    assert client.requests == [OffsetAndEpoch(45, 2)] and state.snapshots_written == 1
    assert log.latest_snapshot_id() == OffsetAndEpoch(45, 2)

    loaded = TestServerState(client, max_bytes_between_snapshots=5000, max_interval_ms=0, clock=clock)
    loaded.load_snapshot(log.read_snapshot(OffsetAndEpoch(45, 2)))
    assert loaded.committed_records == state.committed_records == 45


def test_control_batches_count_but_hold_no_records(log):
    clock = Clock()
    client = SnapshottingClient(log, clock)
    state = TestServerState(client, max_bytes_between_snapshots=100, max_interval_ms=0, clock=clock)
    state.apply([Batch(0, 0, 1, 0)])
    assert client.requests == [] and state.committed_records == 0
    state.apply([Batch(1, 1, 1, 0)])
    assert client.requests == [OffsetAndEpoch(2, 1)]


def test_the_time_trigger_snapshots_what_is_committed_and_zero_turns_it_off(log):
    clock = Clock()
    client = SnapshottingClient(log, clock)
    timed = TestServerState(client, max_bytes_between_snapshots=10**9, max_interval_ms=1000, clock=clock)
    timed.apply(batches(0, [3]))
    clock.now += 999
    timed.apply(batches(3, [1]))
    assert client.requests == []
    clock.now += 1
    assert timed.maybe_snapshot() and client.requests == [OffsetAndEpoch(4, 1)]
    clock.now += 5000
    assert not timed.maybe_snapshot()  # nothing committed since

    untimed = TestServerState(client, max_bytes_between_snapshots=10**9, max_interval_ms=0, clock=clock)
    untimed.apply(batches(4, [3]))
    clock.now += 10**7
    assert not untimed.maybe_snapshot()


def test_an_existing_snapshot_is_not_rewritten(log):
    clock = Clock()
    client = SnapshottingClient(log, clock)
    RecordsSnapshotWriter(log.create_new_snapshot(OffsetAndEpoch(5, 1)), 0, clock).freeze()
    state = TestServerState(client, max_bytes_between_snapshots=1, max_interval_ms=0, clock=clock)
    state.apply(batches(0, [5]))
    assert client.requests == [OffsetAndEpoch(5, 1)] and state.snapshots_written == 0


def test_a_client_refusing_the_id_is_logged_not_raised(log):
    class Refusing(SnapshottingClient):
        def create_snapshot(self, snapshot_id, last_contained_ms):
            raise ValueError("beyond the high watermark")
    state = TestServerState(Refusing(log, Clock()), max_bytes_between_snapshots=1, max_interval_ms=0, clock=Clock())
    state.apply(batches(0, [2]))
    assert state.snapshots_written == 0 and state.committed_records == 2


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=20).filter(lambda b: len(b) != 8))
def test_a_snapshot_without_the_state_record_is_refused(tmp_path_factory, value):
    log = FileReplicatedLog.open(tmp_path_factory.mktemp("bad") / "p-0")
    try:
        writer = RecordsSnapshotWriter(log.create_new_snapshot(OffsetAndEpoch(3, 1)), 0, Clock())
        if value:
            writer.append([value])
        writer.freeze()
        state = TestServerState(None, max_bytes_between_snapshots=1, max_interval_ms=0, clock=Clock())
        with pytest.raises(SnapshotStateError):
            state.load_snapshot(log.read_snapshot(OffsetAndEpoch(3, 1)))
    finally:
        log.close()


def test_limits_are_checked():
    with pytest.raises(ValueError):
        TestServerState(None, max_bytes_between_snapshots=0, max_interval_ms=0, clock=Clock())
    with pytest.raises(ValueError):
        TestServerState(None, max_bytes_between_snapshots=1, max_interval_ms=-1, clock=Clock())


def test_the_state_record_is_a_big_endian_count(log):
    clock = Clock()
    client = SnapshottingClient(log, clock)
    state = TestServerState(client, max_bytes_between_snapshots=1, max_interval_ms=0, clock=clock)
    state.apply(batches(0, [7]))
    reader = log.read_snapshot(OffsetAndEpoch(7, 1))
    values = [bytes(r.value) for b in reader.record_batches() if not b.is_control for r in b]
    assert values == [struct.pack(">q", 7)]
