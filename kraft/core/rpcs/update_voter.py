"""UpdateRaftVoter, the receiving side only: this core never changes its voter set at run time.

Kafka 4.1 and later followers send UpdateRaftVoter to each new leader (KAFKA-16538), also at
kraft.version 0, to report their endpoints and supported kraft.version range.  Kafka 3.9.0's
leader checks the request in a fixed order (cluster id, leader epoch, voter key, endpoints on the
controller listener, the version range, an established high watermark) and then answers
UNSUPPORTED_VERSION while the cluster is at kraft.version 0; a Kafka 4.x follower takes that
answer as "done" for this leader.  kraft answers the same way; it also does so at kraft.version 1,
where it does not apply voter changes either (see the README: no voter-set changes at run time).
"""
from __future__ import annotations

from kraft.core import rpc
from kraft.core.context import Context
from kraft.core.rpcs import common
from kraft.protocol.errors import Errors
from kraft.protocol.uuid import Uuid


def _response(ctx: Context, error: int, listener: str, version: int) -> rpc.UpdateRaftVoterResponse:
    """The answer with the current leader and its address on the request's listener, as Kafka writes it."""
    leader = ctx.quorum.leader_and_epoch()
    address = ctx.quorum.leader_endpoints().address(listener) if leader.leader_id is not None else None
    return rpc.UpdateRaftVoterResponse(
        error_code=int(error), leader_id=-1 if leader.leader_id is None else leader.leader_id,
        leader_epoch=leader.epoch, leader_host=address.host if address else "",
        leader_port=address.port if address else 0, api_version=version)


def handle_request(ctx: Context, req: rpc.UpdateRaftVoterRequest, listener: str, now: int) -> rpc.UpdateRaftVoterResponse:
    if not common.cluster_ok(ctx, req.cluster_id):
        return _response(ctx, Errors.INCONSISTENT_CLUSTER_ID, listener, req.api_version)
    error = common.leader_only_error(ctx, req.current_leader_epoch)
    if error is not None:
        return _response(ctx, error, listener, req.api_version)
    if req.voter_id < 0 or req.voter_directory_id == Uuid.ZERO:
        return _response(ctx, Errors.INVALID_REQUEST, listener, req.api_version)
    if req.listeners.address(ctx.identity.listener) is None:
        return _response(ctx, Errors.INVALID_REQUEST, listener, req.api_version)
    low, high = req.min_kraft_version, req.max_kraft_version
    if low < 0 or high < 0 or high < low:
        return _response(ctx, Errors.INVALID_REQUEST, listener, req.api_version)
    if ctx.log_view.high_watermark is None:
        return _response(ctx, Errors.REQUEST_TIMED_OUT, listener, req.api_version)
    return _response(ctx, Errors.UNSUPPORTED_VERSION, listener, req.api_version)
