"""Committed batches carry their exact size in Kafka's format, on every path a listener gets them by.

The reference is always ``len()`` of the bytes the driver writes
(:func:`kraft.server.batches.encode_leader_batch`); the sizes under test come
from the accumulator (:func:`kraft.records.sizes.record_size`), the log on
disk, the leader's memory and the in-memory log.
"""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from kraft.core.accumulator import BatchAccumulator
from kraft.core.apply import SnapshotDownloads, apply_output
from kraft.core.batches import decode_committed, encoded_control_batch
from kraft.core.effects import LeaderBatch, LeaderChangeMessage
from kraft.core.memory import MemoryLog
from kraft.errors import CorruptRecordError
from kraft.protocol.uuid import Uuid
from kraft.records.constants import RECORD_BATCH_OVERHEAD
from kraft.records.sizes import record_size
from kraft.server.batches import encode_leader_batch, read_committed_batches
from kraft.server.config import ServerConfig
from kraft.server.driver import ElectionStore, build_client
from kraft.storage.quorum_state import QuorumStateStore
from kraft.storage.replicated_log import FileReplicatedLog

# Lengths either side of the varint steps of a value's length (64, 8192) and of a record's body size.
EDGE_LENGTHS = [0, 1, 57, 58, 59, 63, 64, 120, 121, 122, 127, 128, 8184, 8185, 8191, 8192, 70_000]

value_lengths = st.one_of(st.sampled_from(EDGE_LENGTHS), st.integers(0, 300))
record_lists = st.lists(value_lengths, min_size=1, max_size=150).map(
    lambda lengths: [bytes([i % 251]) * n for i, n in enumerate(lengths)])


def drained(appends, *, atomic, max_batch_size=1 << 20):
    """The batches a leader's accumulator makes of ``appends`` (lists of values), from offset 1."""
    accumulator = BatchAccumulator(epoch=3, base_offset=1, linger_ms=0, max_batch_size=max_batch_size)
    for records in appends:
        accumulator.append(3, records, now=1_000, atomic=atomic)
    return accumulator.drain()


@settings(max_examples=60, deadline=None)
@given(st.lists(record_lists, min_size=1, max_size=4), st.booleans())
def test_the_accumulators_size_is_the_length_of_the_batch_written(appends, atomic):
    batches = drained(appends, atomic=atomic)
    assert sum(len(b.records) for b in batches) == sum(map(len, appends))
    for batch in batches:
        assert batch.size_in_bytes == len(encode_leader_batch(batch))


@settings(max_examples=30, deadline=None)
@given(record_lists, st.integers(200, 5_000))
def test_batches_split_by_the_accumulator_fit_exactly_as_sized(records, limit):
    if any(len(r) + 70 > limit for r in records):
        records = [r[:limit - 70] for r in records]
    batches = drained([records], atomic=False, max_batch_size=limit)
    for batch, following in zip(batches, batches[1:]):
        written = encode_leader_batch(batch)
        assert batch.size_in_bytes == len(written) <= limit
        # the next record would not have fitted: the split is where Kafka's would be
        grown = LeaderBatch(batch.base_offset, batch.epoch, batch.append_time_ms,
                            batch.records + following.records[:1])
        assert len(encode_leader_batch(grown)) > limit
    assert batches[-1].size_in_bytes == len(encode_leader_batch(batches[-1]))


@settings(max_examples=60, deadline=None)
@given(record_lists)
def test_record_sizes_sum_to_the_length_of_the_batch_written(records):
    written = encode_leader_batch(LeaderBatch(5, 1, 0, tuple(records)))
    assert RECORD_BATCH_OVERHEAD + sum(record_size(i, len(r)) for i, r in enumerate(records)) == len(written)


voter_ids = st.integers(0, 2**31 - 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(voter_ids, min_size=1, max_size=300, unique=True), st.data())
def test_a_leader_change_batch_reads_back_with_its_message_and_size(voters, data):
    granting = data.draw(st.lists(st.sampled_from(voters), unique=True, max_size=len(voters)))
    change = LeaderChangeMessage(voters[0], tuple(voters), tuple(granting))
    batch = encoded_control_batch(LeaderBatch(17, 4, 1_000, control=change))
    written = encode_leader_batch(batch)
    [read] = decode_committed(written)
    assert (read.base_offset, read.last_offset, read.epoch, read.control) == (17, 17, 4, change)
    assert read.size_in_bytes == batch.size_in_bytes == len(written)


def leader_batches(appends):
    """A LeaderChange batch at offset 0, then the accumulator's batches of ``appends``."""
    change = LeaderChangeMessage(1, (1, 2, 3), (1, 2))
    control = encoded_control_batch(LeaderBatch(0, 3, 1_000, control=change))
    return [control] + drained(appends, atomic=False)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(record_lists, min_size=1, max_size=3))
def test_sizes_read_back_from_disk_and_from_memory_match_the_bytes(tmp_path_factory, appends):
    batches = leader_batches(appends)
    written = [encode_leader_batch(b) for b in batches]
    log = FileReplicatedLog.open(tmp_path_factory.mktemp("sizes") / "p-0")
    try:
        for data in written:
            log.append_as_leader(data, 3)
        end = batches[-1].last_offset + 1
        from_disk = read_committed_batches(log, 0, end)
    finally:
        log.close()
    memory = MemoryLog()
    for data in written:
        memory.append_as_leader(data, 3)
    from_memory = read_committed_batches(memory, 0, end)
    expected = [(b.base_offset, b.last_offset, len(data)) for b, data in zip(batches, written)]
    assert [(b.base_offset, b.last_offset, b.size_in_bytes) for b in from_disk] == expected
    assert [(b.base_offset, b.last_offset, b.size_in_bytes) for b in from_memory] == expected
    assert [b.records for b in from_memory] == [b.records for b in from_disk] == [b.records for b in batches]
    assert [b.size_in_bytes for b in batches] == [len(data) for data in written]


def test_a_record_length_past_its_batch_is_refused():
    data = bytearray(encode_leader_batch(LeaderBatch(0, 1, 0, records=(b"abc", b"de"))))
    # the second record's value length (zig-zag varint at 61 + 10 + 5): 2 -> 9, where 2 bytes are left
    assert data[61 + 10 + 5] == 4
    data[61 + 10 + 5] = 18
    with pytest.raises(CorruptRecordError):
        decode_committed(bytes(data))


# ------------------------------------------------------------ the leader's in-memory path
class Collecting:
    def __init__(self):
        self.batches = []

    def handle_commit(self, batches):
        self.batches.extend(batches)

    def handle_leader_change(self, leader):
        pass

    def begin_shutdown(self):
        pass


class NoPeers:
    def send(self, effect):
        raise AssertionError(f"a single voter sends nothing: {effect}")

    def respond(self, effect):
        raise AssertionError(f"nobody asked: {effect}")


def single_voter_config(tmp_path):
    props = {"node.id": "1", "listeners": "CONTROLLER://127.0.0.1:9093",
             "controller.listener.names": "CONTROLLER", "controller.quorum.voters": "1@127.0.0.1:9093",
             "log.dirs": str(tmp_path), "controller.quorum.append.linger.ms": "5"}
    return ServerConfig.from_properties(props, warn=lambda m: None)


def test_the_leaders_in_memory_batches_report_the_sizes_read_from_disk(tmp_path):
    store = ElectionStore(QuorumStateStore(tmp_path / "quorum-state"), frozenset({1}))
    log = FileReplicatedLog.open(tmp_path / "p-0")
    client = build_client(single_voter_config(tmp_path), Uuid.from_string("b8tRS7h4TJ2Vt43Dp85v2A"), log, store,
                          random.Random(1), clock=lambda: 0)
    listener = Collecting()
    client.register(listener)
    downloads = SnapshotDownloads()
    now = 0

    def run(output):
        apply_output(output, log=log, store=store, transport=NoPeers(), encode_batch=encode_leader_batch,
                     downloads=downloads)

    try:
        run(client.start(now))
        for _ in range(50):
            if client.node.role.name == "Leader":
                break
            now += 100
            run(client.poll(now))
        epoch = client.node.epoch
        rng = random.Random(7)
        for round_ in range(3):
            client.schedule_append(epoch, [bytes(n) for n in EDGE_LENGTHS])
            client.schedule_append(epoch, [bytes(rng.randrange(200)) for _ in range(100 + round_)])
            for _ in range(4):
                now += 10
                run(client.poll(now))
        hw = client.node.high_watermark
        assert listener.batches and listener.batches[-1].last_offset + 1 == hw
        from_disk = read_committed_batches(log, 0, hw)
    finally:
        log.close()
    # The control batch came from memory; read back from disk it carries the same LeaderChange.
    assert listener.batches[0].control is not None and from_disk[0].control == listener.batches[0].control
    assert sum(len(b.records) for b in listener.batches) == 3 * (len(EDGE_LENGTHS) + 100) + 3
    assert [(b.base_offset, b.last_offset, b.size_in_bytes) for b in listener.batches] == \
        [(b.base_offset, b.last_offset, b.size_in_bytes) for b in from_disk]
