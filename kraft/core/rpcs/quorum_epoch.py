"""BeginQuorumEpoch and EndQuorumEpoch: a new leader announces itself; a resigning one names its successors."""
from __future__ import annotations

from kraft.core import quorum as q
from kraft.core import rpc
from kraft.core.behaviour import REFERENCE_REVISION
from kraft.core.context import Context
from kraft.core.rpcs import common
from kraft.core.types import EMPTY_ENDPOINTS, Endpoints
from kraft.protocol.errors import Errors
from kraft.protocol.uuid import Uuid


def build_begin_quorum_epoch(ctx: Context, destination: int) -> rpc.BeginQuorumEpochRequest:
    """The leader's BeginQuorumEpoch request to ``destination``."""
    reference = ctx.identity.behaviour == REFERENCE_REVISION
    voter_id, voter_directory_id = (0, Uuid.ZERO) if reference else common.addressed_voter_key(ctx, destination)
    return rpc.BeginQuorumEpochRequest(
        cluster_id=ctx.identity.cluster_id, topic=ctx.identity.topic, partition=ctx.identity.partition,
        leader_id=ctx.quorum.node_id, leader_epoch=ctx.quorum.role.epoch,
        voter_id=voter_id, voter_directory_id=voter_directory_id,
        leader_endpoints=EMPTY_ENDPOINTS if reference else ctx.identity.endpoints,
        api_version=common.version(ctx, rpc.BEGIN_QUORUM_EPOCH, destination),
    )


def build_end_quorum_epoch(ctx: Context, destination: int) -> rpc.EndQuorumEpochRequest:
    """The resigned leader's EndQuorumEpoch request to ``destination``."""
    reference = ctx.identity.behaviour == REFERENCE_REVISION
    successors = ctx.quorum.role.preferred_successors
    return rpc.EndQuorumEpochRequest(
        cluster_id=ctx.identity.cluster_id, topic=ctx.identity.topic, partition=ctx.identity.partition,
        leader_id=ctx.quorum.node_id, leader_epoch=ctx.quorum.role.epoch,
        preferred_successors=tuple(k.id for k in successors),
        preferred_candidates=() if reference else tuple(successors),
        api_version=common.version(ctx, rpc.END_QUORUM_EPOCH, destination),
    )


def _request_leader_endpoints(ctx: Context, req) -> Endpoints:
    return req.leader_endpoints if req.leader_endpoints else ctx.quorum.voters.endpoints(req.leader_id)


def handle_begin_quorum_epoch_request(ctx: Context, req: rpc.BeginQuorumEpochRequest, listener: str, now: int):
    """Follow the announced leader (if the request is valid and not stale)."""
    cls = rpc.BeginQuorumEpochResponse
    if not common.cluster_ok(ctx, req.cluster_id):
        return cls(error_code=Errors.INCONSISTENT_CLUSTER_ID, partition_count=0, api_version=req.api_version)
    if not common.shape_ok(ctx, req):
        return cls(error_code=Errors.INVALID_REQUEST, partition_count=0, api_version=req.api_version)
    error = common.voter_only_error(ctx, req.leader_id, req.leader_epoch)
    if error is not None:
        return common.partition_response(ctx, cls, req, listener, error)
    ctx.transitions.maybe_transition(req.leader_id, req.leader_epoch, _request_leader_endpoints(ctx, req), now)
    if not common.valid_voter_key(ctx, req.voter_id, req.voter_directory_id):
        return common.partition_response(ctx, cls, req, listener, Errors.INVALID_VOTER_KEY)
    return common.partition_response(ctx, cls, req, listener, Errors.NONE)


def handle_end_quorum_epoch_request(ctx: Context, req: rpc.EndQuorumEpochRequest, listener: str, now: int):
    """Note the resignation; a follower of that leader stands after a backoff by its place among the successors."""
    cls = rpc.EndQuorumEpochResponse
    if not common.cluster_ok(ctx, req.cluster_id):
        return cls(error_code=Errors.INCONSISTENT_CLUSTER_ID, partition_count=0, api_version=req.api_version)
    if not common.shape_ok(ctx, req):
        return cls(error_code=Errors.INVALID_REQUEST, partition_count=0, api_version=req.api_version)
    error = common.voter_only_error(ctx, req.leader_id, req.leader_epoch)
    if error is not None:
        return common.partition_response(ctx, cls, req, listener, error)
    ctx.transitions.maybe_transition(req.leader_id, req.leader_epoch, _request_leader_endpoints(ctx, req), now)
    role = ctx.quorum.follower_state()
    if role is not None and role.leader_id == req.leader_id:
        candidates = req.candidates()
        position = q.successor_position(candidates, ctx.quorum.local_key)
        backoff = q.strict_exponential_backoff_ms(position, len(candidates), ctx.config.election_backoff_max_ms)
        role.fetch_deadline_ms = now + backoff
    return common.partition_response(ctx, cls, req, listener, Errors.NONE)


def handle_begin_quorum_epoch_response(ctx: Context, source: int, response, now: int) -> bool:
    """A voter acknowledged the leader's epoch."""
    done, success = common.check_response(ctx, response, response.leader_id, response.leader_epoch, now)
    if done:
        return success
    leader = ctx.quorum.leader_state()
    if leader is not None:
        if source not in ctx.quorum.voters:
            # removed from the voters since the request went out (KIP-853): Kafka's LeaderState throws
            # here (IllegalArgumentException, addAcknowledgementFrom); kraft ignores the late answer
            return True
        leader.acknowledged.add(source)
    return True


def handle_end_quorum_epoch_response(ctx: Context, source: int, response, now: int) -> bool:
    """A voter acknowledged the resignation."""
    done, success = common.check_response(ctx, response, response.leader_id, response.leader_epoch, now)
    if done:
        return success
    resigned = ctx.quorum.resigned_state()
    if resigned is not None:
        resigned.unacknowledged.discard(source)
    return True
