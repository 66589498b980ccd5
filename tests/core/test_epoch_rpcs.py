"""BeginQuorumEpoch and EndQuorumEpoch, receive side and send side, at v0 and v1."""
import pytest

from raft_context import RaftContext, begin_epoch, dir_of, end_epoch, endpoints_of
from kraft.core import rpc
from kraft.core.config import QuorumConfig
from kraft.core.effects import PersistElection, Respond
from kraft.core.errors import FatalRaftError
from kraft.core.node import REFERENCE_REVISION
from kraft.protocol.uuid import Uuid
from kraft.core.types import ElectionState, Endpoint, Endpoints, NodeEndpoint, ReplicaKey
from kraft.protocol.errors import Errors


@pytest.mark.parametrize("version", [0, 1])
def test_begin_quorum_epoch_makes_a_follower_durably_before_answering(version):
    ctx = RaftContext.build(local_id=1)
    out = ctx.deliver(begin_epoch(3, 2, version=version))
    assert [type(e) for e in out.effects][:2] == [PersistElection, Respond]
    response = ctx.response()
    assert response.partition_error == Errors.NONE and response.leader_id == 2 and response.leader_epoch == 3
    assert response.node_endpoints == ((NodeEndpoint(2, "host2", 9002),) if version else ())
    assert ctx.role == "Follower" and ctx.election == ElectionState(3, 2, None)


def test_begin_quorum_epoch_prefers_the_request_endpoints():
    ctx = RaftContext.build(local_id=1)
    given = Endpoints([Endpoint("CONTROLLER", "elsewhere", 1234), Endpoint("OTHER", "x", 1)])
    ctx.deliver(begin_epoch(1, 2, endpoints=given))
    assert ctx.node.role.endpoints == given
    ctx.poll()
    (fetch,) = ctx.take_sent(rpc.FetchRequest)
    assert fetch.endpoint == Endpoint("CONTROLLER", "elsewhere", 1234)


@pytest.mark.parametrize("make,error", [
    (lambda: begin_epoch(1, 2, cluster="x"), Errors.INCONSISTENT_CLUSTER_ID),
    (lambda: begin_epoch(1, 2, topic="x"), Errors.INVALID_REQUEST),
    (lambda: begin_epoch(1, 2, partition_count=0), Errors.INVALID_REQUEST),
])
def test_begin_quorum_epoch_top_level_errors(make, error):
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(make())
    response = ctx.response()
    assert response.error_code == error and response.partition_count == 0 and ctx.node.epoch == 0


def test_begin_quorum_epoch_fenced_then_invalid_leader_id():
    ctx = RaftContext.build(local_id=1, election=ElectionState(4))
    ctx.deliver(begin_epoch(3, -1))
    assert ctx.response().partition_error == Errors.FENCED_LEADER_EPOCH
    ctx.deliver(begin_epoch(4, -1))
    assert ctx.response().partition_error == Errors.INVALID_REQUEST
    assert ctx.role == "Unattached"


@pytest.mark.parametrize("behaviour", ["3.9", REFERENCE_REVISION])
def test_begin_quorum_epoch_from_a_reference_leader_with_voter_id_0(behaviour):
    """A reference-revision leader sends VoterId 0: the receiver follows, then answers INVALID_VOTER_KEY."""
    ctx = RaftContext.build(local_id=1, behaviour=behaviour)
    ctx.deliver(begin_epoch(2, 2, voter_id=0))
    assert ctx.response().partition_error == Errors.INVALID_VOTER_KEY
    assert ctx.role == "Follower" and ctx.node.epoch == 2


def test_begin_quorum_epoch_voter_key_with_matching_directory():
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(begin_epoch(2, 2, voter_id=1, voter_dir=dir_of(1)))
    assert ctx.response().partition_error == Errors.NONE
    ctx2 = RaftContext.build(local_id=1)
    ctx2.deliver(begin_epoch(2, 2, voter_id=1, voter_dir=dir_of(5)))
    assert ctx2.response().partition_error == Errors.INVALID_VOTER_KEY


def test_begin_quorum_epoch_naming_another_leader_for_the_same_epoch_is_fatal():
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(begin_epoch(2, 2))
    with pytest.raises(FatalRaftError):
        ctx.deliver(begin_epoch(2, 3))


def test_begin_quorum_epoch_with_more_endpoints_refreshes_the_follower():
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(begin_epoch(2, 2))
    more = Endpoints([*endpoints_of(2), Endpoint("OTHER", "h", 1)])
    ctx.deliver(begin_epoch(2, 2, endpoints=more))
    assert ctx.node.role.endpoints == more


def _follower(successor_setup=None, **kw):
    ctx = RaftContext.build(local_id=1, voters=(1, 2, 3, 4), config=QuorumConfig(election_backoff_max_ms=1000), **kw)
    ctx.deliver(begin_epoch(5, 2))
    ctx.responses.clear()
    return ctx


@pytest.mark.parametrize("version,request_kw,expected_ms", [
    (0, {"successors": [1, 3, 4]}, 0),
    (0, {"successors": [3, 1, 4]}, 250),
    (0, {"successors": [3, 4, 1]}, 500),
    (0, {"successors": [3, 4]}, 1000),
    (0, {}, 0),  # an empty list (a reference leader at v1) means "go now"
    (1, {"candidates": [ReplicaKey(3), ReplicaKey(1, dir_of(1)), ReplicaKey(4)]}, 250),
    (1, {"candidates": [ReplicaKey(1, dir_of(9)), ReplicaKey(3), ReplicaKey(4)]}, 1000),
    (1, {"successors": [3, 1], "candidates": []}, 500),  # no candidates: the successor ids count
])
def test_end_quorum_epoch_sets_the_fetch_timeout_from_the_successor_position(version, request_kw, expected_ms):
    ctx = _follower()
    ctx.advance(10)
    ctx.deliver(end_epoch(5, 2, version=version, **request_kw))
    assert ctx.response().partition_error == Errors.NONE
    assert ctx.node.role.fetch_deadline_ms == ctx.now + expected_ms
    ctx.advance(expected_ms)
    ctx.poll()
    assert ctx.role == "Candidate" and ctx.node.epoch == 6


def test_end_quorum_epoch_from_a_newer_leader_makes_a_follower_of_it():
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(end_epoch(4, 3, successors=[1]))
    assert ctx.response().partition_error == Errors.NONE
    assert ctx.role == "Follower" and ctx.node.role.leader_id == 3
    assert ctx.node.role.fetch_deadline_ms == ctx.now  # first in the list


@pytest.mark.parametrize("make,error", [
    (lambda: end_epoch(5, 2, cluster="x"), Errors.INCONSISTENT_CLUSTER_ID),
    (lambda: end_epoch(5, 2, topic="x"), Errors.INVALID_REQUEST),
])
def test_end_quorum_epoch_top_level_errors(make, error):
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(make())
    assert ctx.response().error_code == error


def test_end_quorum_epoch_fenced_and_invalid_leader():
    ctx = _follower()
    ctx.deliver(end_epoch(4, 2))
    assert ctx.response().partition_error == Errors.FENCED_LEADER_EPOCH
    ctx.deliver(end_epoch(5, -1))
    assert ctx.response().partition_error == Errors.INVALID_REQUEST


def test_leader_sends_begin_quorum_epoch_periodically_with_the_receiver_key():
    cfg = QuorumConfig(fetch_timeout_ms=2000)
    ctx = RaftContext.build(local_id=1, voter_dirs=True, config=cfg, peer_versions={2: {53: (0, 1)}, 3: {53: (0, 0)}})
    ctx.become_leader()
    sends = ctx.take_sent(rpc.BeginQuorumEpochRequest)
    by_dest = {s.destination: s.request for s in sends}
    assert set(by_dest) == {2, 3}
    assert by_dest[2].voter_id == 2 and by_dest[2].voter_directory_id == dir_of(2)
    assert by_dest[2].leader_endpoints == endpoints_of(1) and by_dest[2].api_version == 1
    assert by_dest[3].api_version == 0
    for s in sends:
        ctx.answer(s, rpc.BeginQuorumEpochResponse(topic="__cluster_metadata", leader_id=1,
                                                   leader_epoch=ctx.node.epoch))
    ctx.advance(999)
    ctx.poll()
    assert ctx.take_sent(rpc.BeginQuorumEpochRequest) == []
    ctx.advance(1)
    ctx.poll()
    assert {s.destination for s in ctx.take_sent(rpc.BeginQuorumEpochRequest)} == {2, 3}



def test_begin_quorum_epoch_names_a_voter_of_unknown_directory_by_no_key():
    ctx = RaftContext.build(local_id=1, peer_versions={2: {53: (0, 1)}, 3: {53: (0, 1)}})
    ctx.become_leader()
    sends = ctx.take_sent(rpc.BeginQuorumEpochRequest)
    assert {s.destination for s in sends} == {2, 3}
    assert all(s.request.voter_id == -1 and s.request.voter_directory_id == Uuid.ZERO for s in sends)

def test_reference_leader_sends_begin_quorum_epoch_until_acknowledged():
    ctx = RaftContext.build(local_id=1, behaviour=REFERENCE_REVISION)
    ctx.become_leader()
    sends = ctx.take_sent(rpc.BeginQuorumEpochRequest)
    assert {s.destination for s in sends} == {2, 3}
    assert all(s.request.voter_id == 0 and not s.request.leader_endpoints for s in sends)
    ok = rpc.BeginQuorumEpochResponse(topic="__cluster_metadata", leader_id=1, leader_epoch=ctx.node.epoch)
    bad = rpc.BeginQuorumEpochResponse(topic="__cluster_metadata", partition_error=Errors.INVALID_VOTER_KEY,
                                       leader_id=1, leader_epoch=ctx.node.epoch)
    ctx.answer(sends[0], ok)
    ctx.answer(sends[1], bad)  # unexpected error for a reference node: back off, then retry
    ctx.advance(ctx.node.config.retry_backoff_ms)
    ctx.poll()
    assert [s.destination for s in ctx.take_sent(rpc.BeginQuorumEpochRequest)] == [sends[1].destination]
