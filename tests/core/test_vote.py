"""Vote handling at v0 and v1, in each role, with Kafka's validation order."""
import pytest

from raft_context import RaftContext, dir_of, vote_request
from kraft.core.effects import PersistElection, Respond
from kraft.core.node import REFERENCE_REVISION
from kraft.core.types import ElectionState, NodeEndpoint, ReplicaKey
from kraft.protocol.errors import Errors

VERSIONS = [0, 1]


@pytest.mark.parametrize("version", VERSIONS)
def test_grants_vote_to_up_to_date_candidate_and_persists_the_candidate_key_first(version):
    ctx = RaftContext.build(local_id=1)
    candidate_dir = dir_of(2) if version >= 1 else None
    out = ctx.deliver(vote_request(1, 2, candidate_dir=candidate_dir, version=version))
    response = ctx.response()
    assert response.vote_granted and response.partition_error == Errors.NONE
    assert response.api_version == version and response.leader_id == -1 and response.leader_epoch == 1
    # durable before the answer: Unattached(1), then voted for (2, dir), then the response
    kinds = [type(e) for e in out.effects]
    assert kinds == [PersistElection, PersistElection, Respond]
    assert ctx.election == ElectionState(1, None, ReplicaKey.of(2, candidate_dir))
    assert ctx.role == "Unattached" and ctx.node.role.voted_key == ReplicaKey.of(2, candidate_dir)


@pytest.mark.parametrize("version", VERSIONS)
def test_rejects_candidate_with_older_log(version):
    ctx = RaftContext.build(local_id=1, log_epochs=(1, 1, 2), election=ElectionState(2))
    ctx.deliver(vote_request(3, 2, last_epoch=1, last_offset=10, version=version))
    assert not ctx.response().vote_granted
    assert ctx.node.epoch == 3 and ctx.node.role.voted_key is None
    ctx.deliver(vote_request(3, 3, last_epoch=2, last_offset=2, version=version))
    assert not ctx.response().vote_granted  # same last epoch, shorter log
    ctx.deliver(vote_request(3, 3, last_epoch=2, last_offset=3, version=version))
    assert ctx.response().vote_granted


def test_one_vote_per_epoch_but_the_same_candidate_may_ask_again():
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(vote_request(1, 2))
    assert ctx.response().vote_granted
    ctx.deliver(vote_request(1, 3, last_epoch=0, last_offset=5))
    assert not ctx.response().vote_granted
    ctx.deliver(vote_request(1, 2))
    assert ctx.response().vote_granted
    assert ctx.election.voted_key == ReplicaKey(2)


def test_vote_for_a_directory_is_not_a_vote_for_another_directory_of_the_same_id():
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(vote_request(1, 2, candidate_dir=dir_of(2)))
    assert ctx.response().vote_granted
    ctx.deliver(vote_request(1, 2, candidate_dir=dir_of(9)))
    assert not ctx.response().vote_granted


@pytest.mark.parametrize("role", ["Candidate", "Leader", "Follower"])
def test_no_vote_in_the_same_epoch_outside_unattached(role):
    ctx = RaftContext.build(local_id=1)
    if role == "Candidate":
        ctx.advance(2000)
        ctx.poll()
    elif role == "Leader":
        ctx.become_leader()
    else:
        from raft_context import begin_epoch
        ctx.deliver(begin_epoch(1, 3))
        ctx.responses.clear()
    assert ctx.role == role
    ctx.deliver(vote_request(ctx.node.epoch, 2, last_epoch=0, last_offset=100))
    response = ctx.response()
    assert response.partition_error == Errors.NONE and not response.vote_granted


def test_cluster_id_mismatch_is_a_top_level_error_and_changes_nothing():
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(vote_request(5, 2, cluster="other"))
    response = ctx.response()
    assert response.error_code == Errors.INCONSISTENT_CLUSTER_ID and response.partition_count == 0
    assert ctx.node.epoch == 0


def test_null_cluster_id_is_accepted():
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(vote_request(1, 2, cluster=None))
    assert ctx.response().vote_granted


@pytest.mark.parametrize("shape", [{"topic": "other"}, {"partition": 1}, {"partition_count": 2}])
def test_wrong_topic_partition_is_a_top_level_invalid_request(shape):
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(vote_request(1, 2, **shape))
    response = ctx.response()
    assert response.error_code == Errors.INVALID_REQUEST and response.partition_count == 0


@pytest.mark.parametrize("last_epoch,last_offset", [(-1, 0), (0, -1), (3, 0), (4, 0)])
def test_invalid_last_offset_or_epoch(last_epoch, last_offset):
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(vote_request(3, 2, last_epoch=last_epoch, last_offset=last_offset))
    response = ctx.response()
    assert response.partition_error == Errors.INVALID_REQUEST and not response.vote_granted
    assert ctx.node.epoch == 0  # checked before any epoch change


def test_fenced_epoch_then_negative_candidate_id():
    ctx = RaftContext.build(local_id=1, election=ElectionState(5))
    ctx.deliver(vote_request(4, -1))  # both wrong: the epoch is checked first
    assert ctx.response().partition_error == Errors.FENCED_LEADER_EPOCH
    ctx.deliver(vote_request(6, -1))
    assert ctx.response().partition_error == Errors.INVALID_REQUEST
    assert ctx.node.epoch == 5


def test_voter_key_mismatch_still_bumps_the_epoch():
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(vote_request(2, 3, voter_id=2))
    response = ctx.response()
    assert response.partition_error == Errors.INVALID_VOTER_KEY and not response.vote_granted
    assert ctx.node.epoch == 2 and ctx.election.epoch == 2 and ctx.election.voted_key is None


@pytest.mark.parametrize("behaviour,zero_dir_ok", [("3.9", True), (REFERENCE_REVISION, False)])
def test_voter_key_without_directory(behaviour, zero_dir_ok):
    ctx = RaftContext.build(local_id=1, behaviour=behaviour)
    ctx.deliver(vote_request(1, 2, voter_id=1))
    response = ctx.response()
    assert response.vote_granted is zero_dir_ok
    assert response.partition_error == (Errors.NONE if zero_dir_ok else Errors.INVALID_VOTER_KEY)
    ctx2 = RaftContext.build(local_id=1, behaviour=behaviour)
    ctx2.deliver(vote_request(1, 2, voter_id=1, voter_dir=dir_of(1)))
    assert ctx2.response().vote_granted
    ctx3 = RaftContext.build(local_id=1, behaviour=behaviour)
    ctx3.deliver(vote_request(1, 2, voter_id=1, voter_dir=dir_of(7)))
    assert ctx3.response().partition_error == Errors.INVALID_VOTER_KEY


@pytest.mark.parametrize("version,listener,expected", [
    (1, "CONTROLLER", (NodeEndpoint(3, "host3", 9003),)),
    (0, "CONTROLLER", ()),
    (1, "OTHER", ()),
])
def test_response_carries_the_leader_endpoint_for_the_request_listener(version, listener, expected):
    from raft_context import begin_epoch
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(begin_epoch(2, 3))
    ctx.responses.clear()
    ctx.deliver(vote_request(2, 2, version=version), listener=listener)
    response = ctx.response()
    assert response.leader_id == 3 and response.leader_epoch == 2
    assert response.node_endpoints == expected


