"""Initialization, elections, backoff, check-quorum, resignation, shutdown and the transition table."""
import random

import pytest

from raft_context import RaftContext, begin_epoch, dir_of, fetch_request, vote_response
from kraft.core import quorum as q
from kraft.core import rpc
from kraft.core.config import QuorumConfig
from kraft.core.errors import IllegalTransitionError
from kraft.core.roles import TRANSITIONS, check_transition
from kraft.protocol.uuid import Uuid
from kraft.core.types import ElectionState, ReplicaKey
from kraft.protocol.errors import Errors


# ------------------------------------------------------------ initialization
@pytest.mark.parametrize("stored,log_epochs,role,epoch", [
    (None, (), "Unattached", 0),
    (ElectionState(3, 1), (), "Resigned", 3),  # a restarted leader comes back resigned
    (ElectionState(3, None, ReplicaKey(1, dir_of(1))), (), "Candidate", 3),
    (ElectionState(3, None, ReplicaKey(1)), (), "Candidate", 3),  # stored without directory: still ours
    (ElectionState(3, None, ReplicaKey(1, dir_of(8))), (), "Unattached", 3),  # another directory of our id
    (ElectionState(3, None, ReplicaKey(2)), (), "Unattached", 3),
    (ElectionState(3, 2), (), "Follower", 3),
    (ElectionState(3, 9), (), "Unattached", 3),  # a leader whose endpoints are unknown
    (ElectionState(1, 2), (1, 4), "Unattached", 4),  # the log is ahead of the stored epoch
    # our own vote in an epoch whose batches the log already holds (the file keeps the vote, not the
    # leader we followed after losing): standing again would send a Vote whose log ends in its own
    # epoch, which voters refuse as INVALID_REQUEST (found by the simulation soak, seed 441)
    (ElectionState(3, None, ReplicaKey(1, dir_of(1))), (1, 3), "Unattached", 3),
    # a vote beside a leader: only 4.x writes both, and 4.x follows with the vote kept
    # (QuorumState.initialize :204-243; 3.9.2 would start voted without the leader)
    (ElectionState(3, 2, ReplicaKey(3, dir_of(3))), (), "Follower", 3),
    (ElectionState(3, 9, ReplicaKey(3, dir_of(3))), (), "Unattached", 3),  # leader's endpoints unknown
    # our own vote beside a leader (4.x keeps a lost candidate's vote once it follows): 4.x would stand
    # again in epoch 3 with a log ending in epoch 3, which voters refuse; kraft follows
    (ElectionState(3, 2, ReplicaKey(1, dir_of(1))), (1, 3), "Follower", 3),
])
def test_initial_role(stored, log_epochs, role, epoch):
    ctx = RaftContext.build(local_id=1, election=stored, log_epochs=log_epochs)
    assert ctx.role == role and ctx.node.epoch == epoch
    assert ctx.persisted()[0] == ctx.node.role.election()  # written back durably first
    if stored is not None and stored.has_leader and stored.voted_key is not None:
        assert ctx.node.role.election() == stored  # both kept
    if stored is not None and stored.voted_key == ReplicaKey(2):
        assert ctx.node.role.voted_key == ReplicaKey(2)
    if stored == ElectionState(3, 9):
        assert ctx.node.leader_and_epoch().leader_id == 9


def test_restarted_leader_sends_end_quorum_epoch_with_no_successors():
    ctx = RaftContext.build(local_id=1, election=ElectionState(3, 1))
    ctx.poll()
    sends = ctx.take_sent(rpc.EndQuorumEpochRequest)
    assert {s.destination for s in sends} == {2, 3}
    assert all(s.request.leader_id == 1 and s.request.leader_epoch == 3 and s.request.preferred_candidates == ()
               for s in sends)
    ack = rpc.EndQuorumEpochResponse(topic="__cluster_metadata", leader_id=1, leader_epoch=3)
    ctx.answer(sends[0], ack)
    assert ctx.node.role.unacknowledged == {sends[1].destination}


def test_single_voter_becomes_leader_at_start_and_commits_alone():
    ctx = RaftContext.build(local_id=1, voters=(1,))
    assert ctx.role == "Leader" and ctx.node.epoch == 1
    assert ctx.node.high_watermark == 1  # the LeaderChange record is committed at once
    offset = ctx.client.schedule_append(1, [b"a", b"b"])
    assert offset == 2
    ctx.advance(25)
    ctx.poll()
    assert ctx.node.high_watermark == 3 and ctx.log.high_watermark == 3


# ---------------------------------------------------------------- elections
def test_election_timeout_is_randomised_in_t_to_2t():
    seen = set()
    for seed in range(40):
        ctx = RaftContext.build(local_id=1, seed=seed, config=QuorumConfig(election_timeout_ms=1000))
        deadline = ctx.node.role.election_deadline_ms
        assert 1000 <= deadline < 2000
        seen.add(deadline)
    assert len(seen) > 20


def test_candidate_asks_every_voter_with_its_log_end_and_its_key():
    ctx = RaftContext.build(local_id=1, voter_dirs=True, log_epochs=(1, 1, 2), election=ElectionState(2),
                            peer_versions={2: {52: (0, 1)}})
    ctx.advance(2000)
    ctx.poll()
    assert ctx.role == "Candidate" and ctx.election == ElectionState(3, None, ReplicaKey(1, dir_of(1)))
    ctx.poll()
    sends = {s.destination: s.request for s in ctx.take_sent(rpc.VoteRequest)}
    assert set(sends) == {2, 3}
    v = sends[2]
    assert (v.candidate_epoch, v.candidate_id, v.last_offset_epoch, v.last_offset) == (3, 1, 2, 3)
    assert v.candidate_directory_id == dir_of(1) and v.voter_id == 2 and v.voter_directory_id == dir_of(2)
    assert v.api_version == 1 and sends[3].api_version == 0  # no ApiVersions known for 3: v0



def test_a_voter_whose_directory_is_unknown_is_named_by_no_key():
    """Static voters (no directory ids): VoterId -1, which the reference revision, 3.9 and 4.x all
    accept, rather than Kafka 3.9's (id, zero directory), which the reference revision refuses."""
    ctx = RaftContext.build(local_id=1, log_epochs=(1,), election=ElectionState(1),
                            peer_versions={2: {52: (0, 1)}, 3: {52: (0, 2)}})
    ctx.advance(2000)
    ctx.poll()
    ctx.poll()
    sends = {s.destination: s.request for s in ctx.take_sent(rpc.VoteRequest)}
    assert set(sends) == {2, 3}
    # node 3 speaks Vote v2, so node 1 runs Kafka 4.x's election: these are pre-votes, in epoch 1
    assert ctx.role == "Prospective"
    for v in sends.values():
        assert v.voter_id == -1 and v.voter_directory_id == Uuid.ZERO and v.pre_vote is True
        assert v.candidate_epoch == 1
    assert sends[2].api_version == 1 and sends[3].api_version == 2

def test_majority_of_grants_makes_a_leader_with_the_granting_voters_recorded():
    ctx = RaftContext.build(local_id=1, voters=(1, 2, 3, 4, 5))
    ctx.advance(2000)
    ctx.poll()
    ctx.poll()
    sends = {s.destination: s for s in ctx.take_sent(rpc.VoteRequest)}
    ctx.answer(sends[2], vote_response(1, True))
    ctx.answer(sends[3], vote_response(1, False))
    assert ctx.role == "Candidate"
    ctx.answer(sends[5], vote_response(1, True))
    assert ctx.role == "Leader"
    (control,) = ctx.leader_batches()
    assert control.control.granting_voters == (1, 2, 5)


def test_rejections_that_make_a_majority_impossible_start_the_backoff():
    ctx = RaftContext.build(local_id=1, config=QuorumConfig(election_backoff_max_ms=1000))
    ctx.advance(2000)
    ctx.poll()
    ctx.poll()
    sends = ctx.take_sent(rpc.VoteRequest)
    ctx.answer(sends[0], vote_response(1, False))
    assert ctx.node.role.backoff_deadline_ms is None
    ctx.answer(sends[1], vote_response(1, False))
    deadline = ctx.node.role.backoff_deadline_ms
    assert deadline is not None and deadline - ctx.now in (0, 100)  # retries 1: rand[0, 2) * 100
    ctx.advance(deadline - ctx.now)
    ctx.poll()
    assert ctx.role == "Candidate" and ctx.node.epoch == 2 and ctx.node.role.retries == 2


def test_candidate_election_timeout_then_backoff_then_new_epoch():
    ctx = RaftContext.build(local_id=1)
    ctx.advance(2000)
    ctx.poll()
    deadline = ctx.node.role.election_deadline_ms
    ctx.advance(deadline - ctx.now)
    ctx.poll()
    assert ctx.node.role.backoff_deadline_ms is not None and ctx.node.epoch == 1
    ctx.advance(ctx.node.role.backoff_deadline_ms - ctx.now)
    ctx.poll()
    assert ctx.node.epoch == 2 and ctx.role == "Candidate"


def test_a_vote_flip_from_the_same_voter_is_illegal():
    ctx = RaftContext.build(local_id=1, voters=(1, 2, 3, 4, 5))
    ctx.advance(2000)
    ctx.poll()
    ctx.poll()
    send = ctx.take_sent(rpc.VoteRequest)[0]
    ctx.answer(send, vote_response(1, False))
    ctx.node.request_manager.on_request_sent(send.destination, send.correlation_id, ctx.now)
    with pytest.raises(IllegalTransitionError):
        ctx.answer(send, vote_response(1, True))


@pytest.mark.parametrize("retries,maximum,upper", [(1, 1000, 100), (2, 1000, 300), (3, 1000, 700), (4, 1000, 1000),
                                                    (30, 1000, 1000), (3, 250, 250)])
def test_binary_exponential_backoff_bounds(retries, maximum, upper):
    rng = random.Random(retries)
    values = {q.binary_exponential_backoff_ms(retries, maximum, rng) for _ in range(400)}
    assert max(values) == upper and (retries > 4 or min(values) == 0)
    assert all(v % 100 == 0 or v == maximum for v in values)
    with pytest.raises(ValueError):
        q.binary_exponential_backoff_ms(0, maximum, rng)


@pytest.mark.parametrize("position,total,expected", [(0, 3, 0), (1, 3, 250), (2, 3, 500), (3, 3, 1000),
                                                     (-1, 3, 1000), (1, 2, 500), (0, 0, 0)])
def test_strict_exponential_backoff(position, total, expected):
    assert q.strict_exponential_backoff_ms(position, total, 1000) == expected


def test_high_watermark_candidate_takes_the_majority_offset():
    keys = [ReplicaKey(i) for i in range(1, 6)]
    assert q.high_watermark_candidate(dict(zip(keys, [10, 3, 7, None, 9]))) == 7
    assert q.high_watermark_candidate(dict(zip(keys, [10, None, None, None, 9]))) is None
    assert q.high_watermark_candidate({ReplicaKey(1): 4}) == 4
    assert q.high_watermark_candidate(dict(zip(keys[:4], [5, 5, 2, 8]))) == 5


# ----------------------------------------------------- check-quorum and resign
def test_leader_without_fetches_from_a_majority_resigns_and_ends_its_epoch():
    ctx = RaftContext.build(local_id=1, config=QuorumConfig(fetch_timeout_ms=2000))
    ctx.become_leader()
    ctx.sent.clear()
    ctx.advance(2999)
    ctx.deliver(fetch_request(1, 2, offset=1, last_epoch=1))  # one other voter = majority - 1: resets
    ctx.advance(2999)
    ctx.poll()
    assert ctx.role == "Leader"
    ctx.advance(1)
    ctx.poll()
    assert ctx.role == "Resigned"
    ctx.poll()
    sends = ctx.take_sent(rpc.EndQuorumEpochRequest)
    assert {s.destination for s in sends} == {2, 3}
    # successors by descending fetch offset: 2 fetched, 3 never did
    assert sends[0].request.preferred_successors == (2, 3)
    assert sends[0].request.preferred_candidates == (ReplicaKey(2), ReplicaKey(3))


def test_resign_and_its_argument_checks():
    ctx = RaftContext.build(local_id=1)
    ctx.become_leader()
    with pytest.raises(ValueError):
        ctx.node.resign(-1)
    with pytest.raises(ValueError):
        ctx.node.resign(5)
    ctx.node.resign(0)  # an old epoch is ignored
    ctx.poll()
    assert ctx.role == "Leader"
    ctx.node.resign(1)
    ctx.poll()
    assert ctx.role == "Resigned" and ctx.node.epoch == 1
    assert ctx.election == ElectionState(1, 1, None)  # resigning is not persisted


def test_graceful_shutdown_of_a_leader_waits_for_a_new_leader():
    ctx = RaftContext.build(local_id=1)
    ctx.become_leader()
    ctx.client.shutdown(5000)
    ctx.poll()
    assert ctx.role == "Resigned" and not ctx.client.is_shut_down
    ctx.deliver(begin_epoch(2, 2))
    ctx.poll()
    assert ctx.client.is_shut_down and not ctx.node.shutdown_timed_out


def test_graceful_shutdown_times_out():
    ctx = RaftContext.build(local_id=1)
    ctx.advance(2000)
    ctx.poll()
    ctx.client.shutdown(100)
    ctx.advance(100)
    ctx.poll()
    assert ctx.client.is_shut_down and ctx.node.shutdown_timed_out


def test_follower_shuts_down_at_once():
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(begin_epoch(1, 2))
    ctx.client.shutdown(100)
    ctx.poll()
    assert ctx.client.is_shut_down


# ---------------------------------------------------------- transition table
def test_transition_table_matches_kafka():
    assert TRANSITIONS["Leader"] == {"Unattached", "Resigned", "Follower"}
    assert "Leader" not in TRANSITIONS["Follower"] and "Leader" not in TRANSITIONS["Unattached"]
    assert "Resigned" not in TRANSITIONS["Candidate"]
    with pytest.raises(IllegalTransitionError):
        check_transition("Follower", "Leader")
    with pytest.raises(IllegalTransitionError):
        check_transition("Unattached", "Candidate", observer=True)
    check_transition("Unattached", "Follower", observer=True)


def test_observer_never_campaigns_and_fetches_from_bootstrap_servers():
    ctx = RaftContext.build(local_id=9)
    assert not ctx.node.is_voter and ctx.node.role.election_deadline_ms is None
    ctx.advance(100_000)
    ctx.poll()
    assert ctx.role == "Unattached"
    (send,) = ctx.take_sent(rpc.FetchRequest)
    assert send.destination in (1, 2, 3)
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, partition_error=Errors.NOT_LEADER_OR_FOLLOWER,
                                       current_leader_id=3, current_leader_epoch=4))
    assert ctx.role == "Follower" and ctx.node.role.leader_id == 3


def test_stored_leader_and_vote_together_start_as_kafka_4x_starts():
    """Only Kafka 4.x's rules write quorum-state with both a leader and the vote cast in that epoch.

    Kafka 4.3.1's QuorumState.initialize checks, in order: this node led (resigned), this node was
    the voted candidate (candidate), a leader is known (follower, the vote kept); 3.9.2 checks a
    vote before the leader and starts unattached-voted.  kraft starts as 4.x does, except that its
    own vote beside a leader follows too (see test_initial_role)."""
    from kraft.core.types import ElectionState as CoreElection, ReplicaKey as Key
    stored = CoreElection(9, leader_id=3, voted_key=Key(3))
    voted = RaftContext.build(local_id=1, election=stored)
    assert voted.role == "Follower" and voted.node.role.leader_id == 3 and voted.node.epoch == 9
    assert voted.election == stored  # the file is written back unchanged
    voted.poll()
    assert [s.destination for s in voted.take_sent(rpc.FetchRequest)] == [3]
    led = RaftContext.build(local_id=3, election=stored)
    assert led.role == "Resigned" and led.node.epoch == 9
