"""PeerUnreachable: the fast-failover deviation from Kafka (QuorumConfig.fast_failover)."""
import pytest

from raft_context import RaftContext, begin_epoch, fetch_response, vote_response
from kraft.core import rpc
from kraft.core.config import FAST_FAILOVER, QuorumConfig
from kraft.core.effects import PeerUnreachable
from kraft.errors import ConfigError

T = QuorumConfig().election_timeout_ms
FETCH_TIMEOUT = QuorumConfig().fetch_timeout_ms


def follower_of_2(seed=0, **config):
    ctx = RaftContext.build(local_id=1, seed=seed, config=QuorumConfig(**config))
    ctx.deliver(begin_epoch(1, leader=2))
    ctx.responses.clear()
    ctx.poll()
    assert ctx.role == "Follower" and ctx.node.role.fetch_deadline_ms == FETCH_TIMEOUT
    return ctx


def unreachable(ctx, node_id):
    ctx._apply(ctx.client.step(PeerUnreachable(node_id), ctx.now))


@pytest.mark.parametrize("seed", range(20))
def test_leader_unreachable_moves_the_fetch_deadline_to_a_random_election_timeout(seed):
    ctx = follower_of_2(seed)
    ctx.advance(100)
    unreachable(ctx, 2)
    deadline = ctx.node.role.fetch_deadline_ms
    assert ctx.now + T <= deadline < ctx.now + 2 * T
    ctx.now = deadline - 1
    ctx.poll()
    assert ctx.role == "Follower"
    ctx.now = deadline
    ctx.poll()
    assert ctx.role == "Candidate"


def test_the_deadlines_of_two_survivors_are_spread_out():
    deadlines = set()
    for seed in range(10):
        ctx = follower_of_2(seed)
        unreachable(ctx, 2)
        deadlines.add(ctx.node.role.fetch_deadline_ms)
    assert len(deadlines) > 5


def test_repeated_reports_move_the_deadline_once_and_a_fetch_answer_rearms_it():
    ctx = follower_of_2(seed=3)
    unreachable(ctx, 2)
    first = ctx.node.role.fetch_deadline_ms
    for _ in range(20):
        ctx.advance(10)
        unreachable(ctx, 2)
    assert ctx.node.role.fetch_deadline_ms == first
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, fetch_response(1, 2))
    assert ctx.node.role.fetch_deadline_ms == ctx.now + FETCH_TIMEOUT and not ctx.node.role.leader_unreachable
    unreachable(ctx, 2)
    assert ctx.node.role.fetch_deadline_ms < ctx.now + FETCH_TIMEOUT


def test_switched_off_or_another_peer_changes_nothing():
    ctx = follower_of_2(fast_failover=False)
    unreachable(ctx, 2)
    assert ctx.node.role.fetch_deadline_ms == FETCH_TIMEOUT
    ctx = follower_of_2()
    unreachable(ctx, 3)
    assert ctx.node.role.fetch_deadline_ms == FETCH_TIMEOUT


def test_a_deadline_already_sooner_is_kept():
    ctx = follower_of_2()
    ctx.advance(FETCH_TIMEOUT - 10)
    unreachable(ctx, 2)
    assert ctx.node.role.fetch_deadline_ms == FETCH_TIMEOUT


def _split_vote_candidate(**config):
    ctx = RaftContext.build(local_id=1, config=QuorumConfig(**config))
    ctx.advance(2 * T)
    ctx.poll()
    ctx.poll()
    assert ctx.role == "Candidate"
    sends = {s.destination: s for s in ctx.take_sent(rpc.VoteRequest)}
    ctx.answer(sends[2], vote_response(ctx.node.epoch, granted=False))
    assert ctx.node.role.backoff_deadline_ms is None  # voter 3 could still make a majority
    return ctx


def test_a_candidate_that_cannot_win_without_an_unreachable_voter_backs_off_at_once():
    ctx = _split_vote_candidate()
    epoch = ctx.node.epoch
    unreachable(ctx, 3)
    backoff = ctx.node.role.backoff_deadline_ms
    assert backoff is not None and backoff - ctx.now <= QuorumConfig().election_backoff_max_ms
    assert backoff < ctx.node.role.election_deadline_ms
    ctx.now = backoff
    ctx.poll()
    assert ctx.role == "Candidate" and ctx.node.epoch == epoch + 1


def test_a_candidate_without_fast_failover_waits_for_its_election_timeout():
    ctx = _split_vote_candidate(fast_failover=False)
    unreachable(ctx, 3)
    assert ctx.node.role.backoff_deadline_ms is None


def test_an_unreachable_voter_does_not_stop_a_candidate_that_can_still_win():
    ctx = RaftContext.build(local_id=1, voters=(1, 2, 3, 4, 5))
    ctx.advance(2 * T)
    ctx.poll()
    unreachable(ctx, 5)
    assert ctx.node.role.backoff_deadline_ms is None


def test_config_key():
    assert QuorumConfig.from_properties({FAST_FAILOVER: "false"}).fast_failover is False
    assert QuorumConfig.from_properties({}).fast_failover is True
    assert QuorumConfig.from_properties(QuorumConfig(fast_failover=False).to_properties()).fast_failover is False
    with pytest.raises(ConfigError):
        QuorumConfig.from_properties({FAST_FAILOVER: "maybe"})


# ---------------------------------------------------------- refused connections: ranked, sooner
STEP = QuorumConfig().fast_failover_refused_step_ms


def refused(ctx, node_id):
    ctx._apply(ctx.client.step(PeerUnreachable(node_id, refused=True), ctx.now))


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("local_id, rank", [(1, 0), (3, 1)])
def test_a_refused_leader_makes_the_survivors_stand_in_node_id_order(seed, local_id, rank):
    ctx = RaftContext.build(local_id=local_id, seed=seed, config=QuorumConfig())
    ctx.deliver(begin_epoch(1, leader=2))
    ctx.poll()
    ctx.advance(100)
    refused(ctx, 2)
    deadline = ctx.node.role.fetch_deadline_ms
    # survivors 1 and 3: node 1 within the first half step, node 3 one step later
    assert ctx.now + rank * STEP <= deadline < ctx.now + rank * STEP + STEP // 2
    ctx.now = deadline
    ctx.poll()
    assert ctx.role == "Candidate"


def test_a_refused_leader_with_the_step_off_or_fast_failover_off_keeps_the_old_timers():
    ctx = follower_of_2(seed=1, fast_failover_refused_step_ms=0)
    refused(ctx, 2)
    assert ctx.now + T <= ctx.node.role.fetch_deadline_ms < ctx.now + 2 * T
    ctx = follower_of_2(seed=1, fast_failover=False)
    refused(ctx, 2)
    assert ctx.node.role.fetch_deadline_ms == FETCH_TIMEOUT


def test_the_refused_step_is_a_property():
    from kraft.core.config import FAST_FAILOVER_REFUSED_STEP_MS
    assert QuorumConfig.from_properties({FAST_FAILOVER_REFUSED_STEP_MS: "75"}).fast_failover_refused_step_ms == 75
    assert QuorumConfig(fast_failover_refused_step_ms=0).to_properties()[FAST_FAILOVER_REFUSED_STEP_MS] == "0"
    with pytest.raises(ConfigError):
        QuorumConfig.from_properties({FAST_FAILOVER_REFUSED_STEP_MS: "-1"})
