"""Short stories after Kafka's KafkaRaftClientTest: resignation, shutdown, stale answers, listeners by role."""
from raft_context import RaftContext, begin_epoch, fetch_request, fetch_response, vote_request, vote_response
from kraft.core import rpc
from kraft.core.config import QuorumConfig
from kraft.core.memory import LeaderBatch, encode_batch
from kraft.core.types import ElectionState, LeaderAndEpoch


def test_resigned_leader_rejects_same_epoch_votes_but_grants_higher_epochs():
    ctx = RaftContext.build(local_id=1)
    ctx.become_leader()
    ctx.node.resign(1)
    ctx.poll()
    ctx.deliver(vote_request(1, 2, last_epoch=0, last_offset=50))
    assert not ctx.response().vote_granted
    ctx.deliver(vote_request(2, 2, last_epoch=1, last_offset=50))
    assert ctx.response().vote_granted and ctx.node.role.voted_key.id == 2


def test_votes_are_granted_while_shutting_down():
    ctx = RaftContext.build(local_id=1)
    ctx.client.shutdown(10_000)
    ctx.deliver(vote_request(1, 2))
    assert ctx.response().vote_granted


def test_resigned_leader_keeps_ending_its_epoch_until_acknowledged_then_campaigns():
    ctx = RaftContext.build(local_id=1, config=QuorumConfig(request_timeout_ms=100))
    ctx.become_leader()
    ctx.node.resign(1)
    ctx.poll()
    ctx.poll()
    first = ctx.take_sent(rpc.EndQuorumEpochRequest)
    assert len(first) == 2
    ctx.advance(100)  # no answers: re-sent after the request timeout
    ctx.poll()
    assert len(ctx.take_sent(rpc.EndQuorumEpochRequest)) == 2
    ctx.advance(ctx.node.role.election_deadline_ms - ctx.now)
    ctx.poll()
    assert ctx.role == "Candidate" and ctx.node.epoch == 2


def test_resigned_leader_follows_the_next_leader():
    ctx = RaftContext.build(local_id=1)
    ctx.become_leader()
    ctx.node.resign(1)
    ctx.poll()
    ctx.deliver(begin_epoch(2, 3))
    assert ctx.role == "Follower" and ctx.node.role.leader_id == 3


def test_pending_appends_are_dropped_when_leadership_is_lost():
    ctx = RaftContext.build(local_id=1)
    ctx.become_leader()
    ctx.client.schedule_append(1, [b"lost"])
    ctx.deliver(begin_epoch(2, 2))
    assert ctx.node.accumulator is None
    ctx.advance(100)
    ctx.poll()
    assert [b.records for b in ctx.leader_batches() if not b.is_control] == []


def test_fetch_response_after_becoming_candidate_is_ignored():
    ctx = RaftContext.build(local_id=1, config=QuorumConfig(fetch_timeout_ms=1000))
    ctx.deliver(begin_epoch(1, 2))
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.advance(1000)
    ctx.poll()
    assert ctx.role == "Candidate"
    out = ctx.answer(send, fetch_response(1, 2, records=encode_batch(LeaderBatch(0, 1, 0, (b"x",))), hw=1))
    assert out.effects == [] and ctx.log.end_offset == 0


def test_vote_response_after_becoming_follower_is_ignored():
    ctx = RaftContext.build(local_id=1)
    ctx.advance(2000)
    ctx.poll()
    ctx.poll()
    sends = ctx.take_sent(rpc.VoteRequest)
    ctx.deliver(begin_epoch(1, 3))
    out = ctx.answer(sends[0], vote_response(1, True))
    assert ctx.role == "Follower" and out.effects == []


def test_fetch_is_the_leaders_acknowledgement_of_begin_quorum_epoch():
    ctx = RaftContext.build(local_id=1, behaviour="reference")
    ctx.become_leader()
    ctx.take_sent(rpc.BeginQuorumEpochRequest)
    ctx.deliver(fetch_request(1, 2, offset=1, last_epoch=1))
    ctx.responses.clear()
    ctx.advance(5000)
    ctx.node.request_manager.reset_all()
    ctx.deliver(fetch_request(1, 3, offset=1, last_epoch=1))
    ctx.poll()
    assert ctx.take_sent(rpc.BeginQuorumEpochRequest) == []


def test_a_listener_registered_while_candidate_still_gets_the_committed_data():
    ctx = RaftContext.build(local_id=1, config=QuorumConfig(fetch_timeout_ms=1000))
    ctx.deliver(begin_epoch(1, 2))
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, fetch_response(1, 2, records=encode_batch(LeaderBatch(0, 1, 0, (b"x",))), hw=1))
    ctx.advance(1000)
    ctx.poll()
    assert ctx.role == "Candidate"
    seen = []

    class Listener:
        def handle_commit(self, batches):
            seen.extend(("commit", b.base_offset) for b in batches)

        def handle_leader_change(self, leader):
            seen.append(("leader", leader))

        def begin_shutdown(self):
            pass

    ctx.client.register(Listener())
    ctx.poll()
    assert seen == [("commit", 0), ("leader", LeaderAndEpoch(None, 2))]


def test_restart_as_candidate_then_win():
    ctx = RaftContext.build(local_id=1, election=ElectionState(4))
    ctx2 = RaftContext.build(local_id=1, voters=(1,), election=ElectionState(4))
    assert ctx.role == "Unattached" and ctx2.role == "Leader" and ctx2.node.epoch == 5
