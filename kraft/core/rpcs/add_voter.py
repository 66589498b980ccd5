"""AddRaftVoter, the leader's side (KIP-853), in Kafka's order of checks.

``KafkaRaftClient.handleAddVoterRequest`` checks the cluster id (INCONSISTENT_CLUSTER_ID),
that this node leads (NOT_LEADER_OR_FOLLOWER, or BROKER_NOT_AVAILABLE while shutting down),
that the request names a voter with a directory id and an endpoint on the controller listener
(INVALID_REQUEST); then ``AddVoterHandler``: no other change in progress, a high watermark in
this epoch, kraft.version 1 or more (UNSUPPORTED_VERSION), no uncommitted Voters record
(all three REQUEST_TIMED_OUT but the version), the id not yet a voter (DUPLICATE_VOTER).  It
then asks the new voter for its ApiVersions, at the endpoint given, with the request timeout;
when the answer comes the voter must support the finalized kraft.version (INVALID_REQUEST)
and be an observer that has caught up (REQUEST_TIMED_OUT), and the Voters record is written.
v0 (and v1 with ``AckWhenCommitted``) is answered once it is committed; v1 without, once written.
"""
from __future__ import annotations

from kraft.core import rpc, voter_change
from kraft.core.effects import ApiVersionsResult, CheckApiVersions, Respond
from kraft.core.roles import Leader
from kraft.core.rpcs import common
from kraft.core.types import ReplicaKey, Voter
from kraft.protocol.errors import Errors, error_name


def _response(req, error: int, message=None) -> rpc.AddRaftVoterResponse:
    return rpc.AddRaftVoterResponse(error_code=int(error), error_message=message, api_version=req.api_version)


def handle_request(ctx, event, now: int):
    """Answer at once (an error) or start the change; the answer then comes from ``voter_change``."""
    req: rpc.AddRaftVoterRequest = event.request
    refused = common.membership_request_error(ctx, req, "Add")
    if refused is not None:
        return _response(req, *refused)
    endpoint = req.listeners.address(ctx.identity.listener)
    if endpoint is None:
        return _response(req, Errors.INVALID_REQUEST,
                         f"Add voter request didn't include the endpoint ({_endpoints(req.listeners)}) for the "
                         f"default listener {ctx.identity.listener}")
    leader: Leader = ctx.quorum.role
    refused = voter_change.refusal(ctx, leader, now, "adding")
    if refused is not None:
        return _response(req, *refused)
    key = ReplicaKey.of(req.voter_id, req.voter_directory_id)
    if req.voter_id in ctx.quorum.voters:
        return _response(req, Errors.DUPLICATE_VOTER,
                         f"The voter id for {key} is already part of the set of voters "
                         f"{[str(k) for k in ctx.quorum.voters.keys()]}.")
    reply = voter_change.Reply(event.source_id, event.correlation_id, req.api_version)
    pending = voter_change.PendingAdd(key, req.listeners, req.ack_when_committed,
                                      now + ctx.config.request_timeout_ms, reply)
    voter_change.reset(ctx, leader, Errors.UNKNOWN_SERVER_ERROR, new=pending)
    ctx.outbox.emit(CheckApiVersions(key.id, endpoint))
    return None


def handle_api_versions(ctx, result: ApiVersionsResult, now: int) -> None:
    """The new voter's ApiVersions: check it, then write the Voters record with it added."""
    leader = ctx.quorum.role
    if leader.name != Leader.name:
        return
    pending = leader.voter_change
    if not isinstance(pending, voter_change.PendingAdd) or not pending.expecting_api_versions_from(result.node_id):
        return
    if result.error_code != Errors.NONE:
        voter_change.reset(ctx, leader, Errors.REQUEST_TIMED_OUT,
                           f"Aborted add voter operation for since API_VERSIONS returned an error "
                           f"{error_name(result.error_code)}")
        return
    finalized = ctx.quorum.kraft_version
    versions = result.kraft_versions
    if versions is None or not versions[0] <= finalized <= versions[1]:
        shown = f"(min: {versions[0]}, max: {versions[1]}" if versions is not None else "(min: 0, max: 0)"
        voter_change.reset(ctx, leader, Errors.INVALID_REQUEST,
                           f"Aborted add voter operation for {pending.key} since the kraft.version range "
                           f"{shown} doesn't support the finalized version {finalized}")
        return
    if not voter_change.replica_caught_up(leader, pending.key, now):
        voter_change.reset(ctx, leader, Errors.REQUEST_TIMED_OUT,
                           f"Aborted add voter operation for {pending.key} since it is lagging behind")
        return
    new_voters = ctx.quorum.voters.with_voter_added(Voter(pending.key, pending.endpoints, tuple(versions)))
    if new_voters is None:  # the id became a voter meanwhile (an UpdateRaftVoter cannot do that)
        voter_change.reset(ctx, leader, Errors.DUPLICATE_VOTER)
        return
    pending.last_offset = voter_change.append_voters(ctx, leader, new_voters, now)
    if not pending.ack_when_committed:
        voter_change.answer_now(ctx, pending, Errors.NONE)


def _endpoints(endpoints) -> str:
    return ", ".join(f"{e.name}://{e.host}:{e.port}" for e in endpoints)


__all__ = ["handle_request", "handle_api_versions", "Respond"]
