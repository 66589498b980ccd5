"""RemoveRaftVoter, the leader's side (KIP-853), in Kafka's order of checks.

``KafkaRaftClient.handleRemoveVoterRequest``: cluster id, leadership, a voter with a directory id
(INVALID_REQUEST); then ``RemoveVoterHandler``: no other change in progress, a high watermark in
this epoch, kraft.version 1 or more (UNSUPPORTED_VERSION), no uncommitted Voters record, and a
voter whose id and directory id both match, not the last one (VOTER_NOT_FOUND).  The Voters
record is written at once and the answer goes when it is committed, or REQUEST_TIMED_OUT after
the request timeout.  A leader that removed itself resigns once the record is committed.
"""
from __future__ import annotations

from kraft.core import rpc, voter_change
from kraft.core.roles import Leader
from kraft.core.rpcs import common
from kraft.core.types import ReplicaKey
from kraft.protocol.errors import Errors


def _response(req, error: int, message=None) -> rpc.RemoveRaftVoterResponse:
    return rpc.RemoveRaftVoterResponse(error_code=int(error), error_message=message, api_version=req.api_version)


def handle_request(ctx, event, now: int):
    req: rpc.RemoveRaftVoterRequest = event.request
    refused = common.membership_request_error(ctx, req, "Remove")
    if refused is not None:
        return _response(req, *refused)
    leader: Leader = ctx.quorum.role
    refused = voter_change.refusal(ctx, leader, now, "removing")
    if refused is not None:
        return _response(req, *refused)
    key = ReplicaKey.of(req.voter_id, req.voter_directory_id)
    new_voters = ctx.quorum.voters.with_voter_removed(key)
    if new_voters is None:
        return _response(req, Errors.VOTER_NOT_FOUND,
                         f"Cannot remove voter {key} from the set of voters "
                         f"{[str(k) for k in ctx.quorum.voters.keys()]}")
    reply = voter_change.Reply(event.source_id, event.correlation_id, req.api_version)
    offset = voter_change.append_voters(ctx, leader, new_voters, now)
    voter_change.reset(ctx, leader, Errors.UNKNOWN_SERVER_ERROR, new=voter_change.PendingRemove(
        offset, now + ctx.config.request_timeout_ms, reply))
    return None
