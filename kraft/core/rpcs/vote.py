"""Vote: a candidate asks for votes; a voter grants at most one per epoch."""
from __future__ import annotations

from kraft.core import quorum as q
from kraft.core import rpc
from kraft.core.behaviour import REFERENCE_REVISION
from kraft.core.context import Context
from kraft.core.rpcs import common
from kraft.core.types import ZERO_UUID, ReplicaKey
from kraft.protocol.errors import Errors


def build_request(ctx: Context, destination: int) -> rpc.VoteRequest:
    """The candidate's Vote request to ``destination``."""
    reference = ctx.identity.behaviour == REFERENCE_REVISION
    voter_id, voter_directory_id = (-1, ZERO_UUID) if reference else common.addressed_voter_key(ctx, destination)
    return rpc.VoteRequest(
        cluster_id=ctx.identity.cluster_id, topic=ctx.identity.topic, partition=ctx.identity.partition,
        candidate_epoch=ctx.quorum.role.epoch, candidate_id=ctx.quorum.node_id,
        last_offset_epoch=ctx.log_view.end.epoch, last_offset=ctx.log_view.end.offset,
        candidate_directory_id=ZERO_UUID if reference else ctx.quorum.local_key.directory_or_zero,
        voter_id=voter_id, voter_directory_id=voter_directory_id,
        api_version=common.version(ctx, rpc.VOTE, destination),
    )


def handle_request(ctx: Context, req: rpc.VoteRequest, listener: str, now: int) -> rpc.VoteResponse:
    """Grant or refuse a vote, moving to the candidate's epoch first if it is newer."""
    if not common.cluster_ok(ctx, req.cluster_id):
        return rpc.VoteResponse(error_code=Errors.INCONSISTENT_CLUSTER_ID, partition_count=0,
                                api_version=req.api_version)
    if not common.shape_ok(ctx, req):
        return rpc.VoteResponse(error_code=Errors.INVALID_REQUEST, partition_count=0, api_version=req.api_version)
    if req.last_offset < 0 or req.last_offset_epoch < 0 or req.last_offset_epoch >= req.candidate_epoch:
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
    granted = ctx.quorum.role.can_grant_vote(candidate, up_to_date)
    if granted and ctx.quorum.role.may_vote:
        ctx.transitions.to_voted(req.candidate_epoch, candidate, now)
    return common.partition_response(ctx, rpc.VoteResponse, req, listener, Errors.NONE, vote_granted=granted)


def handle_response(ctx: Context, source: int, response: rpc.VoteResponse, now: int) -> bool:
    """Record ``source``'s vote; lead on a majority, back off once a majority refused."""
    done, success = common.check_response(ctx, response, response.leader_id, response.leader_epoch, now)
    if done:
        return success
    role = ctx.quorum.candidate_state()
    if role is not None:
        role.record_vote(source, response.vote_granted)
        if response.vote_granted:
            ctx.transitions.maybe_become_leader(now)
        elif role.is_vote_rejected() and role.backoff_deadline_ms is None:
            role.backoff_deadline_ms = now + q.binary_exponential_backoff_ms(
                role.retries, ctx.config.election_backoff_max_ms, ctx.rng)
    return True
