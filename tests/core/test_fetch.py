"""Fetch: the leader's validation, divergence, parking and high watermark; the follower's side."""
import logging
from kraft.protocol.uuid import Uuid

import pytest

from raft_context import RaftContext, begin_epoch, dir_of, fetch_request, fetch_response
from kraft.core import rpc
from kraft.core.config import QuorumConfig
from kraft.core.effects import AppendAsFollower, Flush, TruncateToEndOffset, UpdateHighWatermark
from kraft.core.errors import FatalRaftError
from kraft.core.log import OffsetAndEpoch
from kraft.core.memory import LeaderBatch, decode_batches, encode_batch
from kraft.core.types import ElectionState, NodeEndpoint
from kraft.protocol.errors import Errors


def leader(**kw):
    ctx = RaftContext.build(local_id=1, **kw)
    ctx.become_leader()
    ctx.sent.clear()
    return ctx


def test_new_leader_writes_leader_change_at_epoch_start():
    ctx = RaftContext.build(local_id=1, log_epochs=(1, 1), election=ElectionState(1))
    ctx.become_leader()
    (control,) = ctx.leader_batches()
    assert control.base_offset == 2 and control.epoch == 2 and ctx.node.role.epoch_start_offset == 2
    assert control.control.leader_id == 1 and control.control.voters == (1, 2, 3)
    assert set(control.control.granting_voters) >= {1}
    (stored,) = decode_batches(ctx.log.read(2, 1 << 20).records)
    assert stored.control == control.control and stored.epoch == 2
    assert ctx.node.high_watermark is None  # not until a majority holds the epoch start


def test_high_watermark_needs_a_majority_past_the_epoch_start():
    ctx = leader(log_epochs=(1, 1), election=ElectionState(1))
    start = ctx.node.role.epoch_start_offset  # 2
    ctx.deliver(fetch_request(2, 2, offset=2, last_epoch=1))
    assert ctx.response().high_watermark == -1  # offset 2 is the epoch start, not past it
    ctx.deliver(fetch_request(2, 2, offset=start + 1, last_epoch=2))
    response = ctx.response()
    assert response.high_watermark == start + 1 and ctx.node.high_watermark == start + 1
    assert UpdateHighWatermark(start + 1) in ctx.writes


def test_observer_fetches_never_move_the_high_watermark():
    ctx = leader()
    ctx.deliver(fetch_request(1, 7, offset=1, last_epoch=1))
    assert ctx.response().high_watermark == -1
    assert 7 in {k.id for k in ctx.node.role.observers}


def test_fetch_from_a_voter_id_with_another_directory_is_an_observer():
    ctx = leader(voter_dirs=True)
    ctx.deliver(fetch_request(1, 2, offset=1, last_epoch=1, replica_dir=Uuid((5).to_bytes(16, "big"))))
    assert ctx.response().high_watermark == -1
    ctx.deliver(fetch_request(1, 2, offset=1, last_epoch=1, replica_dir=dir_of(2)))
    assert ctx.response().high_watermark == 1


@pytest.mark.parametrize("make,error", [
    (lambda: fetch_request(1, cluster="x"), Errors.INCONSISTENT_CLUSTER_ID),
    (lambda: fetch_request(1, topic_id=Uuid.ZERO), Errors.INVALID_REQUEST),
    (lambda: fetch_request(1, partition=3), Errors.INVALID_REQUEST),
    (lambda: fetch_request(1, partition_count=2), Errors.INVALID_REQUEST),
])
def test_fetch_top_level_errors(make, error):
    ctx = leader()
    ctx.deliver(make())
    response = ctx.response()
    assert response.error_code == error and response.partition_count == 0


@pytest.mark.parametrize("kw", [{"max_wait": -1}, {"offset": -1}, {"last_epoch": -1}, {"last_epoch": 2}])
def test_fetch_invalid_fields(kw):
    ctx = leader()
    ctx.deliver(fetch_request(1, **kw))
    response = ctx.response()
    assert response.partition_error == Errors.INVALID_REQUEST and response.high_watermark == -1


def test_fetch_epoch_checks_and_role_checks():
    ctx = leader(election=ElectionState(3))
    epoch = ctx.node.epoch
    ctx.deliver(fetch_request(epoch - 1, last_epoch=0))
    assert ctx.response().partition_error == Errors.FENCED_LEADER_EPOCH
    ctx.deliver(fetch_request(epoch + 1, last_epoch=0))
    assert ctx.response().partition_error == Errors.UNKNOWN_LEADER_EPOCH
    ctx.deliver(fetch_request(epoch, 1))
    assert ctx.response().partition_error == Errors.UNKNOWN_SERVER_ERROR  # from the leader itself
    follower = RaftContext.build(local_id=1)
    follower.deliver(begin_epoch(2, 3))
    follower.responses.clear()
    follower.deliver(fetch_request(2, 2))
    response = follower.response()
    assert response.partition_error == Errors.NOT_LEADER_OR_FOLLOWER
    assert (response.current_leader_id, response.current_leader_epoch) == (3, 2)


def test_fetch_while_shutting_down_is_broker_not_available():
    ctx = leader()
    ctx.client.shutdown(5000)
    ctx.deliver(fetch_request(1, offset=1, last_epoch=1))
    assert ctx.response().partition_error == Errors.BROKER_NOT_AVAILABLE


def test_diverging_follower_gets_the_end_of_the_common_epoch():
    ctx = leader(log_epochs=(1, 1, 3), election=ElectionState(3))
    ctx.deliver(fetch_request(4, 2, offset=5, last_epoch=2))
    response = ctx.response()
    assert response.diverging_epoch == OffsetAndEpoch(2, 1) and response.records == b""
    ctx.deliver(fetch_request(4, 2, offset=9, last_epoch=3))
    assert ctx.response().diverging_epoch == OffsetAndEpoch(3, 3)


def test_fetch_parks_until_new_data_or_max_wait():
    ctx = leader(config=QuorumConfig(append_linger_ms=5))
    ctx.deliver(fetch_request(1, 2, offset=1, last_epoch=1, max_wait=500), correlation_id=7)
    assert ctx.responses == []  # parked
    ctx.client.schedule_append(1, [b"hello"])
    ctx.advance(5)
    ctx.poll()  # drains the accumulator: the append is an effect
    ctx.poll()  # the parked fetch is answered once the append is applied
    response = ctx.response()
    (batch,) = decode_batches(response.records)
    assert batch.records == (b"hello",) and batch.base_offset == 1
    ctx.deliver(fetch_request(1, 2, offset=2, last_epoch=1, max_wait=500), correlation_id=8)
    assert ctx.responses == []
    ctx.advance(499)
    ctx.poll()
    assert ctx.responses == []
    ctx.advance(1)
    ctx.poll()
    response = ctx.response()
    assert response.records == b"" and response.partition_error == Errors.NONE


def test_parked_fetches_fail_when_the_leader_resigns():
    ctx = leader()
    ctx.deliver(fetch_request(1, 2, offset=1, last_epoch=1, max_wait=500))
    ctx.node.resign(1)
    ctx.poll()
    assert ctx.response().partition_error == Errors.NOT_LEADER_OR_FOLLOWER
    assert ctx.role == "Resigned"


@pytest.mark.parametrize("version,expected", [(17, (NodeEndpoint(1, "host1", 9001),)), (16, ()), (13, ())])
def test_fetch_response_endpoints_only_from_v17(version, expected):
    ctx = leader()
    ctx.deliver(fetch_request(1, 2, offset=1, last_epoch=1, version=version))
    assert ctx.response().node_endpoints == expected


# ------------------------------------------------------------------ follower side
def follower(**kw):
    ctx = RaftContext.build(local_id=1, **kw)
    ctx.deliver(begin_epoch(kw.get("election", ElectionState(0)).epoch + 1, 2))
    ctx.responses.clear()
    ctx.poll()
    return ctx


def batch(base, epoch, *values):
    return encode_batch(LeaderBatch(base, epoch, 0, tuple(values) or (b"x",)))


def test_follower_appends_flushes_then_fetches_on_and_adopts_the_high_watermark():
    ctx = follower()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    req = send.request
    assert (req.fetch_offset, req.last_fetched_epoch, req.current_leader_epoch, req.replica_id) == (0, 0, 1, 1)
    assert req.replica_directory_id == dir_of(1) and req.max_wait_ms == 500
    data = batch(0, 1, b"a", b"b") + batch(2, 1, b"c")[:-3]  # the second batch is cut short
    out = ctx.answer(send, fetch_response(1, 2, records=data, hw=5))
    kinds = [type(e) for e in out.effects]
    assert kinds == [AppendAsFollower, Flush, UpdateHighWatermark]
    assert ctx.log.end_offset == 2 and ctx.node.high_watermark == 2  # min(LEO, leader HW)
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    assert send.request.fetch_offset == 2 and send.request.last_fetched_epoch == 1


@pytest.mark.parametrize("config,behaviour,expected", [
    (None, "3.9", 1048576),  # Kafka 4.3's default for controller.quorum.fetch.max.bytes
    (QuorumConfig(fetch_max_bytes=12345), "3.9", 12345),
    (QuorumConfig(fetch_max_bytes=12345), "reference", rpc.MAX_FETCH_BYTES),  # 3.9's fixed 8 MiB
])
def test_fetch_max_bytes_is_the_configured_one(config, behaviour, expected):
    ctx = follower(config=config, behaviour=behaviour)
    (send,) = ctx.take_sent(rpc.FetchRequest)
    assert send.request.max_bytes == expected


def test_follower_truncates_on_divergence(caplog):
    ctx = follower(log_epochs=(1, 1, 2, 2), election=ElectionState(2))
    (send,) = ctx.take_sent(rpc.FetchRequest)
    with caplog.at_level(logging.INFO, logger="kraft.core.apply"):
        ctx.answer(send, fetch_response(3, 2, diverging=OffsetAndEpoch(3, 2)))
    assert TruncateToEndOffset(OffsetAndEpoch(3, 2), 3) in ctx.writes
    assert ctx.log.end_offset == 3
    # never silent: where from, where to, why, and the high watermark the node knew
    [line] = [r for r in caplog.records if r.name == "kraft.core.apply"]
    assert line.levelno == logging.INFO
    assert line.getMessage() == ("Truncated the log from end offset 4 to 3: diverging epoch from the leader "
                                 "(the leader's diverging end offset 3 in epoch 2; high watermark unknown)")


def test_the_truncate_effect_carries_the_known_high_watermark(caplog):
    ctx = follower(log_epochs=(1, 1, 2, 2), election=ElectionState(2))
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, fetch_response(3, 2, hw=1))
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    with caplog.at_level(logging.INFO, logger="kraft.core.apply"):
        ctx.answer(send, fetch_response(3, 2, diverging=OffsetAndEpoch(3, 2)))
    assert TruncateToEndOffset(OffsetAndEpoch(3, 2), 3, "diverging epoch from the leader", 1) in ctx.writes
    assert "high watermark 1)" in caplog.records[-1].getMessage()


def test_follower_refuses_to_truncate_below_its_high_watermark():
    ctx = follower(log_epochs=(1, 1, 1), election=ElectionState(1))
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, fetch_response(2, 2, hw=3))
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    with pytest.raises(FatalRaftError) as failure:
        ctx.answer(send, fetch_response(2, 2, diverging=OffsetAndEpoch(1, 1)))
    # the manager logs this at ERROR as the node stops: both offsets are named
    assert "truncate to offset 1" in str(failure.value) and "below its high watermark 3" in str(failure.value)
    assert ctx.log.end_offset == 3


def test_partition_invalid_request_in_a_response_is_fatal():
    ctx = follower()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    with pytest.raises(FatalRaftError):
        ctx.answer(send, fetch_response(1, 2, error=Errors.INVALID_REQUEST))


def test_broker_not_available_backs_off_for_retry_backoff():
    ctx = follower(config=QuorumConfig(retry_backoff_ms=20))
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, rpc.error_response(rpc.FETCH, Errors.BROKER_NOT_AVAILABLE, 17))
    ctx.advance(19)
    ctx.poll()
    assert ctx.take_sent(rpc.FetchRequest) == []
    ctx.advance(1)
    ctx.poll()
    assert len(ctx.take_sent(rpc.FetchRequest)) == 1


def test_lost_fetch_is_retried_after_the_request_timeout_and_stale_answers_are_dropped():
    ctx = follower(config=QuorumConfig(request_timeout_ms=300, fetch_timeout_ms=2000))
    (first,) = ctx.take_sent(rpc.FetchRequest)
    ctx.advance(299)
    ctx.poll()
    assert ctx.take_sent(rpc.FetchRequest) == []
    ctx.advance(1)
    ctx.poll()
    (second,) = ctx.take_sent(rpc.FetchRequest)
    out = ctx.answer(first, fetch_response(1, 2, records=batch(0, 1), hw=1))
    assert out.effects == [] and ctx.log.end_offset == 0


def test_fetch_timeout_makes_the_follower_a_candidate():
    ctx = follower(config=QuorumConfig(fetch_timeout_ms=2000))
    ctx.advance(1999)
    ctx.poll()
    assert ctx.role == "Follower"
    ctx.advance(1)
    ctx.poll()
    assert ctx.role == "Candidate" and ctx.node.epoch == 2


def test_response_naming_a_higher_epoch_leader_moves_the_follower():
    ctx = follower()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, fetch_response(4, 3, error=Errors.FENCED_LEADER_EPOCH))
    assert ctx.role == "Follower" and ctx.node.role.leader_id == 3 and ctx.node.epoch == 4


# ------------------------------------------------------------------ snapshots
class _Snapshot:
    def __init__(self, snapshot_id, data):
        self.snapshot_id, self.data = snapshot_id, data

    def size_in_bytes(self):
        return len(self.data)

    def read(self, position, max_bytes):
        return self.data[position:position + max_bytes]

    def records(self):
        return self.data


def _with_snapshot(ctx, snapshot_id, data):
    snap = _Snapshot(snapshot_id, data)
    ctx.log.latest_snapshot_id = lambda: snapshot_id
    ctx.log.read_snapshot = lambda i: snap if i == snapshot_id else None


def test_empty_follower_is_sent_to_the_latest_snapshot():
    ctx = leader()
    _with_snapshot(ctx, OffsetAndEpoch(1, 1), b"snapshot-bytes")
    ctx.deliver(fetch_request(1, 2, offset=0, last_epoch=0, max_wait=500))
    response = ctx.response()  # answered at once, not parked
    assert response.snapshot_id == OffsetAndEpoch(1, 1) and response.records == b""


def _snapshot_request(epoch, snapshot_id, position, **kw):
    return rpc.FetchSnapshotRequest(kw.pop("cluster", "test-cluster-id"), 2, kw.pop("topic", "__cluster_metadata"),
                                    kw.pop("partition", 0), epoch, snapshot_id, position, **kw)


def test_fetch_snapshot_serves_bytes_by_position_and_reports_errors():
    ctx = leader()
    sid = OffsetAndEpoch(1, 1)
    _with_snapshot(ctx, sid, b"0123456789")
    ctx.deliver(_snapshot_request(1, sid, 4, max_bytes=3))
    r = ctx.response()
    assert (r.partition_error, r.size, r.position, bytes(r.unaligned_records)) == (0, 10, 4, b"456")
    assert (r.current_leader_id, r.current_leader_epoch) == (1, 1)
    ctx.deliver(_snapshot_request(1, sid, 10))
    assert ctx.response().partition_error == Errors.POSITION_OUT_OF_RANGE
    ctx.deliver(_snapshot_request(1, OffsetAndEpoch(5, 1), 0))
    assert ctx.response().partition_error == Errors.SNAPSHOT_NOT_FOUND
    ctx.deliver(_snapshot_request(2, sid, 0))
    assert ctx.response().partition_error == Errors.UNKNOWN_LEADER_EPOCH
    ctx.deliver(_snapshot_request(1, sid, 0, topic="other"))
    r = ctx.response()
    assert r.partition_error == Errors.UNKNOWN_TOPIC_OR_PARTITION and r.topic == "other" and r.current_leader_id == -1
    ctx.deliver(_snapshot_request(1, sid, 0, cluster="x"))
    assert ctx.response().error_code == Errors.INCONSISTENT_CLUSTER_ID


def test_a_failing_log_read_is_answered_unknown_server_error():
    ctx = leader()

    def broken(*args):
        raise OSError("disk gone")

    ctx.log.validate_offset_and_epoch = broken
    ctx.deliver(fetch_request(1, 2, offset=1, last_epoch=1))
    assert ctx.response().partition_error == Errors.UNKNOWN_SERVER_ERROR


def test_follower_downloads_a_snapshot_in_chunks_then_installs_it():
    from kraft.core.effects import AppendSnapshotChunk, InstallSnapshot, StartSnapshotDownload
    ctx = follower(log_epochs=(1,), election=ElectionState(1))
    (send,) = ctx.take_sent(rpc.FetchRequest)
    sid = OffsetAndEpoch(5, 2)
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, current_leader_id=2,
                                       current_leader_epoch=2, snapshot_id=sid))
    assert StartSnapshotDownload(sid) in ctx.writes
    snapshot_bytes = b"".join(encode_batch(LeaderBatch(i, 2 if i else 1, 0, (b"s%d" % i,))) for i in range(5))
    position = 0
    while True:
        ctx.poll()
        (send,) = ctx.take_sent(rpc.FetchSnapshotRequest)
        req = send.request
        assert (req.snapshot_id, req.position, req.current_leader_epoch) == (sid, position, 2)
        chunk = snapshot_bytes[position:position + 100]
        ctx.answer(send, rpc.FetchSnapshotResponse(topic="__cluster_metadata", snapshot_id=sid, current_leader_id=2,
                                                   current_leader_epoch=2, size=len(snapshot_bytes),
                                                   position=position, unaligned_records=chunk))
        position += len(chunk)
        if position == len(snapshot_bytes):
            break
    assert sum(isinstance(e, AppendSnapshotChunk) for e in ctx.writes) > 1
    assert InstallSnapshot(sid) in ctx.writes
    assert (ctx.log.start_offset, ctx.log.end_offset, ctx.log.last_fetched_epoch()) == (5, 5, 2)
    assert ctx.node.high_watermark == 5
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    assert (send.request.fetch_offset, send.request.last_fetched_epoch) == (5, 2)


def test_snapshot_download_abandoned_when_the_leader_lost_it_and_wrong_positions_are_fatal():
    from kraft.core.effects import AbandonSnapshotDownload
    ctx = follower()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    sid = OffsetAndEpoch(3, 1)
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, current_leader_id=2,
                                       current_leader_epoch=1, snapshot_id=sid))
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchSnapshotRequest)
    ctx.answer(send, rpc.FetchSnapshotResponse(topic="__cluster_metadata", partition_error=Errors.SNAPSHOT_NOT_FOUND,
                                               current_leader_id=2, current_leader_epoch=1))
    assert AbandonSnapshotDownload(sid) in ctx.writes and ctx.node.role.snapshot_id is None
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, current_leader_id=2,
                                       current_leader_epoch=1, snapshot_id=sid))
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchSnapshotRequest)
    with pytest.raises(FatalRaftError, match="position"):
        ctx.answer(send, rpc.FetchSnapshotResponse(topic="__cluster_metadata", snapshot_id=sid, current_leader_id=2,
                                                   current_leader_epoch=1, size=10, position=4,
                                                   unaligned_records=b"xx"))


@pytest.mark.parametrize("version", [13, 14, 15, 16, 17])
def test_valid_fetch_at_every_kraft_version(version):
    ctx = leader(voter_dirs=(version >= 17))
    replica_dir = dir_of(2) if version >= 17 else None
    ctx.deliver(fetch_request(1, 2, offset=1, last_epoch=1, version=version, replica_dir=replica_dir))
    response = ctx.response()
    assert response.api_version == version and response.partition_error == Errors.NONE
    assert response.high_watermark == 1  # the voter was recognised at every version


@pytest.mark.parametrize("version,expected", [(0, ()), (1, (NodeEndpoint(1, "host1", 9001),))])
def test_fetch_snapshot_endpoints_from_v1(version, expected):
    ctx = leader()
    sid = OffsetAndEpoch(1, 1)
    _with_snapshot(ctx, sid, b"0123")
    ctx.deliver(_snapshot_request(1, sid, 0, api_version=version))
    response = ctx.response()
    assert response.api_version == version and response.node_endpoints == expected


def test_bootstrap_checkpoint_is_never_sent_to_followers():
    """Kafka 3.9.0: a 0-0 snapshot (the bootstrap checkpoint of a formatted dynamic quorum) is
    local state only: an empty follower fetches the log from 0 and FetchSnapshot cannot have it."""
    ctx = leader()
    bootstrap = OffsetAndEpoch(0, 0)
    _with_snapshot(ctx, bootstrap, b"bootstrap-checkpoint")
    ctx.deliver(fetch_request(1, 2, offset=0, last_epoch=0))
    response = ctx.response()
    assert response.snapshot_id is None and response.partition_error == Errors.NONE
    assert len(response.records) > 0  # the leader's LeaderChange batch, from offset 0
    ctx.deliver(_snapshot_request(1, bootstrap, 0))
    assert ctx.response().partition_error == Errors.SNAPSHOT_NOT_FOUND


# ------------------------------------------------------------- Fetch v18 (KIP-1166)
def _park_or_answer(ctx, request, correlation_id):
    ctx.responses.clear()
    ctx.deliver(request, source=request.replica_id, correlation_id=correlation_id)
    return ctx.responses.pop().response if ctx.responses else None


@pytest.mark.parametrize("version,answered_at_once", [(18, True), (17, False)])
def test_fetch_v18_from_a_follower_behind_on_the_high_watermark_is_answered_at_once(version, answered_at_once):
    """Kafka 4.1+ (KafkaRaftClient.isHighWatermarkUpdated): a Fetch v18 whose HighWatermark is behind the
    leader's is not parked; an older version (no HighWatermark) is parked as Kafka 3.9 parks it."""
    ctx = leader()
    end = ctx.node.end_offset.offset
    first = _park_or_answer(ctx, fetch_request(1, 2, offset=end, last_epoch=1, max_wait=500, version=version,
                                               high_watermark=-1 if version >= 18 else rpc.HIGH_WATERMARK_NOT_SENT), 7)
    assert ctx.node.high_watermark == end
    if answered_at_once:
        assert first is not None and first.high_watermark == end and first.records == b""
        # once it knows the high watermark, the follower's fetch is parked as before
        assert _park_or_answer(ctx, fetch_request(1, 2, offset=end, last_epoch=1, max_wait=500, version=18,
                                                  high_watermark=end), 8) is None
    else:
        assert first is None


@pytest.mark.parametrize("fetch_high", [17, 18])
def test_a_followers_fetch_carries_its_high_watermark_only_from_v18(fetch_high):
    """HighWatermark is a Fetch v18 field.  Below v18 the request the core builds holds what a leader
    decodes when it is absent (Long.MAX_VALUE), so a leader handed the request in memory (the
    simulator, the core benchmark) parks it as one reading it off the wire would, not answer it at once."""
    ctx = follower(peer_versions={2: {rpc.FETCH: (13, fetch_high)}})
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, fetch_response(1, 2, records=batch(0, 1, b"a"), hw=1))
    assert ctx.node.high_watermark == 1
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    assert send.request.api_version == fetch_high
    expected = 1 if fetch_high >= 18 else rpc.HIGH_WATERMARK_NOT_SENT
    assert send.request.high_watermark == expected


def test_parked_v18_fetches_complete_when_the_high_watermark_moves():
    """Five voters: node 2 is parked at the log end with the current high watermark; node 3's fetch
    moves the high watermark; node 2's parked fetch is answered with it at once (Kafka 4.1+)."""
    ctx = leader(voters=(1, 2, 3, 4, 5), config=QuorumConfig(append_linger_ms=5))
    start = ctx.node.end_offset.offset
    for replica in (2, 3):
        ctx.deliver(fetch_request(1, replica, offset=start, last_epoch=1, version=18, high_watermark=-1))
    assert ctx.node.high_watermark == start
    ctx.client.schedule_append(1, [b"hello"])
    ctx.advance(5)
    ctx.poll()
    ctx.poll()
    end = ctx.node.end_offset.offset
    assert end == start + 1 and ctx.node.high_watermark == start
    ctx.responses.clear()
    ctx.deliver(fetch_request(1, 2, offset=end, last_epoch=1, max_wait=500, version=18, high_watermark=start),
                source=2, correlation_id=21)
    assert ctx.responses == [] and ctx.node.high_watermark == start   # parked: 2 of 5 have the record
    ctx.deliver(fetch_request(1, 3, offset=end, last_epoch=1, max_wait=500, version=18, high_watermark=start),
                source=3, correlation_id=23)
    assert ctx.node.high_watermark == end
    ctx.poll()
    answered = {r.correlation_id: r.response for r in ctx.responses}
    assert set(answered) == {21, 23}, answered
    assert answered[21].high_watermark == end and answered[23].high_watermark == end


def test_the_leader_reads_at_most_the_followers_max_bytes_but_one_batch_at_least():
    """Kafka 4.3 (KIP-1219): the leader's read is bounded by the Fetch's MaxBytes (a 4.3 follower's
    controller.quorum.fetch.max.bytes); one batch goes even when it is larger.  3.9 followers ask
    for 8 MiB, what a 3.9 leader reads anyway."""
    ctx = leader(log_epochs=(1, 1, 1), election=ElectionState(1))
    one_batch = len(ctx.log.read(0, 1).records)
    answers = {}
    for max_bytes in (1, one_batch * 2, rpc.MAX_FETCH_BYTES):
        ctx.deliver(fetch_request(2, 2, offset=0, last_epoch=0, max_bytes=max_bytes))
        answers[max_bytes] = [b.base_offset for b in decode_batches(ctx.response().records)]
    assert answers == {1: [0], one_batch * 2: [0, 1], rpc.MAX_FETCH_BYTES: [0, 1, 2, 3]}
