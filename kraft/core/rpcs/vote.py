"""Vote: a candidate asks for votes; a voter grants at most one per epoch.

Kafka 4.0's pre-vote (KIP-996, Vote v2): a prospective node asks, in its current epoch and
without persisting anything, whether the voters would vote for it; it stands only with a
majority.  A voter grants a pre-vote by its role's rule (``roles``: among them, a follower
that has fetched from its leader refuses) and changes no state for it.
"""
from __future__ import annotations

from kraft.core import quorum as q
from kraft.core import rpc
from kraft.core.behaviour import REFERENCE_REVISION
from kraft.core.context import Context
from kraft.core.rpcs import common
from kraft.core.types import ReplicaKey
from kraft.protocol.errors import Errors
from kraft.protocol.uuid import Uuid


#: The first Vote version with PreVote.
PRE_VOTE_MIN_VERSION = 2


def runs_pre_vote(ctx: Context) -> bool:
    """Whether this node runs Kafka 4.x's election (Prospective, pre-votes, no backoff after a lost
    election, BeginQuorumEpoch only to voters not fetching): when a voter it has heard from speaks
    Vote v2.  With only 3.9 peers (or none known yet) it runs Kafka 3.9's."""
    voters = ctx.quorum.voters
    memo = ctx.pre_vote_memo
    if memo is not None and memo[0] is voters and memo[1] == ctx.api_versions_generation:
        return memo[2]  # asked on every poll: the answer changes only with the voters or an ApiVersions
    node_id = ctx.quorum.node_id
    answer = any(peer != node_id and speaks_vote_v2(ctx, peer) for peer in voters.ids)
    ctx.pre_vote_memo = (voters, ctx.api_versions_generation, answer)
    return answer


def speaks_vote_v2(ctx: Context, peer: int) -> bool:
    """Whether ``peer`` advertised Vote v2 (it is a Kafka 4.x node, or kraft) in its ApiVersions."""
    versions = ctx.peer_api_versions.get(peer)
    return bool(versions) and rpc.VOTE in versions and versions[rpc.VOTE][1] >= PRE_VOTE_MIN_VERSION


def build_request(ctx: Context, destination: int) -> rpc.VoteRequest:
    """The prospective node's pre-vote or the candidate's Vote request to ``destination``."""
    reference = ctx.identity.behaviour == REFERENCE_REVISION
    voter_id, voter_directory_id = (-1, Uuid.ZERO) if reference else common.addressed_voter_key(ctx, destination)
    return rpc.VoteRequest(
        cluster_id=ctx.identity.cluster_id, topic=ctx.identity.topic, partition=ctx.identity.partition,
        candidate_epoch=ctx.quorum.role.epoch, candidate_id=ctx.quorum.node_id,
        last_offset_epoch=ctx.log_view.end.epoch, last_offset=ctx.log_view.end.offset,
        candidate_directory_id=Uuid.ZERO if reference else ctx.quorum.local_key.directory_or_zero,
        voter_id=voter_id, voter_directory_id=voter_directory_id,
        api_version=common.version(ctx, rpc.VOTE, destination),
        pre_vote=ctx.quorum.prospective_state() is not None,
    )


def handle_request(ctx: Context, req: rpc.VoteRequest, listener: str, now: int) -> rpc.VoteResponse:
    """Grant or refuse a vote, moving to the candidate's epoch first if it is newer."""
    if not common.cluster_ok(ctx, req.cluster_id):
        return rpc.VoteResponse(error_code=Errors.INCONSISTENT_CLUSTER_ID, partition_count=0,
                                api_version=req.api_version)
    if not common.shape_ok(ctx, req):
        return rpc.VoteResponse(error_code=Errors.INVALID_REQUEST, partition_count=0, api_version=req.api_version)
    # a pre-vote comes from the requester's current epoch, in which its log may already have records
    illegal_epoch = (req.last_offset_epoch > req.candidate_epoch if req.pre_vote
                     else req.last_offset_epoch >= req.candidate_epoch)
    if req.last_offset < 0 or req.last_offset_epoch < 0 or illegal_epoch:
        return common.partition_response(ctx, rpc.VoteResponse, req, listener, Errors.INVALID_REQUEST)
    error = common.voter_only_error(ctx, req.candidate_id, req.candidate_epoch)
    if error is not None:
        return common.partition_response(ctx, rpc.VoteResponse, req, listener, error)
    if req.candidate_epoch > ctx.quorum.role.epoch:
        ctx.transitions.to_unattached(req.candidate_epoch, now)
    if not common.valid_voter_key(ctx, req.voter_id, req.voter_directory_id):
        return common.partition_response(ctx, rpc.VoteResponse, req, listener, Errors.INVALID_VOTER_KEY)
    candidate = ReplicaKey.of(req.candidate_id, req.candidate_directory_id)
    end = ctx.log_view.end
    up_to_date = (req.last_offset_epoch, req.last_offset) >= (end.epoch, end.offset)
    granted = ctx.quorum.role.can_grant_vote(candidate, up_to_date, req.pre_vote)
    if granted and not req.pre_vote and ctx.quorum.role.may_vote:
        ctx.transitions.to_voted(req.candidate_epoch, candidate, now)
    return common.partition_response(ctx, rpc.VoteResponse, req, listener, Errors.NONE, vote_granted=granted)


def handle_response(ctx: Context, source: int, response: rpc.VoteResponse, now: int) -> bool:
    """Record ``source``'s (pre-)vote; move forward on a majority, act on a lost election.

    A response carries no PreVote field: it counts for the round the node is in now (a
    prospective node's pre-votes, a candidate's votes), so a pre-vote granted late, after the
    node stood, is dropped by the epoch check (the candidate's epoch is higher)."""
    if response.error_code == Errors.UNSUPPORTED_VERSION and ctx.quorum.prospective_state() is not None:
        # Kafka 4.x: a voter that cannot take a pre-vote (it has no Vote v2) makes the node stand at once
        ctx.transitions.to_candidate(now, force=True)
        return True
    done, success = common.check_response(ctx, response, response.leader_id, response.leader_epoch, now)
    if done:
        return success
    prospective = ctx.quorum.prospective_state()
    role = ctx.quorum.candidate_state()
    if prospective is not None:
        prospective.record_vote(source, response.vote_granted)
        if response.vote_granted:
            ctx.transitions.maybe_become_prospective_candidate(now)
        elif prospective.is_vote_rejected():
            ctx.transitions.after_lost_pre_vote(now)
    elif role is not None:
        role.record_vote(source, response.vote_granted)
        if response.vote_granted:
            ctx.transitions.maybe_become_leader(now)
        elif role.is_vote_rejected() and role.backoff_deadline_ms is None and not runs_pre_vote(ctx):
            # Kafka 3.9 backs off; 4.x (KAFKA-18345) waits out the rest of the election timeout
            role.backoff_deadline_ms = now + q.binary_exponential_backoff_ms(
                role.retries, ctx.config.election_backoff_max_ms, ctx.rng)
    return True
