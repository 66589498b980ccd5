"""Kafka 4.x's pre-vote in the core, beyond the scenario scripts: the per-role grant rules, a vote
given while prospective, the resigned leader's way out, and the current-state names."""
from raft_context import RaftContext, vote_request, vote_response
from kraft.core import rpc
from kraft.core.roles import current_state_name
from kraft.core.types import ElectionState, ReplicaKey

#: peers 2 and 3 speak Vote v2: Kafka 4.x's election
V2 = {2: {rpc.VOTE: (0, 2)}, 3: {rpc.VOTE: (0, 2)}}


def prospective(**kw) -> RaftContext:
    ctx = RaftContext.build(local_id=1, peer_versions=V2, **kw)
    ctx.advance(2000)
    ctx.poll()
    assert ctx.role == "Prospective"
    ctx.poll()   # the pre-votes go out
    return ctx


def lead(ctx: RaftContext) -> None:
    """Time out and win the pre-vote round and the election (every voter grants)."""
    ctx.advance(2000)
    for _ in range(5):
        ctx.poll()
        for send in ctx.take_sent(rpc.VoteRequest):
            ctx.answer(send, vote_response(ctx.node.epoch, granted=True, version=send.request.api_version))
        if ctx.role == "Leader":
            ctx.poll()
            ctx.sent.clear()
            return
    raise AssertionError(f"not leader: {ctx.role}")


def test_pre_vote_grants_by_role():
    """Unattached, Prospective, Candidate and Resigned grant a pre-vote to an up-to-date log and
    change nothing; the leader never grants one; no role grants one to a log behind its own."""
    ctx = RaftContext.build(local_id=1, log_epochs=(1, 1), election=ElectionState(1), peer_versions=V2)
    for last_offset, granted in ((2, True), (1, False)):
        ctx.deliver(vote_request(1, 2, last_epoch=1, last_offset=last_offset, pre_vote=True, version=2))
        assert ctx.response().vote_granted is granted
    assert ctx.role == "Unattached" and ctx.election == ElectionState(1)   # no vote recorded
    ctx = prospective(log_epochs=(1,), election=ElectionState(1))
    ctx.deliver(vote_request(1, 2, last_epoch=1, last_offset=1, pre_vote=True, version=2))
    assert ctx.response().vote_granted and ctx.role == "Prospective" and ctx.node.role.voted_key is None
    leader = RaftContext.build(local_id=1, peer_versions=V2)
    lead(leader)
    leader.deliver(vote_request(leader.node.epoch, 2, last_epoch=leader.node.epoch, last_offset=9, pre_vote=True,
                                version=2))
    assert not leader.response().vote_granted and leader.role == "Leader"


def test_a_pre_vote_from_a_log_of_the_current_epoch_is_valid_and_a_vote_is_not():
    """A prospective node's log may end in its own epoch: valid for a pre-vote (last epoch <= its
    epoch), INVALID_REQUEST for a standard vote (last epoch < its epoch)."""
    ctx = RaftContext.build(local_id=1, log_epochs=(1,), election=ElectionState(1), peer_versions=V2)
    ctx.deliver(vote_request(1, 2, last_epoch=1, last_offset=1, pre_vote=True, version=2))
    assert ctx.response().partition_error == 0
    ctx.deliver(vote_request(1, 2, last_epoch=1, last_offset=1, version=2))
    assert ctx.response().partition_error != 0


def test_a_prospective_node_that_votes_keeps_the_vote_when_it_loses():
    """Kafka 4.x's prospectiveAddVotedState: the vote is persisted, the node stays prospective
    (prospective-voted); losing its round it becomes Unattached in the same epoch with that vote,
    so it cannot vote for another candidate in that epoch."""
    ctx = prospective(election=ElectionState(1))
    ctx.deliver(vote_request(1, 3, version=2), source=3)
    assert ctx.response().vote_granted
    assert ctx.role == "Prospective" and ctx.election == ElectionState(1, None, ReplicaKey(3))
    assert current_state_name(ctx.node.role, True) == "prospective-voted"
    for send in ctx.take_sent(rpc.VoteRequest):
        ctx.answer(send, vote_response(1, granted=False))
    assert ctx.role == "Unattached" and ctx.node.epoch == 1 and ctx.node.role.voted_key == ReplicaKey(3)
    assert current_state_name(ctx.node.role, True) == "unattached-voted"
    ctx.deliver(vote_request(1, 2, version=2))
    assert not ctx.response().vote_granted


def test_a_resigned_leader_enters_the_next_epoch_unattached():
    """Kafka 4.x's pollResigned: after the election timeout, Unattached in epoch + 1 (3.9: Candidate)."""
    for versions, role in ((V2, "Unattached"), ({2: {rpc.VOTE: (0, 1)}, 3: {rpc.VOTE: (0, 1)}}, "Candidate")):
        ctx = RaftContext.build(local_id=1, peer_versions=versions)
        lead(ctx)
        epoch = ctx.node.epoch
        ctx.client.resign(epoch)
        ctx.poll()
        assert ctx.role == "Resigned"
        ctx.advance(2000)
        ctx.poll()
        assert (ctx.role, ctx.node.epoch) == (role, epoch + 1)


def test_current_state_names():
    ctx = RaftContext.build(local_id=1, peer_versions=V2)
    assert current_state_name(ctx.node.role, True) == "unattached"
    ctx.advance(2000)
    ctx.poll()
    assert current_state_name(ctx.node.role, True) == "prospective"
    ctx.poll()
    for send in ctx.take_sent(rpc.VoteRequest)[:1]:
        ctx.answer(send, vote_response(0, granted=True))
    assert current_state_name(ctx.node.role, True) == "candidate"


def test_a_follower_keeps_the_vote_of_its_epoch_with_4x_peers_only():
    """Kafka 4.x writes the vote given in an epoch next to the leader learnt later (FollowerState
    keeps votedKey); Kafka 3.9's follower holds no vote."""
    from raft_context import begin_epoch
    for versions, kept in ((V2, ReplicaKey(2)), ({2: {rpc.VOTE: (0, 1)}, 3: {rpc.VOTE: (0, 1)}}, None)):
        ctx = RaftContext.build(local_id=1, peer_versions=versions)
        ctx.deliver(vote_request(1, 2, version=1))
        assert ctx.response().vote_granted
        ctx.deliver(begin_epoch(1, 2))
        assert ctx.role == "Follower" and ctx.election == ElectionState(1, 2, kept)


def test_a_candidate_that_learns_the_leader_of_its_epoch_keeps_its_own_vote_with_4x_peers_only():
    """Kafka 4.x's QuorumState.transitionToFollower keeps the vote of the epoch, a candidate's own
    included, and writes it beside the leader (4.3.1 :580-583); 3.9 writes the leader alone.  The
    file read back starts the node following with that vote (initialize, :204)."""
    from raft_context import begin_epoch, dir_of
    for versions, kept in ((V2, ReplicaKey(1, dir_of(1))), ({2: {rpc.VOTE: (0, 1)}, 3: {rpc.VOTE: (0, 1)}}, None)):
        ctx = RaftContext.build(local_id=1, peer_versions=versions)
        ctx.advance(2 * ctx.node.config.election_timeout_ms)
        for _ in range(3):
            ctx.poll()
            for send in ctx.take_sent(rpc.VoteRequest):
                if send.request.pre_vote:
                    ctx.answer(send, vote_response(send.request.candidate_epoch, granted=True, version=2))
        assert ctx.role == "Candidate"
        epoch = ctx.node.epoch
        ctx.deliver(begin_epoch(epoch, 2))
        assert ctx.role == "Follower" and ctx.election == ElectionState(epoch, 2, kept)
        restarted = RaftContext.build(local_id=1, election=ctx.election, peer_versions=versions)
        assert restarted.role == "Follower" and restarted.election == ctx.election


def test_the_election_kind_follows_the_peers_api_versions_as_they_arrive():
    """The answer of ``runs_pre_vote`` is remembered between polls; a peer's ApiVersions that
    arrive later (or change after a restart into 3.9) change it at once."""
    from kraft.core.effects import PeerApiVersions
    from kraft.core.rpcs.vote import runs_pre_vote

    ctx = RaftContext.build(local_id=1, peer_versions={2: {rpc.VOTE: (0, 1)}, 3: {rpc.VOTE: (0, 1)}})
    assert not runs_pre_vote(ctx.node.ctx) and not runs_pre_vote(ctx.node.ctx)
    ctx._apply(ctx.client.step(PeerApiVersions(3, {rpc.VOTE: (0, 2)}), ctx.now))
    assert runs_pre_vote(ctx.node.ctx)
    ctx._apply(ctx.client.step(PeerApiVersions(3, {rpc.VOTE: (0, 1)}), ctx.now))
    assert not runs_pre_vote(ctx.node.ctx)
    ctx.advance(2000)
    ctx.poll()
    assert ctx.role == "Candidate"   # 3.9's election: no pre-vote round
