"""UpdateRaftVoter, the leader's side: a voter reports its listeners and kraft.version range.

Kafka 4.1 and later followers send UpdateRaftVoter to each new leader (KAFKA-16538), also at
kraft.version 0.  The leader checks the request in Kafka's order (cluster id, leader epoch, voter
key, endpoints on the controller listener, the version range; then ``UpdateVoterHandler``: no
voter change in progress and an established high watermark, else REQUEST_TIMED_OUT).  At
kraft.version 0 with only 3.9 peers it answers UNSUPPORTED_VERSION, as Kafka 3.9's leader does.
With 4.x peers (``vote.runs_pre_vote``) it answers as Kafka 4.x's (``UpdateVoterHandler`` in
4.3.1): kraft.version 0 within the voter's range, else INVALID_REQUEST; a voter with that id
(any directory id), else VOTER_NOT_FOUND; then NONE, the request counted for the check-quorum
timer.  Kafka 4.x also keeps the voter's listeners in memory for a later kraft.version upgrade,
which kraft does not implement, so it keeps nothing.  At kraft.version 1 and later: no uncommitted
Voters record (REQUEST_TIMED_OUT), the
finalized kraft.version within the voter's range (INVALID_REQUEST), a voter with that id and
directory id (VOTER_NOT_FOUND); then the Voters record with the voter's new listeners and range
is written and the answer (NONE) goes at once, before it commits, as Kafka's does.
"""
from __future__ import annotations

from kraft.core import rpc, voter_change
from kraft.core.context import Context
from kraft.core.rpcs import common, vote
from kraft.core.types import ReplicaKey, Voter
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
    leader = ctx.quorum.role
    if voter_change.is_pending(ctx, leader, now) or leader.high_watermark is None:
        return _response(ctx, Errors.REQUEST_TIMED_OUT, listener, req.api_version)
    finalized = ctx.quorum.kraft_version
    if finalized < 1:
        return _at_kraft_version_0(ctx, req, leader, listener, now)
    if voter_change.uncommitted_voters_error(ctx, leader) is not None:
        return _response(ctx, Errors.REQUEST_TIMED_OUT, listener, req.api_version)
    if not low <= finalized <= high:
        return _response(ctx, Errors.INVALID_REQUEST, listener, req.api_version)
    key = ReplicaKey.of(req.voter_id, req.voter_directory_id)
    updated = ctx.quorum.voters.with_voter_updated(Voter(key, req.listeners, (low, high)))
    if updated is None:
        return _response(ctx, Errors.VOTER_NOT_FOUND, listener, req.api_version)
    voter_change.append_voters(ctx, leader, updated, now)
    common.record_voter_fetch(ctx, leader, key.id, now)  # Kafka: updateCheckQuorumForFollowingVoter
    return _response(ctx, Errors.NONE, listener, req.api_version)


def _at_kraft_version_0(ctx: Context, req: rpc.UpdateRaftVoterRequest, leader, listener: str,
                        now: int) -> rpc.UpdateRaftVoterResponse:
    """Kafka 3.9: UNSUPPORTED_VERSION.  Kafka 4.x: the voter is matched by id alone and answered NONE."""
    if not vote.runs_pre_vote(ctx):
        return _response(ctx, Errors.UNSUPPORTED_VERSION, listener, req.api_version)
    if not req.min_kraft_version <= 0 <= req.max_kraft_version:
        return _response(ctx, Errors.INVALID_REQUEST, listener, req.api_version)
    entry = ctx.quorum.voters.key_of(req.voter_id)
    if entry is None:
        return _response(ctx, Errors.VOTER_NOT_FOUND, listener, req.api_version)
    if req.voter_id != ctx.quorum.node_id and entry.matches(ReplicaKey.of(req.voter_id, req.voter_directory_id)):
        common.record_voter_fetch(ctx, leader, req.voter_id, now)  # Kafka: updateCheckQuorumForFollowingVoter
    return _response(ctx, Errors.NONE, listener, req.api_version)
