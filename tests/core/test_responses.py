"""Common response handling (Kafka's maybeHandleCommonResponse) and role-specific cases."""
import pytest

from raft_context import RaftContext, begin_epoch, fetch_response, vote_response
from kraft.core import rpc
from kraft.core.effects import WARNING, LogMessage
from kraft.core.errors import FatalRaftError, IllegalTransitionError
from kraft.core.node import REFERENCE_REVISION
from kraft.core.types import ElectionState
from kraft.protocol.errors import Errors


def candidate(**kw):
    ctx = RaftContext.build(local_id=1, voters=(1, 2, 3, 4, 5), **kw)
    ctx.advance(2000)
    ctx.poll()
    ctx.poll()
    return ctx, {s.destination: s for s in ctx.take_sent(rpc.VoteRequest)}


def test_vote_response_with_a_higher_epoch_and_leader_makes_a_follower():
    ctx, sends = candidate()
    ctx.answer(sends[2], vote_response(4, False, leader=3))
    assert ctx.role == "Follower" and ctx.node.epoch == 4 and ctx.node.role.leader_id == 3


def test_vote_response_with_a_higher_epoch_and_no_leader_makes_unattached():
    ctx, sends = candidate()
    ctx.answer(sends[2], vote_response(4, False))
    assert ctx.role == "Unattached" and ctx.node.epoch == 4


def test_same_epoch_response_naming_a_leader_makes_a_follower_and_is_not_counted():
    ctx, sends = candidate()
    ctx.answer(sends[2], vote_response(1, False, leader=3))
    assert ctx.role == "Follower" and ctx.node.role.leader_id == 3


@pytest.mark.parametrize("error", [Errors.UNKNOWN_LEADER_EPOCH])
def test_ignored_errors_leave_the_connection_ready(error):
    ctx, sends = candidate()
    ctx.answer(sends[2], vote_response(1, False, error=error))
    assert ctx.node.request_manager.is_ready(2, ctx.now) and ctx.role == "Candidate"


def test_older_epoch_response_is_ignored():
    ctx, sends = candidate(election=ElectionState(3))
    ctx.answer(sends[2], vote_response(2, True))
    assert ctx.role == "Candidate" and 2 not in ctx.node.role.granted


@pytest.mark.parametrize("behaviour", ["3.9", REFERENCE_REVISION])
def test_invalid_voter_key_answer_backs_off(behaviour):
    """Unlike Kafka 3.9, which counts it handled and asks again at once, both behaviours back off."""
    ctx, sends = candidate(behaviour=behaviour)
    ctx.answer(sends[2], vote_response(1, False, error=Errors.INVALID_VOTER_KEY))
    assert ctx.node.request_manager.is_backing_off(2, ctx.now)
    assert 2 not in ctx.node.role.rejected


def _logged(ctx):
    lines = [e for e in ctx.writes if isinstance(e, LogMessage)]
    ctx.writes.clear()
    return lines


def test_a_series_of_refusals_is_retried_after_the_backoff_and_logged_once():
    ctx, sends = candidate()
    backoff = ctx.node.config.retry_backoff_ms
    _logged(ctx)
    for i in range(3):
        ctx.answer(sends[2], vote_response(1, False, error=Errors.INVALID_VOTER_KEY))
        lines = _logged(ctx)
        if i == 0:
            assert len(lines) == 1 and lines[0].level == WARNING
            assert "Node 2" in lines[0].message and "Vote" in lines[0].message
            assert "INVALID_VOTER_KEY" in lines[0].message
        else:
            assert lines == [], "only the first refusal of a series is logged"
        ctx.poll()
        assert not [s for s in ctx.take_sent(rpc.VoteRequest) if s.destination == 2], "resent at once"
        ctx.advance(backoff - 1)
        ctx.poll()
        assert not [s for s in ctx.take_sent(rpc.VoteRequest) if s.destination == 2], "resent within the backoff"
        ctx.advance(1)
        ctx.poll()
        again = [s for s in ctx.take_sent(rpc.VoteRequest) if s.destination == 2]
        assert len(again) == 1, "not resent after the backoff"
        sends[2] = again[0]
    # another error starts another series; an answer without error ends it
    ctx.answer(sends[2], vote_response(1, False, error=Errors.UNKNOWN_SERVER_ERROR))
    assert len(_logged(ctx)) == 1
    ctx.advance(backoff)
    ctx.poll()
    sends[2] = [s for s in ctx.take_sent(rpc.VoteRequest) if s.destination == 2][0]
    ctx.answer(sends[2], vote_response(1, False))
    assert ctx.node.refusals == {} and _logged(ctx) == []


def test_a_lost_connection_is_not_logged_as_a_refusal():
    ctx, sends = candidate()
    _logged(ctx)
    ctx.answer(sends[2], rpc.VoteResponse(error_code=Errors.BROKER_NOT_AVAILABLE, partition_count=0))
    assert _logged(ctx) == [] and ctx.node.request_manager.is_backing_off(2, ctx.now)


@pytest.mark.parametrize("response", [
    rpc.VoteResponse(error_code=Errors.BROKER_NOT_AVAILABLE, partition_count=0),
    rpc.VoteResponse(error_code=Errors.UNKNOWN_SERVER_ERROR, partition_count=0),
    rpc.VoteResponse(topic="other", leader_epoch=1),
    rpc.VoteResponse(topic="__cluster_metadata", partition_count=2, leader_epoch=1),
    rpc.VoteResponse(topic="__cluster_metadata", partition_error=Errors.BROKER_NOT_AVAILABLE, leader_epoch=1),
    rpc.VoteResponse(topic="__cluster_metadata", partition_error=Errors.UNKNOWN_SERVER_ERROR, leader_epoch=1),
])
def test_unsuccessful_answers_back_off(response):
    ctx, sends = candidate()
    ctx.answer(sends[2], response)
    assert ctx.node.request_manager.is_backing_off(2, ctx.now) and ctx.role == "Candidate"


@pytest.mark.parametrize("response", [
    rpc.VoteResponse(error_code=Errors.CLUSTER_AUTHORIZATION_FAILED, partition_count=0),
    rpc.VoteResponse(topic="__cluster_metadata", partition_error=Errors.INVALID_REQUEST, leader_epoch=1),
    rpc.VoteResponse(topic="__cluster_metadata", leader_id=1, leader_epoch=7),  # says we lead an epoch we do not
])
def test_fatal_answers(response):
    ctx, sends = candidate()
    with pytest.raises(FatalRaftError):
        ctx.answer(sends[2], response)


def test_begin_quorum_epoch_in_the_same_epoch_turns_a_candidate_into_a_follower():
    ctx, _ = candidate()
    ctx.deliver(begin_epoch(1, 4))
    assert ctx.response().partition_error == Errors.NONE and ctx.role == "Follower"


def test_another_leader_for_the_leaders_own_epoch_is_fatal():
    ctx = RaftContext.build(local_id=1)
    ctx.become_leader()
    with pytest.raises((FatalRaftError, IllegalTransitionError)):
        ctx.deliver(begin_epoch(1, 2))


def test_fetch_response_when_no_longer_following_is_unsuccessful():
    ctx = RaftContext.build(local_id=9)  # an observer fetching from a bootstrap voter
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, fetch_response(0, -1))
    assert ctx.role == "Unattached" and ctx.node.request_manager.is_backing_off(send.destination, ctx.now)
