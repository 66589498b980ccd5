"""DescribeQuorum in the core: the leader's view of voters and observers at every version."""
import pytest

from raft_context import RaftContext, begin_epoch, dir_of, endpoints_of, fetch_request
from kraft.core import rpc
from kraft.core.node import OBSERVER_SESSION_TIMEOUT_MS
from kraft.protocol.uuid import Uuid
from kraft.protocol.errors import Errors


def describe(version=2, topic="__cluster_metadata", partition=0):
    return rpc.DescribeQuorumRequest(topic=topic, partition=partition, api_version=version)


def leader(**kw):
    ctx = RaftContext.build(local_id=1, **kw)
    ctx.become_leader()
    ctx.sent.clear()
    return ctx


@pytest.mark.parametrize("version", [0, 1, 2])
def test_leader_reports_epoch_high_watermark_voters_and_observers(version):
    ctx = leader(voter_dirs=True)
    start = ctx.now
    ctx.deliver(fetch_request(1, 2, offset=1, last_epoch=1, replica_dir=dir_of(2)))
    ctx.response()
    ctx.advance(100)
    ctx.deliver(fetch_request(1, 7, offset=0, last_epoch=0, replica_dir=dir_of(7)))
    ctx.response()
    ctx.advance(50)
    ctx.deliver(describe(version), source=9)
    r = ctx.response()
    assert (r.error_code, r.partition_error, r.api_version) == (0, 0, version)
    assert (r.leader_id, r.leader_epoch, r.high_watermark) == (1, 1, 1)
    assert (r.error_message, r.partition_error_message) == ("", "")  # Kafka's defaults, not null
    voters = {s.replica_id: s for s in r.current_voters}
    assert [s.replica_id for s in r.current_voters] == [1, 2, 3]
    assert voters[1].log_end_offset == 1 and voters[1].last_fetch_timestamp == ctx.now  # the leader: now
    assert voters[2].log_end_offset == 1 and voters[2].last_fetch_timestamp == start
    assert voters[2].last_caught_up_timestamp == start
    assert voters[3].log_end_offset == -1 and voters[3].last_fetch_timestamp == -1
    (observer,) = r.observers
    assert (observer.replica_id, observer.log_end_offset, observer.last_fetch_timestamp) == (7, 0, start + 100)
    assert observer.last_caught_up_timestamp == -1
    assert voters[2].replica_directory_id == (dir_of(2) if version >= 2 else Uuid.ZERO)
    if version >= 2:
        assert dict(r.nodes) == {1: endpoints_of(1), 2: endpoints_of(2), 3: endpoints_of(3)}
    else:
        assert r.nodes == ()


@pytest.mark.parametrize("version", [0, 1, 2])
def test_non_leader_answers_not_leader_or_follower(version):
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(begin_epoch(3, leader=2))
    ctx.responses.clear()
    ctx.deliver(describe(version))
    r = ctx.response()
    assert r.error_code == 0 and r.partition_error == Errors.NOT_LEADER_OR_FOLLOWER
    assert r.partition_error_message.startswith("For requests intended only for the leader")
    # Kafka leaves everything else at the schema's defaults: 0, and "" for the top-level message.
    assert (r.leader_id, r.leader_epoch, r.high_watermark, r.error_message) == (0, 0, 0, "")
    assert r.current_voters == () and r.observers == () and r.nodes == ()


def test_unknown_partition_is_a_partition_error():
    ctx = leader()
    ctx.deliver(describe(topic="other", partition=3))
    r = ctx.response()
    assert (r.topic, r.partition, r.partition_error) == ("other", 3, Errors.UNKNOWN_TOPIC_OR_PARTITION)
    assert (r.leader_id, r.leader_epoch, r.high_watermark, r.error_message) == (0, 0, 0, "")


def test_a_request_naming_several_partitions_is_answered_for_each_of_them():
    ctx = leader()
    asked = (("__cluster_metadata", (0, 1)), ("other", (3,)))
    ctx.deliver(rpc.DescribeQuorumRequest(topic="__cluster_metadata", partition=0, partition_count=3,
                                          requested=asked))
    r = ctx.response()
    assert r.partition_error == Errors.UNKNOWN_TOPIC_OR_PARTITION and r.echo == asked
    assert r.current_voters == ()


def test_observers_silent_for_five_minutes_are_dropped():
    ctx = leader()
    ctx.deliver(fetch_request(1, 7, offset=0, last_epoch=0))
    ctx.response()
    ctx.advance(OBSERVER_SESSION_TIMEOUT_MS - 1)
    ctx.deliver(describe())
    assert [s.replica_id for s in ctx.response().observers] == [7]
    ctx.advance(1)
    ctx.deliver(describe())
    assert ctx.response().observers == ()
