"""The test server's state machine: snapshots by committed bytes or time, and loading one back."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings, strategies as st

from kraft.core.effects import LeaderBatch
from kraft.core.log import OffsetAndEpoch
from kraft.server.batches import encode_leader_batch, read_committed_batches
from kraft.storage.replicated_log import FileReplicatedLog
from kraft.storage.snapshots import RecordsSnapshotWriter
from kraft.tools.snapshots import SnapshotStateError, TestServerState

from batch_util import committed_batch


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
        out.append(committed_batch(start, epoch, (value,) * n))
        start += n
    return out


def test_a_snapshot_is_written_once_enough_bytes_are_committed_and_loads_back(log):
    clock = Clock()
    client = SnapshottingClient(log, clock)
    state = TestServerState(client, max_bytes_between_snapshots=5000, max_interval_ms=0, clock=clock)
    state.apply(batches(0, [10, 10]))  # 2 x (61 + 10 x 108) bytes: not yet
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
    control = committed_batch(0, 1)
    state = TestServerState(client, max_bytes_between_snapshots=2 * control.size_in_bytes, max_interval_ms=0,
                            clock=clock)
    state.apply([control])
    assert client.requests == [] and state.committed_records == 0
    state.apply([committed_batch(1, 1)])
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


class RecordingClient:
    """Records the snapshot ids asked for and writes none (as if each were already there)."""

    def __init__(self):
        self.requests = []

    def create_snapshot(self, snapshot_id, last_contained_ms):
        self.requests.append(snapshot_id)
        return None


def first_snapshot_after(batches, max_bytes):
    """Apply ``batches`` one commit each; the index of the batch that triggered the first snapshot."""
    client = RecordingClient()
    state = TestServerState(client, max_bytes_between_snapshots=max_bytes, max_interval_ms=0, clock=Clock())
    for i, batch in enumerate(batches):
        state.apply([batch])
        if client.requests:
            assert client.requests == [OffsetAndEpoch(batch.last_offset + 1, batch.epoch)]
            return i
    return None


def test_the_byte_trigger_counts_the_batches_on_disk_exactly(log):
    # A LeaderChange batch (106 bytes on disk) and records of 10 bytes (17 bytes each on disk):
    # counted as 61 bytes per batch plus 8 per record and the values, the trigger would come late.
    written = [committed_batch(0, 1), committed_batch(1, 1, [b"0123456789"] * 10),
               committed_batch(11, 1, [b"abcdefghij"] * 10), committed_batch(21, 1, [b"x"] * 3)]
    for batch in written:
        log.append_as_leader(encode_leader_batch(LeaderBatch(batch.base_offset, batch.epoch, 0, batch.records,
                                                             batch.control)), 1)
    from_disk = read_committed_batches(log, 0, 24)
    on_disk = [len(encode_leader_batch(LeaderBatch(b.base_offset, 1, 0, b.records, b.control))) for b in written]
    assert [b.size_in_bytes for b in from_disk] == on_disk
    assert first_snapshot_after(from_disk, sum(on_disk[:3])) == 2
    assert first_snapshot_after(from_disk, sum(on_disk[:3]) + 1) == 3
    assert first_snapshot_after(from_disk, on_disk[0]) == 0
    assert first_snapshot_after(from_disk, on_disk[0] + 1) == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(st.integers(0, 300), min_size=1, max_size=80)), min_size=1,
                max_size=8),
       st.data())
def test_a_snapshot_is_due_exactly_at_the_batch_that_reaches_the_limit(shapes, data):
    batches, offset = [], 0
    for shape in shapes:  # None: a LeaderChange control batch; else the lengths of a data batch's values
        batch = committed_batch(offset, 2, [] if shape is None else [b"v" * n for n in shape])
        batches.append(batch)
        offset = batch.last_offset + 1
    on_disk = [len(encode_leader_batch(LeaderBatch(b.base_offset, 2, 0, b.records, b.control))) for b in batches]
    k = data.draw(st.integers(0, len(batches) - 1))
    reached = sum(on_disk[:k + 1])
    limit = data.draw(st.integers(reached - on_disk[k] + 1, reached))
    assert first_snapshot_after(batches, limit) == k


def test_batches_committed_together_snapshot_at_the_batch_that_reaches_the_limit(log):
    """One commit handing over several batches: the snapshot is taken after the batch whose bytes
    reach the limit, holding the count at that batch, not after the last batch of the call."""
    clock = Clock()
    client = SnapshottingClient(log, clock)
    written = batches(0, [3, 3, 3, 3])
    for batch in written:
        log.append_as_leader(encode_leader_batch(LeaderBatch(batch.base_offset, 1, 0, batch.records)), 1)
    log.update_high_watermark(12)
    state = TestServerState(client, max_bytes_between_snapshots=sum(b.size_in_bytes for b in written[:2]),
                            max_interval_ms=0, clock=clock)
    state.apply(written)
    assert client.requests == [OffsetAndEpoch(6, 1), OffsetAndEpoch(12, 1)]
    reader = log.read_snapshot(OffsetAndEpoch(6, 1))
    restored = TestServerState(client, max_bytes_between_snapshots=1, max_interval_ms=0, clock=clock)
    restored.load_snapshot(reader)
    assert restored.committed_records == 6 and state.committed_records == 12
