"""FetchSnapshot at both versions: every answer of the leader, and how a follower takes each."""
import logging
import pytest

from raft_context import RaftContext, begin_epoch
from kraft import handlers
from kraft.core import rpc
from kraft.core.config import QuorumConfig
from kraft.core.effects import AbandonSnapshotDownload, AppendSnapshotChunk, InstallSnapshot
from kraft.core.errors import FatalRaftError
from kraft.core.log import OffsetAndEpoch
from kraft.core.types import ElectionState, NodeEndpoint
from kraft.protocol.uuid import Uuid
from kraft.protocol import messages
from kraft.protocol.errors import Errors

SID = OffsetAndEpoch(1, 1)
DATA = b"0123456789"
VERSIONS = [0, 1]


class _Snapshot:
    def __init__(self, snapshot_id, data):
        self.snapshot_id, self.data = snapshot_id, data

    def size_in_bytes(self):
        return len(self.data)

    def read(self, position, max_bytes):
        return self.data[position:position + max_bytes]

    def records(self):
        return self.data


def leader_with_snapshot():
    ctx = RaftContext.build(local_id=1)
    ctx.become_leader()
    ctx.sent.clear()
    snap = _Snapshot(SID, DATA)
    ctx.log.latest_snapshot_id = lambda: SID
    ctx.log.read_snapshot = lambda i: snap if i == SID else None
    return ctx


def request(version, epoch=1, snapshot_id=SID, position=0, **kw):
    return rpc.FetchSnapshotRequest(kw.pop("cluster", "test-cluster-id"), kw.pop("replica", 2),
                                    kw.pop("topic", "__cluster_metadata"), kw.pop("partition", 0), epoch,
                                    snapshot_id, position, api_version=version, **kw)


def endpoints(version):
    return (NodeEndpoint(1, "host1", 9001),) if version >= 1 else ()


@pytest.mark.parametrize("version", VERSIONS)
def test_chunks_by_position_and_max_bytes(version):
    ctx = leader_with_snapshot()
    got, position = b"", 0
    while position < len(DATA):
        ctx.deliver(request(version, position=position, max_bytes=4))
        r = ctx.response()
        assert (r.partition_error, r.snapshot_id, r.size, r.position) == (0, SID, len(DATA), position)
        assert (r.current_leader_id, r.current_leader_epoch, r.api_version) == (1, 1, version)
        assert r.node_endpoints == endpoints(version)
        got += bytes(r.unaligned_records)
        position += len(r.unaligned_records)
    assert got == DATA


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kw,error", [
    (dict(position=10), Errors.POSITION_OUT_OF_RANGE),
    (dict(position=-1), Errors.POSITION_OUT_OF_RANGE),
    (dict(snapshot_id=OffsetAndEpoch(5, 1)), Errors.SNAPSHOT_NOT_FOUND),
    (dict(epoch=0), Errors.FENCED_LEADER_EPOCH),
    (dict(epoch=2), Errors.UNKNOWN_LEADER_EPOCH),
])
def test_partition_errors_carry_the_leader(version, kw, error):
    ctx = leader_with_snapshot()
    ctx.deliver(request(version, **kw))
    r = ctx.response()
    assert (r.error_code, r.partition_error, r.current_leader_id, r.current_leader_epoch) == (0, error, 1, 1)
    assert r.unaligned_records == b"" and r.node_endpoints == endpoints(version)


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_partition_names_the_requested_one_without_a_leader(version):
    ctx = leader_with_snapshot()
    ctx.deliver(request(version, topic="other", partition=7))
    r = ctx.response()
    assert (r.topic, r.partition, r.partition_error, r.current_leader_id) == (
        "other", 7, Errors.UNKNOWN_TOPIC_OR_PARTITION, -1)
    assert r.node_endpoints == endpoints(version)


@pytest.mark.parametrize("version", VERSIONS)
def test_top_level_errors(version):
    ctx = leader_with_snapshot()
    ctx.deliver(request(version, cluster="someone-else"))
    assert ctx.response().error_code == Errors.INCONSISTENT_CLUSTER_ID
    ctx.deliver(request(version, topic_count=2, first_topic_partition_count=2, partition_count=4))
    r = ctx.response()
    assert (r.error_code, r.partition_count) == (Errors.INVALID_REQUEST, 0)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_follower_answers_not_leader_or_follower_naming_the_leader(version):
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(begin_epoch(3, leader=2))
    ctx.responses.clear()
    ctx.deliver(request(version, epoch=3))
    r = ctx.response()
    assert (r.partition_error, r.current_leader_id, r.current_leader_epoch) == (Errors.NOT_LEADER_OR_FOLLOWER, 2, 3)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_shutting_down_leader_answers_broker_not_available(version):
    ctx = leader_with_snapshot()
    ctx.client.shutdown(5000)
    ctx.deliver(request(version))
    assert ctx.response().partition_error == Errors.BROKER_NOT_AVAILABLE


def test_serving_a_voter_counts_for_check_quorum():
    ctx = leader_with_snapshot()
    deadline = ctx.node.role.check_quorum_deadline_ms
    ctx.advance(100)
    ctx.deliver(request(1, replica=2))
    ctx.response()
    assert ctx.node.role.check_quorum_deadline_ms == ctx.now + ctx.node.config.check_quorum_timeout_ms > deadline


# ------------------------------------------------------- the request's shape (Kafka 3.9.0)
OURS = "__cluster_metadata"


def entry(topic=OURS, partition=0, epoch=1, snapshot_id=SID, position=0):
    """One ``other_partitions`` entry."""
    return (topic, partition, epoch, snapshot_id, position, Uuid.ZERO)


def shaped(version, first, others, topics, first_topic_partitions):
    """A request whose first entry is ``first`` (topic, partition) followed by ``others``; the first entry
    asks for a snapshot the leader does not have, so serving it would answer SNAPSHOT_NOT_FOUND."""
    return request(version, topic=first[0], partition=first[1], snapshot_id=OffsetAndEpoch(9, 9), position=99,
                   topic_count=topics, first_topic_partition_count=first_topic_partitions,
                   partition_count=1 + len(others), other_partitions=tuple(others))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("first,topics,first_topic_partitions", [
    (("other", 0), 2, 1),          # several topics, one partition in the first: passes Kafka's check
    ((OURS, 5), 1, 2),             # one topic with several partitions: passes too
])
def test_our_partition_is_served_wherever_it_is_in_the_request(version, first, topics, first_topic_partitions):
    ctx = leader_with_snapshot()
    ctx.deliver(shaped(version, first, [entry(OURS, 3), entry(position=3)], topics, first_topic_partitions))
    r = ctx.response()
    assert (r.error_code, r.topic, r.partition, r.partition_error) == (0, OURS, 0, Errors.NONE)
    assert (r.snapshot_id, r.position, bytes(r.unaligned_records)) == (SID, 3, DATA[3:])
    assert (r.current_leader_id, r.partition_count, r.node_endpoints) == (1, 1, endpoints(version))


@pytest.mark.parametrize("version", VERSIONS)
def test_several_topics_and_several_partitions_in_the_first_is_an_invalid_request(version):
    ctx = leader_with_snapshot()
    ctx.deliver(shaped(version, (OURS, 0), [entry(OURS, 1), entry("other", 0)], 2, 2))
    r = ctx.response()
    assert (r.error_code, r.partition_count) == (Errors.INVALID_REQUEST, 0)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("topics,first_topic_partitions", [(0, 0), (1, 0)])
def test_a_request_without_partitions_is_an_invalid_request(version, topics, first_topic_partitions):
    """Kafka 3.9.0 throws (a fatal fault) on these; kraft answers INVALID_REQUEST."""
    ctx = leader_with_snapshot()
    ctx.deliver(request(version, topic="", partition=-1, topic_count=topics,
                        first_topic_partition_count=first_topic_partitions, partition_count=0))
    r = ctx.response()
    assert (r.error_code, r.partition_count) == (Errors.INVALID_REQUEST, 0)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("first,others,topics,first_topic_partitions", [
    (("a", 3), [entry("b", 0), entry(OURS, 1)], 3, 1),     # our topic, another partition
    ((OURS, 2), [entry(OURS, 1), entry("b", 0)], 1, 3),
    (("a", 0), [entry("b", 0), entry(OURS.upper(), 0)], 3, 1),
])
def test_no_entry_for_our_partition_is_unknown_naming_the_first_entry(version, first, others, topics,
                                                                       first_topic_partitions):
    ctx = leader_with_snapshot()
    ctx.deliver(shaped(version, first, others, topics, first_topic_partitions))
    r = ctx.response()
    assert (r.error_code, r.topic, r.partition) == (0, first[0], first[1])
    assert (r.partition_error, r.current_leader_id, r.partition_count) == (Errors.UNKNOWN_TOPIC_OR_PARTITION, -1, 1)
    assert r.node_endpoints == endpoints(version)


def _wire_request(version, topics):
    """A FetchSnapshot request as it comes off the wire: ``topics`` is [(name, [partition index, ...])];
    partition 0 of our topic asks for SID from position 2, every other entry for a snapshot 9-9."""
    m = messages.FetchSnapshotRequest

    def partition(name, index):
        ours = (name, index) == (OURS, 0)
        return m.PartitionSnapshot(partition=index, current_leader_epoch=1, position=2 if ours else 7,
                                   snapshot_id=m.SnapshotId(end_offset=SID.offset if ours else 9,
                                                            epoch=SID.epoch if ours else 9))

    message = m(cluster_id="test-cluster-id", replica_id=2, max_bytes=1000, topics=[
        m.TopicSnapshot(name=name, partitions=[partition(name, i) for i in indexes]) for name, indexes in topics])
    decoded = m.decode(message.encode(version), version)
    return handlers.request_to_core(rpc.FETCH_SNAPSHOT, decoded, version)


def _wire_response(response):
    m = messages.FetchSnapshotResponse
    return m.decode(handlers.response_from_core(response).encode(response.api_version), response.api_version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("topics,answer_topic,answer_partition,error", [
    ([("x", [4]), (OURS, [0])], OURS, 0, Errors.NONE),
    ([(OURS, [5, 0])], OURS, 0, Errors.NONE),
    ([(OURS, [0, 1]), ("x", [0])], None, None, Errors.INVALID_REQUEST),
    ([("x", [4]), (OURS, [1]), ("y", [0])], "x", 4, Errors.UNKNOWN_TOPIC_OR_PARTITION),
    ([], None, None, Errors.INVALID_REQUEST),
    ([(OURS, [])], None, None, Errors.INVALID_REQUEST),
])
def test_request_shapes_from_the_wire_to_the_wire(version, topics, answer_topic, answer_partition, error):
    ctx = leader_with_snapshot()
    ctx.deliver(_wire_request(version, topics))
    wire = _wire_response(ctx.response())
    if error == Errors.INVALID_REQUEST:
        assert (wire.error_code, wire.topics) == (error, [])
        return
    (topic,) = wire.topics
    (partition,) = topic.partitions
    assert (wire.error_code, topic.name, partition.index, partition.error_code) == (
        0, answer_topic, answer_partition, error)
    if error == Errors.NONE:
        assert (partition.position, bytes(partition.unaligned_records)) == (2, DATA[2:])
    assert len(wire.node_endpoints) == version


# ------------------------------------------------------------------ the follower side
def downloading_follower(version=1, **kw):
    ctx = RaftContext.build(local_id=1, election=ElectionState(0),
                            peer_versions={2: {rpc.FETCH_SNAPSHOT: (0, version), rpc.FETCH: (13, 17)}}, **kw)
    ctx.deliver(begin_epoch(1, leader=2))
    ctx.responses.clear()
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, current_leader_id=2,
                                       current_leader_epoch=1, snapshot_id=OffsetAndEpoch(4, 1)))
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchSnapshotRequest)
    assert send.request.api_version == version
    return ctx, send


def answer(ctx, send, **kw):
    fields = dict(topic="__cluster_metadata", snapshot_id=OffsetAndEpoch(4, 1), current_leader_id=2,
                  current_leader_epoch=1, api_version=send.request.api_version)
    fields.update(kw)
    ctx.answer(send, rpc.FetchSnapshotResponse(**fields))


@pytest.mark.parametrize("version", VERSIONS)
def test_follower_moves_to_a_newer_leader_and_abandons_the_download(version):
    ctx, send = downloading_follower(version)
    answer(ctx, send, partition_error=Errors.FENCED_LEADER_EPOCH, current_leader_id=3, current_leader_epoch=2)
    assert AbandonSnapshotDownload(OffsetAndEpoch(4, 1)) in ctx.writes
    assert ctx.node.leader_and_epoch().epoch == 2 and ctx.node.leader_id() == 3
    assert ctx.node.role.snapshot_id is None


@pytest.mark.parametrize("version", VERSIONS)
def test_follower_retries_after_broker_not_available_and_ignores_stale_epochs(version):
    ctx, send = downloading_follower(version)
    ctx.answer(send, rpc.error_response(rpc.FETCH_SNAPSHOT, Errors.BROKER_NOT_AVAILABLE, version))
    assert ctx.node.role.snapshot_id == OffsetAndEpoch(4, 1)
    assert ctx.node.request_manager.is_backing_off(2, ctx.now)
    ctx.advance(ctx.node.config.retry_backoff_ms)
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchSnapshotRequest)
    assert send.request.position == 0
    answer(ctx, send, partition_error=Errors.UNKNOWN_LEADER_EPOCH)
    assert ctx.node.role.snapshot_id == OffsetAndEpoch(4, 1) and ctx.role == "Follower"


@pytest.mark.parametrize("config,behaviour,expected", [
    (None, "3.9", 1048576),  # Kafka 4.3's default for controller.quorum.fetch.snapshot.max.bytes
    (QuorumConfig(fetch_snapshot_max_bytes=777), "3.9", 777),
    (QuorumConfig(fetch_snapshot_max_bytes=777), "reference", 2**31 - 1),
])
def test_fetch_snapshot_max_bytes_is_the_configured_one(config, behaviour, expected):
    ctx, send = downloading_follower(config=config, behaviour=behaviour)
    assert send.request.max_bytes == expected


def test_a_chunk_at_the_wrong_position_is_fatal():
    ctx, send = downloading_follower()
    with pytest.raises(FatalRaftError, match="position"):
        answer(ctx, send, size=3, position=1, unaligned_records=b"abc")


def test_a_complete_download_installs_and_resumes_fetching_after_it(caplog):
    ctx, send = downloading_follower()
    from kraft.core.memory import LeaderBatch, encode_batch
    data = b"".join(encode_batch(LeaderBatch(i, 1, 0, (b"s",))) for i in range(4))
    with caplog.at_level(logging.INFO, logger="kraft.core.apply"):
        answer(ctx, send, size=len(data), position=0, unaligned_records=data)
    assert InstallSnapshot(OffsetAndEpoch(4, 1)) in ctx.writes
    # the truncation is logged: from which range, to which start, why
    assert [r.getMessage() for r in caplog.records if r.name == "kraft.core.apply"] == [
        "Truncated the log fully, from [0, 0) to start at offset 4: snapshot OffsetAndEpoch(offset=4, epoch=1) "
        "installed from the leader"]
    assert ctx.log.start_offset == 4 and ctx.node.high_watermark == 4
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    assert (send.request.fetch_offset, send.request.last_fetched_epoch) == (4, 1)


def test_a_downloaded_snapshot_that_does_not_lie_beyond_the_log_end_is_fatal():
    ctx = RaftContext.build(local_id=1, log_epochs=(1, 1, 1, 1, 1), election=ElectionState(1))
    ctx.deliver(begin_epoch(2, leader=2))
    ctx.responses.clear()
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, current_leader_id=2,
                                       current_leader_epoch=2, snapshot_id=OffsetAndEpoch(4, 1)))
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchSnapshotRequest)
    with pytest.raises(FatalRaftError, match="beyond the log end"):
        ctx.answer(send, rpc.FetchSnapshotResponse(topic="__cluster_metadata", snapshot_id=OffsetAndEpoch(4, 1),
                                                   current_leader_id=2, current_leader_epoch=2, size=2,
                                                   position=0, unaligned_records=b"ab"))


def _after_one_chunk(version):
    """A follower that has written 4 of 10 bytes of snapshot 4-1 and asked for the rest."""
    ctx, send = downloading_follower(version)
    answer(ctx, send, size=10, position=0, unaligned_records=b"0123")
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchSnapshotRequest)
    assert (send.request.snapshot_id, send.request.position) == (OffsetAndEpoch(4, 1), 4)
    return ctx, send


def _assert_back_to_fetching_from_scratch(ctx):
    """The download is dropped, the next request is a Fetch, and a new redirect restarts at byte 0."""
    sid = OffsetAndEpoch(4, 1)
    assert ctx.writes.count(AbandonSnapshotDownload(sid)) == 1
    assert (ctx.node.role.snapshot_id, ctx.node.role.snapshot_size) == (None, 0)
    assert ctx.role == "Follower" and not ctx.node.request_manager.is_backing_off(2, ctx.now)
    ctx.poll()
    assert ctx.take_sent(rpc.FetchSnapshotRequest) == []
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, current_leader_id=2,
                                       current_leader_epoch=1, snapshot_id=sid))
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchSnapshotRequest)
    assert (send.request.snapshot_id, send.request.position) == (sid, 0)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("error,snapshot_id", [
    (Errors.POSITION_OUT_OF_RANGE, OffsetAndEpoch(-1, -1)),   # what a leader's error answer carries
    (Errors.UNKNOWN_SERVER_ERROR, OffsetAndEpoch(-1, -1)),
    (Errors.NONE, OffsetAndEpoch(-1, -1)),
    (Errors.NONE, OffsetAndEpoch(4, -1)),                      # either negative field is enough
    (Errors.NONE, OffsetAndEpoch(-1, 1)),
])
def test_a_response_without_a_snapshot_id_abandons_the_download(version, error, snapshot_id):
    ctx, send = _after_one_chunk(version)
    answer(ctx, send, partition_error=error, snapshot_id=snapshot_id)
    _assert_back_to_fetching_from_scratch(ctx)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("snapshot_id", [OffsetAndEpoch(-1, -1), OffsetAndEpoch(4, 1)])
def test_snapshot_not_found_abandons_the_download(version, snapshot_id):
    ctx, send = _after_one_chunk(version)
    answer(ctx, send, partition_error=Errors.SNAPSHOT_NOT_FOUND, snapshot_id=snapshot_id)
    _assert_back_to_fetching_from_scratch(ctx)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kw,complaint", [
    (dict(snapshot_id=OffsetAndEpoch(5, 1)), r"offset=5, epoch=1\) at position 4"),
    (dict(snapshot_id=OffsetAndEpoch(4, 2)), r"offset=4, epoch=2\) at position 4"),
    (dict(position=0), "position 0"),      # a chunk already written
    (dict(position=6), "position 6"),      # a gap
])
def test_a_chunk_for_another_snapshot_or_position_is_fatal(version, kw, complaint):
    ctx, send = _after_one_chunk(version)
    writes = len(ctx.writes)
    fields = dict(size=10, position=4, unaligned_records=b"45")
    fields.update(kw)
    with pytest.raises(FatalRaftError, match=complaint):
        answer(ctx, send, **fields)
    assert len(ctx.writes) == writes      # nothing appended to the download


def _wire_answer(version, topics):
    """A FetchSnapshot response from the wire: ``topics`` is [(name, [(partition, bytes), ...])],
    every entry answering snapshot 4-1 from position 0 (size 10) for leader 2 in epoch 1."""
    m = messages.FetchSnapshotResponse
    message = m(topics=[m.TopicSnapshot(name=name, partitions=[
        m.PartitionSnapshot(index=p, snapshot_id=m.SnapshotId(end_offset=4, epoch=1),
                            current_leader=m.LeaderIdAndEpoch(leader_id=2, leader_epoch=1), size=10, position=0,
                            unaligned_records=data) for p, data in partitions]) for name, partitions in topics])
    return handlers.response_to_core(rpc.FETCH_SNAPSHOT, m.decode(message.encode(version), version), version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("topics", [
    [("other", [(0, b"nope")]), (OURS, [(0, b"0123")])],            # several topics, one partition in the first
    [(OURS, [(1, b"nope"), (0, b"0123")])],                         # one topic, several partitions
])
def test_the_follower_takes_its_partition_wherever_it_is_in_the_response(version, topics):
    ctx, send = downloading_follower(version)
    ctx.answer(send, _wire_answer(version, topics))
    chunks = [bytes(e.data) for e in ctx.writes if isinstance(e, AppendSnapshotChunk)]
    assert chunks == [b"0123"]
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchSnapshotRequest)
    assert send.request.position == 4


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("topics", [
    [("other", [(0, b"nope"), (1, b"nope")]), (OURS, [(0, b"0123")])],  # not one topic AND not one partition
    [("other", [(0, b"nope")])],                                          # no entry for our partition
    [],
])
def test_a_response_of_another_shape_or_without_our_partition_is_not_taken(version, topics):
    ctx, send = downloading_follower(version)
    ctx.answer(send, _wire_answer(version, topics))
    assert not any(isinstance(e, AppendSnapshotChunk) for e in ctx.writes)
    assert ctx.node.role.snapshot_id == OffsetAndEpoch(4, 1) and ctx.node.role.snapshot_size == 0
    assert ctx.node.request_manager.is_backing_off(2, ctx.now)  # an unsuccessful response: backoff
