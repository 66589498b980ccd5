"""Kafka 4.x (KAFKA-17030, ``KafkaRaftClient.pollUnattachedCommon``): an unattached voter fetches from
the bootstrap servers (the voters when none are configured) until its election timer runs out, one
request at a time, backing off after a failure.  Only when the node runs 4.x's election."""
from raft_context import RaftContext, fetch_response
from kraft.core import rpc
from kraft.core.types import ElectionState
from kraft.protocol.errors import Errors

#: peers 2 and 3 speak Vote v2: Kafka 4.x's election
V2 = {2: {rpc.VOTE: (0, 2)}, 3: {rpc.VOTE: (0, 2)}}


def unattached(**kw) -> RaftContext:
    ctx = RaftContext.build(local_id=1, election=ElectionState(3), **kw)
    assert ctx.role == "Unattached"
    return ctx


def test_an_unattached_voter_with_3_9_peers_waits_without_fetching():
    ctx = unattached()
    ctx.poll()
    assert ctx.take_sent() == []


def test_an_unattached_voter_with_4x_peers_fetches_from_another_voter_and_finds_the_leader():
    ctx = unattached(peer_versions=V2)
    ctx.poll()
    (send,) = ctx.take_sent()
    assert isinstance(send.request, rpc.FetchRequest) and send.destination in (2, 3)  # never itself
    assert send.request.current_leader_epoch == 3 and send.request.replica_id == 1
    ctx.poll()
    assert ctx.take_sent() == []  # one request in flight at a time
    ctx.answer(send, fetch_response(3, 2, error=Errors.NOT_LEADER_OR_FOLLOWER))
    assert ctx.role == "Follower" and ctx.node.leader_id() == 2 and ctx.node.epoch == 3


def test_every_seed_picks_another_voter_and_a_failure_backs_off_for_retry_backoff():
    for seed in range(20):
        ctx = unattached(peer_versions=V2, seed=seed)
        ctx.poll()
        (send,) = ctx.take_sent()
        assert send.destination != 1
    ctx.answer(send, rpc.error_response(rpc.FETCH, Errors.BROKER_NOT_AVAILABLE, send.request.api_version))
    assert ctx.role == "Unattached"
    assert ctx.node.request_manager.is_backing_off(send.destination, ctx.now)
    ctx.poll()
    (other,) = ctx.take_sent()  # the other voter is ready at once
    assert other.destination not in (1, send.destination)


def test_the_election_timer_still_ends_the_search():
    ctx = unattached(peer_versions=V2)
    ctx.poll()
    ctx.take_sent()
    ctx.advance(2 * ctx.node.config.election_timeout_ms)
    ctx.poll()
    assert ctx.role == "Prospective"
