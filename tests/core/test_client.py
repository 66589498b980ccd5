"""RaftClient: appends, the accumulator, listeners and their ordering guarantees."""
import pytest
from hypothesis import given, strategies as st

from raft_context import RaftContext, begin_epoch, fetch_request, fetch_response
from kraft.core import rpc
from kraft.records import encode_batch as encode_kafka_batch
from kraft.core.accumulator import BatchAccumulator
from kraft.records.constants import RECORD_BATCH_OVERHEAD as BATCH_HEADER_SIZE
from kraft.records.sizes import record_size as _record_size
from kraft.core.config import QuorumConfig
from kraft.core.errors import (
    InvalidEpochError, NotLeaderError, RecordBatchTooLargeError, StaleEpochError, UnexpectedBaseOffsetError,
)
from kraft.core.log import OffsetAndEpoch
from kraft.core.memory import LeaderBatch, encode_batch
from kraft.core.types import LeaderAndEpoch


def record_size(offset_delta, value):
    return _record_size(offset_delta, len(value))


class Recorder:
    def __init__(self):
        self.events = []

    def handle_commit(self, batches):
        self.events.append(("commit", [(b.base_offset, b.last_offset, b.records) for b in batches]))

    def handle_leader_change(self, leader):
        self.events.append(("leader", leader))

    def begin_shutdown(self):
        self.events.append(("shutdown",))

    def commits(self):
        return [c for kind, *rest in self.events if kind == "commit" for c in rest[0]]


def single_voter(linger=25):
    return RaftContext.build(local_id=1, voters=(1,), config=QuorumConfig(append_linger_ms=linger))


def test_appends_linger_then_commit_in_order_exactly_once():
    ctx = single_voter()
    listener = Recorder()
    ctx.client.register(listener)
    ctx.poll()
    assert ctx.client.schedule_append(1, [b"a"]) == 1
    assert ctx.client.schedule_atomic_append(1, [b"b", b"c"]) == 3
    ctx.advance(24)
    ctx.poll()
    assert len(ctx.leader_batches()) == 1  # only the LeaderChange so far: lingering
    ctx.advance(1)
    ctx.poll()
    ctx.poll()
    assert listener.commits() == [(0, 0, ()), (1, 3, (b"a", b"b", b"c"))]
    ctx.poll()
    ctx.poll()
    assert listener.commits() == [(0, 0, ()), (1, 3, (b"a", b"b", b"c"))]  # never twice


def test_leader_change_fires_after_the_listener_caught_up_past_the_epoch_start():
    ctx = single_voter()
    listener = Recorder()
    ctx.client.register(listener)
    ctx.poll()
    kinds = [e[0] for e in listener.events]
    assert kinds == ["commit", "leader"]
    assert listener.events[1] == ("leader", LeaderAndEpoch(1, 1))


def test_follower_listener_sees_unknown_then_known_leader_and_epochs_never_go_back():
    ctx = RaftContext.build(local_id=1)
    listener = Recorder()
    ctx.client.register(listener)
    ctx.deliver(rpc.VoteRequest("test-cluster-id", "__cluster_metadata", 0, 2, 3, 0, 0))
    ctx.poll()
    ctx.deliver(begin_epoch(2, 3))
    ctx.poll()
    leaders = [e[1] for e in listener.events if e[0] == "leader"]
    assert leaders == [LeaderAndEpoch(None, 2), LeaderAndEpoch(3, 2)]


def test_follower_delivers_what_the_leader_committed():
    ctx = RaftContext.build(local_id=1)
    listener = Recorder()
    ctx.client.register(listener)
    ctx.deliver(begin_epoch(1, 2))
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    data = encode_batch(LeaderBatch(0, 1, 0, (b"x",))) + encode_batch(LeaderBatch(1, 1, 0, (b"y", b"z")))
    ctx.answer(send, fetch_response(1, 2, records=data, hw=1))
    ctx.poll()
    assert listener.commits() == [(0, 0, (b"x",))]
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, fetch_response(1, 2, hw=3))
    ctx.poll()
    assert listener.commits() == [(0, 0, (b"x",)), (1, 2, (b"y", b"z"))]


def test_a_second_registration_gets_everything_again_from_offset_zero():
    ctx = single_voter(linger=0)
    first = Recorder()
    ctx.client.register(first)
    ctx.client.schedule_append(1, [b"a"])
    ctx.poll()
    ctx.poll()
    second = Recorder()
    ctx.client.register(second)
    ctx.poll()
    assert second.commits() == first.commits() == [(0, 0, ()), (1, 1, (b"a",))]
    ctx.client.unregister(first)
    ctx.client.schedule_append(1, [b"b"])
    ctx.poll()
    ctx.poll()
    assert len(first.commits()) == 2 and len(second.commits()) == 3


def test_appends_are_refused_with_clear_errors():
    ctx = RaftContext.build(local_id=1)
    with pytest.raises(NotLeaderError, match="not the leader"):
        ctx.client.schedule_append(0, [b"a"])
    ctx.become_leader()
    with pytest.raises(StaleEpochError):
        ctx.client.schedule_append(0, [b"a"])
    with pytest.raises(InvalidEpochError):
        ctx.client.schedule_append(2, [b"a"])
    with pytest.raises(UnexpectedBaseOffsetError):
        ctx.client.schedule_atomic_append(1, [b"a"], required_base_offset=7)
    assert ctx.client.schedule_atomic_append(1, [b"a"], required_base_offset=1) == 1
    ctx.deliver(begin_epoch(2, 2))
    with pytest.raises(NotLeaderError, match="stale"):
        ctx.client.schedule_append(1, [b"a"])


def test_shutdown_notifies_listeners_and_refuses_appends():
    ctx = single_voter()
    listener = Recorder()
    ctx.client.register(listener)
    ctx.poll()
    ctx.client.shutdown(1000)
    assert listener.events[-1] == ("shutdown",)
    with pytest.raises(Exception, match="shutting down"):
        ctx.client.schedule_append(1, [b"a"])
    ctx.poll()
    assert ctx.client.is_shut_down


def test_leader_appends_reach_followers_and_commit_with_a_majority():
    ctx = RaftContext.build(local_id=1, config=QuorumConfig(append_linger_ms=0))
    ctx.become_leader()
    listener = Recorder()
    ctx.client.register(listener)
    ctx.client.schedule_append(1, [b"v"])
    ctx.poll()
    ctx.deliver(fetch_request(1, 2, offset=2, last_epoch=1))
    assert ctx.response().high_watermark == 2
    ctx.poll()
    assert listener.commits() == [(0, 0, ()), (1, 1, (b"v",))]
    assert ("leader", LeaderAndEpoch(1, 1)) in listener.events


# ---------------------------------------------------------------- accumulator
def test_accumulator_splits_plain_appends_and_keeps_atomic_ones_whole():
    size = BATCH_HEADER_SIZE + record_size(0, b"x" * 10) + record_size(1, b"x" * 10)
    acc = BatchAccumulator(epoch=1, base_offset=5, linger_ms=10, max_batch_size=size)
    assert acc.time_until_drain_ms(0) is None and acc.is_empty()
    assert acc.append(1, [b"x" * 10] * 3, now=0) == 7
    assert acc.time_until_drain_ms(4) == 6
    assert acc.append(1, [b"y" * 10, b"y" * 10], now=4, atomic=True) == 9
    batches = acc.drain()
    assert [(b.base_offset, b.record_count) for b in batches] == [(5, 2), (7, 1), (8, 2)]
    assert all(b.size_in_bytes <= size for b in batches) and acc.is_empty()
    with pytest.raises(RecordBatchTooLargeError):
        acc.append(1, [b"z" * 10] * 3, now=5, atomic=True)
    with pytest.raises(ValueError):
        acc.append(1, [], now=5)


@given(st.lists(st.tuples(st.lists(st.binary(max_size=40), min_size=1, max_size=5), st.booleans()), max_size=20))
def test_accumulator_offsets_are_contiguous_and_batches_respect_the_limit(appends):
    acc = BatchAccumulator(epoch=3, base_offset=0, linger_ms=0, max_batch_size=200)
    expected = []
    for records, atomic in appends:
        try:
            last = acc.append(3, records, now=0, atomic=atomic)
        except RecordBatchTooLargeError:
            continue
        expected.extend(records)
        assert last == len(expected) - 1
    batches = acc.drain()
    assert [r for b in batches for r in b.records] == expected
    offset = 0
    for b in batches:
        assert b.base_offset == offset and b.size_in_bytes <= 200 and b.epoch == 3
        # the accumulator's size accounting is the real encoded size
        assert b.size_in_bytes == len(encode_kafka_batch(list(b.records), base_offset=b.base_offset,
                                                        partition_leader_epoch=3, timestamp=0))
        offset = b.last_offset + 1


@given(st.lists(st.integers(0, 300), min_size=1, max_size=400), st.integers(100, 20_000))
def test_accumulator_batches_are_exactly_as_full_as_the_limit_allows(sizes, limit):
    acc = BatchAccumulator(epoch=1, base_offset=0, linger_ms=0, max_batch_size=limit)
    records = [b"v" * n for n in sizes]
    try:
        acc.append(1, records, now=0)
    except RecordBatchTooLargeError:
        assert any(BATCH_HEADER_SIZE + record_size(0, r) > limit for r in records)
        assert acc.is_empty()
        return
    batches = acc.drain()
    assert [r for b in batches for r in b.records] == records
    for b, following in zip(batches, batches[1:]):
        encoded = len(encode_kafka_batch(list(b.records), base_offset=b.base_offset, timestamp=0))
        assert b.size_in_bytes == encoded <= limit
        # the next batch's first record would not have fitted
        grown = encode_kafka_batch(list(b.records) + [following.records[0]], base_offset=b.base_offset,
                                   timestamp=0)
        assert len(grown) > limit


def test_record_size_matches_kafka_for_small_and_large_values():
    # body: attributes, ts delta 0, offset delta, key length -1, value length, value, header count;
    # then the body size as a zigzag varint in front
    assert record_size(0, b"") == 1 + (1 + 1 + 1 + 1 + 1 + 0 + 1)
    assert record_size(0, b"x" * 100) == 2 + (1 + 1 + 1 + 1 + 2 + 100 + 1)
    assert record_size(64, b"") == 1 + (1 + 1 + 2 + 1 + 1 + 0 + 1)


def test_listener_loads_the_snapshot_first_when_the_log_starts_with_one():
    ctx = single_voter(linger=0)
    for value in (b"a", b"b", b"c"):
        ctx.client.schedule_append(1, [value])
        ctx.poll()
        ctx.poll()
    log = ctx.log
    sid = OffsetAndEpoch(3, 1)
    writer = log.create_new_snapshot(sid)
    writer.append(b"state")
    writer.freeze()
    assert log.delete_before_snapshot(sid) and log.start_offset == 3
    events = []

    class Listener(Recorder):
        def handle_load_snapshot(self, snapshot):
            events.append(("snapshot", snapshot.snapshot_id, snapshot.records()))

        def handle_commit(self, batches):
            events.append(("commit", [b.base_offset for b in batches]))

    ctx.client.register(Listener())
    ctx.poll()
    assert events == [("snapshot", sid, b"state"), ("commit", [3])]


def test_a_listener_without_handle_load_snapshot_is_refused_when_one_is_needed():
    from kraft.core.errors import RaftError
    ctx = single_voter(linger=0)
    ctx.client.schedule_append(1, [b"a"])
    ctx.poll()
    ctx.poll()
    sid = OffsetAndEpoch(2, 1)
    writer = ctx.log.create_new_snapshot(sid)
    writer.freeze()
    ctx.log.delete_before_snapshot(sid)

    class Bare:
        def handle_commit(self, batches):
            pass

        def handle_leader_change(self, leader):
            pass

    ctx.client.register(Bare())
    with pytest.raises(RaftError, match="handle_load_snapshot"):
        ctx.poll()


def test_leader_hands_its_own_batches_to_listeners_without_reading_the_log_back():
    ctx = single_voter(linger=0)
    reads = []
    real = ctx.client._read_batches
    ctx.client._read_batches = lambda log, start, end: reads.append(start) or real(log, start, end)
    listener = Recorder()
    ctx.client.register(listener)
    ctx.client.schedule_append(1, [b"a"])
    ctx.poll()
    ctx.poll()
    assert listener.commits() == [(0, 0, ()), (1, 1, (b"a",))]
    assert reads == [] and ctx.node.appended == {}  # served from memory, then forgotten
    late = Recorder()
    ctx.client.register(late)
    ctx.poll()
    assert late.commits() == listener.commits() and reads == [0]  # a late listener reads the log
