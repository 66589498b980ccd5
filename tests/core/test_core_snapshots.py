"""Snapshots made by the state machine: Kafka's validation of the id, the writer, the
listeners' load-then-commit order, and the log-start advancement through ``CleanLog``."""
import random

import pytest

from raft_context import RaftContext
from kraft.client import RaftClient
from kraft.core.apply import apply_output
from kraft.core.config import QuorumConfig
from kraft.core.effects import CleanLog
from kraft.core.log import OffsetAndEpoch
from kraft.core.memory import MemoryLog, decode_batches, encode_batch
from kraft.core.node import LOG_CLEAN_INTERVAL_MS, RaftNode
from kraft.core.types import Endpoint, Endpoints, ReplicaKey, Voter, VoterSet


class StateMachine:
    """Keeps the committed records; snapshots them as compact batches."""

    def __init__(self):
        self.records = []
        self.loads = []
        self.events = []

    def handle_commit(self, batches):
        self.events.append(("commit", batches[0].base_offset))
        for b in batches:
            self.records.extend(b.records)

    def handle_load_snapshot(self, snapshot):
        self.events.append(("load", snapshot.snapshot_id))
        self.loads.append(snapshot.snapshot_id)
        self.records = [r for b in decode_batches(snapshot.records()) for r in b.records]

    def handle_leader_change(self, leader):
        pass

    def begin_shutdown(self):
        pass


def committed_leader(appends=5, retention=-1):
    """A single voter that committed ``appends`` one-record batches at offsets 1..appends."""
    ctx = RaftContext.build(local_id=1, voters=(1,), config=QuorumConfig(append_linger_ms=0))
    ctx.log.retention_max_bytes = retention
    sm = StateMachine()
    ctx.client.register(sm)
    ctx.poll()
    for i in range(appends):
        ctx.client.schedule_append(1, [b"v%d" % i])
        ctx.poll()
        ctx.poll()
    ctx.poll()
    assert ctx.node.high_watermark == appends + 1 and len(sm.records) == appends
    return ctx, sm


def snapshot_of(ctx, offset):
    """Write a snapshot holding the committed batches below ``offset`` (the compact format)."""
    writer = ctx.client.create_snapshot(OffsetAndEpoch(offset, 1), last_contained_log_time_ms=0)
    writer.append(ctx.log.read(0, 1 << 20).records[:_position_of(ctx.log, offset)])
    writer.freeze()
    return writer


def _position_of(log, offset):
    data = log.read(0, 1 << 20).records
    return sum(len(encode_batch_of(b)) for b in decode_batches(data) if b.last_offset < offset)


def encode_batch_of(batch):
    from kraft.core.effects import LeaderBatch
    return encode_batch(LeaderBatch(batch.base_offset, batch.epoch, batch.append_time_ms, batch.records,
                                    batch.control))


def test_create_snapshot_validates_the_id_as_kafka_does():
    ctx, _ = committed_leader(appends=3)  # offsets 0 (LeaderChange) .. 3, HW 4
    with pytest.raises(ValueError, match="high watermark"):
        ctx.client.create_snapshot(OffsetAndEpoch(5, 1), 0)
    with pytest.raises(ValueError, match="not valid"):
        ctx.client.create_snapshot(OffsetAndEpoch(3, 2), 0)
    with pytest.raises(ValueError, match="not valid"):
        ctx.client.create_snapshot(OffsetAndEpoch(3, 0), 0)
    assert ctx.client.latest_snapshot_id() is None
    snapshot_of(ctx, 3)
    assert ctx.client.latest_snapshot_id() == OffsetAndEpoch(3, 1)
    assert ctx.client.create_snapshot(OffsetAndEpoch(3, 1), 0) is None  # exists
    ctx.log.retention_max_bytes = 0
    snapshot_of(ctx, 4)
    ctx.advance(LOG_CLEAN_INTERVAL_MS)
    ctx.poll()
    assert ctx.log.start_offset == 4
    assert ctx.client.create_snapshot(OffsetAndEpoch(3, 1), 0) is None  # below the log start


def test_create_snapshot_before_start_is_refused():
    log = MemoryLog()
    voters = VoterSet([Voter(ReplicaKey(1), Endpoints([Endpoint("CONTROLLER", "h", 1)]))])
    node = RaftNode(node_id=1, cluster_id="c", voters=voters, log=log, rng=random.Random(0))
    client = RaftClient(node, lambda *a: [])
    with pytest.raises(Exception, match="not been started"):
        client.create_snapshot(OffsetAndEpoch(0, 0), 0)


def test_the_writer_factory_wraps_the_raw_writer_with_the_log_time():
    ctx, _ = committed_leader(appends=2)
    seen = []
    ctx.client._snapshot_writer = lambda raw, ts: seen.append((raw.snapshot_id, ts)) or raw
    ctx.client.create_snapshot(OffsetAndEpoch(2, 1), 1234)
    assert seen == [(OffsetAndEpoch(2, 1), 1234)]


def test_clean_log_is_emitted_once_per_interval():
    ctx, _ = committed_leader(appends=1)
    cleans = lambda: sum(isinstance(e, CleanLog) for e in ctx.writes)  # noqa: E731
    before = cleans()
    ctx.advance(LOG_CLEAN_INTERVAL_MS - 1 - ctx.now % LOG_CLEAN_INTERVAL_MS)
    ctx.poll()
    assert cleans() == before
    ctx.advance(1)
    out = ctx.poll()
    assert cleans() == before + 1
    assert out.next_deadline_ms is not None and out.next_deadline_ms <= ctx.now + LOG_CLEAN_INTERVAL_MS
    ctx.poll()
    assert cleans() == before + 1


def test_retention_deletes_the_log_before_a_newer_snapshot_only():
    ctx, _ = committed_leader(appends=5, retention=0)
    snapshot_of(ctx, 3)
    ctx.advance(LOG_CLEAN_INTERVAL_MS)
    ctx.poll()
    assert ctx.log.start_offset == 0  # the only snapshot always stays, with the log it does not replace
    snapshot_of(ctx, 5)
    ctx.advance(LOG_CLEAN_INTERVAL_MS)
    ctx.poll()
    assert ctx.log.start_offset == 5 and ctx.log.earliest_snapshot_id() == OffsetAndEpoch(5, 1)
    assert ctx.log.end_offset_for_epoch(1) == OffsetAndEpoch(6, 1)


def test_retention_within_limits_keeps_everything():
    ctx, _ = committed_leader(appends=5, retention=1 << 20)
    snapshot_of(ctx, 3)
    snapshot_of(ctx, 5)
    ctx.advance(LOG_CLEAN_INTERVAL_MS)
    ctx.poll()
    assert ctx.log.start_offset == 0 and len(ctx.log._snapshots) == 2


def test_a_new_listener_loads_the_snapshot_first_then_commits_after_it():
    ctx, _ = committed_leader(appends=5)
    snapshot_of(ctx, 3)
    late = StateMachine()
    ctx.client.register(late)
    ctx.poll()
    assert late.events == [("load", OffsetAndEpoch(3, 1)), ("commit", 3)]
    assert late.records == [b"v0", b"v1", b"v2", b"v3", b"v4"]


def test_a_caught_up_leader_listener_never_reloads_when_the_log_start_moves():
    ctx, sm = committed_leader(appends=5, retention=0)
    snapshot_of(ctx, 2)
    snapshot_of(ctx, 6)
    ctx.advance(LOG_CLEAN_INTERVAL_MS)
    ctx.poll()
    assert ctx.log.start_offset == 6
    ctx.client.schedule_append(1, [b"v5"])
    for _ in range(3):
        ctx.poll()
    assert sm.records[-1] == b"v5" and sm.loads == []


def test_a_follower_listener_behind_an_installed_snapshot_loads_it_before_later_commits():
    from raft_context import begin_epoch
    from kraft.core import rpc
    from kraft.core.effects import LeaderBatch
    from kraft.core.types import ElectionState
    ctx = RaftContext.build(local_id=1, log_epochs=(1,), election=ElectionState(1))
    sm = StateMachine()
    ctx.client.register(sm)
    ctx.deliver(begin_epoch(2, 2))
    ctx.responses.clear()
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, current_leader_id=2, current_leader_epoch=2,
                                       high_watermark=1))
    ctx.poll()
    assert sm.records == [b"r0"]
    (send,) = ctx.take_sent(rpc.FetchRequest)
    sid = OffsetAndEpoch(5, 2)
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, current_leader_id=2, current_leader_epoch=2,
                                       snapshot_id=sid))
    data = b"".join(encode_batch(LeaderBatch(i, 1 if i == 0 else 2, 0, (b"s%d" % i,))) for i in range(5))
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchSnapshotRequest)
    ctx.answer(send, rpc.FetchSnapshotResponse(topic="__cluster_metadata", snapshot_id=sid, current_leader_id=2,
                                               current_leader_epoch=2, size=len(data), position=0,
                                               unaligned_records=data))
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    more = encode_batch(LeaderBatch(5, 2, 0, (b"s5",)))
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, current_leader_id=2, current_leader_epoch=2,
                                       high_watermark=6, records=more))
    ctx.poll()
    assert sm.events == [("commit", 0), ("load", sid), ("commit", 5)]
    assert sm.records == [b"s0", b"s1", b"s2", b"s3", b"s4", b"s5"]


def test_a_new_listener_loads_the_bootstrap_checkpoint_once_a_high_watermark_of_zero_is_known():
    """Kafka 3.9.0 starts a listener at offset -1, so the bootstrap checkpoint (0-0) of an empty
    log is loaded as soon as any high watermark is known, 0 included; commits follow from 0."""
    from raft_context import begin_epoch
    from kraft.core import rpc
    from kraft.core.effects import LeaderBatch
    ctx = RaftContext.build(local_id=1)
    bootstrap = OffsetAndEpoch(0, 0)
    writer = ctx.log.create_new_snapshot(bootstrap)
    writer.append(b"")
    writer.freeze()
    sm = StateMachine()
    ctx.client.register(sm)
    ctx.poll()
    assert sm.events == []  # no high watermark yet: nothing to serve
    ctx.deliver(begin_epoch(1, 2))
    ctx.responses.clear()
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, current_leader_id=2, current_leader_epoch=1,
                                       high_watermark=0, records=encode_batch(LeaderBatch(0, 1, 0, (b"a",)))))
    ctx.poll()
    assert sm.events == [("load", bootstrap)]
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, current_leader_id=2, current_leader_epoch=1,
                                       high_watermark=1))
    ctx.poll()
    assert sm.events == [("load", bootstrap), ("commit", 0)] and sm.records == [b"a"]


def test_a_new_listener_without_snapshots_starts_at_zero_and_never_loads():
    ctx, sm = committed_leader(appends=2)
    assert sm.loads == [] and sm.events[0] == ("commit", 0)
