"""UpdateRaftVoter at kraft.version 0, Kafka 4.1+ (``KafkaRaftClient.shouldSendUpdateVoteRequest``,
``pollFollowerAsVoter``, ``UpdateVoterHandler``; 4.3.1 sources).

A voter following a 4.x leader sends it once per leader, until the leader answers NONE or
UNSUPPORTED_VERSION; its update timer starts again only when the request went out.  Following a
3.9 leader, or with only 3.9 peers, it sends none (3.9 only sends at kraft.version 1).  A kraft
leader with 4.x peers answers as 4.x's does (NONE, matched by id; INVALID_REQUEST when the range
leaves out 0; VOTER_NOT_FOUND), with only 3.9 peers as 3.9's (UNSUPPORTED_VERSION)."""
import pytest

from raft_context import RaftContext, begin_epoch, fetch_request, fetch_response, vote_response
from test_update_voter import answer, update
from kraft.core import rpc
from kraft.protocol.errors import Errors

V2 = {rpc.VOTE: (0, 2)}
V1 = {rpc.VOTE: (0, 1)}


def following(epoch, leader=2, **kw):
    ctx = RaftContext.build(local_id=1, **kw)
    ctx.deliver(begin_epoch(epoch, leader))
    ctx.responses.clear()
    ctx.poll()
    return ctx


def _fetch_answered(ctx):
    for send in ctx.take_sent(rpc.FetchRequest):
        ctx.answer(send, fetch_response(send.request.current_leader_epoch, send.destination))


def _sent_after_timer(ctx):
    """Run the update timer out, answer the Fetch in flight (its leader is then ready), poll."""
    ctx.poll()
    ctx.advance(ctx.node.config.fetch_timeout_ms - 1)
    _fetch_answered(ctx)
    ctx.advance(1)
    ctx.poll()
    return ctx.take_sent()


def _updates_after_timer(ctx):
    return [s for s in _sent_after_timer(ctx) if isinstance(s.request, rpc.UpdateRaftVoterRequest)]


def test_3_9_peers_at_kraft_version_0_send_none():
    ctx = following(1)
    assert _updates_after_timer(ctx) == []


def test_a_3_9_leader_gets_none_in_a_mixed_quorum():
    ctx = following(1, leader=2, peer_versions={2: V1, 3: V2})
    assert _updates_after_timer(ctx) == []
    assert _updates_after_timer(ctx) == []


@pytest.mark.parametrize("error", [Errors.NONE, Errors.UNSUPPORTED_VERSION])
def test_4x_peers_send_one_to_each_new_leader_at_kraft_version_0(error):
    ctx = following(1, peer_versions={2: V2, 3: V2})
    (send,) = _sent_after_timer(ctx)
    assert isinstance(send.request, rpc.UpdateRaftVoterRequest) and send.destination == 2
    assert send.request.voter_id == 1 and send.request.current_leader_epoch == 1
    assert (send.request.min_kraft_version, send.request.max_kraft_version) == (0, 1)
    ctx.answer(send, rpc.UpdateRaftVoterResponse(error_code=error, leader_id=2, leader_epoch=1,
                                                 api_version=send.request.api_version))
    assert ctx.role == "Follower" and ctx.node.role.has_updated_leader
    for _ in range(2):  # no more to this leader
        ctx.node.role.fetch_deadline_ms = ctx.now + 10**6
        assert _updates_after_timer(ctx) == []
    ctx.deliver(begin_epoch(2, 3))  # a new leader gets one again
    ctx.node.role.fetch_deadline_ms = ctx.now + 10**6
    (update_,) = _updates_after_timer(ctx)
    assert update_.destination == 3


def test_4x_a_refused_update_goes_again_one_timer_later():
    ctx = following(1, peer_versions={2: V2, 3: V2})
    (send,) = _sent_after_timer(ctx)
    ctx.answer(send, rpc.UpdateRaftVoterResponse(error_code=Errors.REQUEST_TIMED_OUT, leader_id=2, leader_epoch=1,
                                                 api_version=send.request.api_version))
    assert not ctx.node.role.has_updated_leader
    ctx.node.role.fetch_deadline_ms = ctx.now + 10**6
    assert len(_updates_after_timer(ctx)) == 1


def test_4x_the_timer_waits_for_the_update_to_go_out():
    """Kafka 4.x resets the timer only when the request was sent: a leader busy with a Fetch when the
    timer runs out gets the update as soon as the Fetch is answered, not one timer later."""
    ctx = following(1, peer_versions={2: V2, 3: V2})
    ctx.poll()
    ctx.advance(ctx.node.config.fetch_timeout_ms - 1)
    _fetch_answered(ctx)
    ctx.poll()
    assert len(ctx.sent) == 1  # the next Fetch
    ctx.advance(1)
    ctx.poll()
    assert not ctx.take_sent(rpc.UpdateRaftVoterRequest)  # the timer ran out with a Fetch in flight
    _fetch_answered(ctx)
    ctx.poll()
    assert len(ctx.take_sent(rpc.UpdateRaftVoterRequest)) == 1


def _committed_4x_leader(peers):
    ctx = RaftContext.build(local_id=1, peer_versions=peers)
    ctx.advance(2 * ctx.node.config.election_timeout_ms)
    for _ in range(4):  # pre-votes (4.x), then votes
        ctx.poll()
        for send in ctx.take_sent(rpc.VoteRequest):
            ctx.answer(send, vote_response(send.request.candidate_epoch, granted=True, version=send.request.api_version))
        if ctx.role == "Leader":
            break
    assert ctx.role == "Leader"
    ctx.poll()
    epoch = ctx.node.epoch
    ctx.deliver(fetch_request(epoch, 2, offset=1, last_epoch=epoch))
    ctx.responses.clear()
    assert ctx.node.high_watermark == 1
    return ctx, epoch


@pytest.mark.parametrize("request_kw, error", [
    ({}, Errors.NONE),
    ({"low": 1, "high": 1}, Errors.INVALID_REQUEST),  # kraft.version 0 outside the voter's range
    ({"voter": 7}, Errors.VOTER_NOT_FOUND),
], ids=["none", "range", "not-a-voter"])
def test_a_leader_with_4x_peers_answers_as_4x(request_kw, error):
    ctx, epoch = _committed_4x_leader({2: V2, 3: V1})
    batches = len(ctx.leader_batches())
    r = answer(ctx, update(epoch, **request_kw))
    assert r.error_code == error and (r.leader_id, r.leader_epoch) == (1, epoch)
    assert len(ctx.leader_batches()) == batches  # at kraft.version 0 nothing is written


def test_a_4x_update_counts_for_check_quorum():
    ctx, epoch = _committed_4x_leader({2: V2, 3: V2})
    leader = ctx.node.role
    before = leader.check_quorum_deadline_ms
    ctx.advance(100)
    assert answer(ctx, update(epoch, voter=3)).error_code == Errors.NONE
    assert leader.check_quorum_deadline_ms == before + 100


def test_a_leader_with_3_9_peers_answers_unsupported_version():
    ctx, epoch = _committed_4x_leader({2: V1, 3: V1})
    assert answer(ctx, update(epoch)).error_code == Errors.UNSUPPORTED_VERSION
