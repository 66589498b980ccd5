"""The member's side of KIP-853: a voter keeps its Voters entry current, an observer joins.

Kafka's ``KafkaRaftClient.pollFollowerAsVoter`` / ``pollFollowerAsObserver``: a follower keeps an
update-voter-set timer of one fetch timeout (``FollowerState.updateVoterPeriodMs``).  When it runs
out:

* a voter, at kraft.version 1 or more, whose entry in the voter set in force differs from its own
  listeners and supported kraft.version range (``VoterSet.voterNodeNeedsUpdate``) sends the leader
  UpdateRaftVoter (Kafka 3.9's rule); to a leader that is a Kafka 4.x node (it advertises Vote v2)
  it also sends one at kraft.version 0, until that leader answers NONE or UNSUPPORTED_VERSION
  (Kafka 4.1, ``KafkaRaftClient.shouldSendUpdateVoteRequest``: every new leader hears from every
  voter, for a later kraft.version upgrade); with 4.x peers the timer starts again only when the
  request went out (``pollFollowerAsVoter``), with 3.9 peers after every attempt;
* an observer with ``controller.quorum.auto.join.enable`` (Kafka 4.2+), at kraft.version 1 or more,
  sends AddRaftVoter for itself (``AckWhenCommitted`` false), or, when its id is a voter under
  another directory id (its disk was replaced), RemoveRaftVoter for that old key first.

The timer is reset whenever such a request goes out, and by the answers Kafka resets it on.
"""
from __future__ import annotations

from typing import Optional

from kraft.core import rpc
from kraft.core.context import Context
from kraft.core.rpcs import common, vote
from kraft.core.types import EMPTY_ENDPOINTS, Endpoint, Endpoints, Voter
from kraft.core.voter_change import SUPPORTED_KRAFT_VERSIONS
from kraft.protocol.errors import Errors


def local_voter(ctx: Context) -> Voter:
    """This replica as a Voters entry: its key, its listeners, the kraft.version range it supports."""
    return Voter(ctx.quorum.local_key, ctx.quorum.endpoints, SUPPORTED_KRAFT_VERSIONS)


def update_due(ctx: Context, follower, now: int) -> bool:
    if follower.update_voter_deadline_ms is None:
        follower.update_voter_deadline_ms = now + ctx.config.fetch_timeout_ms
    return now >= follower.update_voter_deadline_ms


def reset_timer(ctx: Context, follower, now: int) -> None:
    follower.update_voter_deadline_ms = now + ctx.config.fetch_timeout_ms


def voter_needs_update(ctx: Context) -> bool:
    """Kafka's ``shouldSendUpdateVoteRequest`` at kraft.version 1: the entry differs from this replica."""
    if ctx.quorum.kraft_version < 1:
        return False
    entry = ctx.quorum.voters.get(ctx.quorum.node_id)
    return entry is not None and entry.key.matches(ctx.quorum.local_key) and entry != local_voter(ctx)


def should_send_update(ctx: Context, follower) -> bool:
    """Whether a voter following ``follower.leader_id`` sends UpdateRaftVoter when its timer runs out:
    at kraft.version 1 when its entry differs (3.9 and 4.x); at kraft.version 0 to a 4.x leader
    (by its ApiVersions) until that leader has answered (4.x; 3.9 never sends it then)."""
    if ctx.quorum.kraft_version >= 1:
        return voter_needs_update(ctx)
    return vote.speaks_vote_v2(ctx, follower.leader_id) and not follower.has_updated_leader


def should_join(ctx: Context, auto_join: bool) -> bool:
    """Kafka's ``shouldSendAddOrRemoveVoterRequest`` (the timer is checked by the caller)."""
    return auto_join and ctx.quorum.kraft_version >= 1 and ctx.quorum.local_key.directory_id is not None


def build_update(ctx: Context, destination: int) -> rpc.UpdateRaftVoterRequest:
    return rpc.UpdateRaftVoterRequest(
        cluster_id=ctx.identity.cluster_id, current_leader_epoch=ctx.quorum.role.epoch,
        voter_id=ctx.quorum.node_id, voter_directory_id=ctx.quorum.local_key.directory_or_zero,
        listeners=ctx.quorum.endpoints, min_kraft_version=SUPPORTED_KRAFT_VERSIONS[0],
        max_kraft_version=SUPPORTED_KRAFT_VERSIONS[1], api_version=common.version(ctx, rpc.UPDATE_RAFT_VOTER,
                                                                                  destination))


def build_join(ctx: Context, destination: int):
    """AddRaftVoter for this replica, or RemoveRaftVoter of the old key when its id is a voter already."""
    old = ctx.quorum.voters.key_of(ctx.quorum.node_id)
    if old is not None:
        return rpc.RemoveRaftVoterRequest(cluster_id=ctx.identity.cluster_id, voter_id=old.id,
                                          voter_directory_id=old.directory_or_zero)
    return rpc.AddRaftVoterRequest(
        cluster_id=ctx.identity.cluster_id, timeout_ms=ctx.config.request_timeout_ms, voter_id=ctx.quorum.node_id,
        voter_directory_id=ctx.quorum.local_key.directory_or_zero, listeners=ctx.quorum.endpoints,
        ack_when_committed=False, api_version=_add_version(ctx, destination))


def _add_version(ctx: Context, destination: int) -> int:
    return common.version(ctx, rpc.ADD_RAFT_VOTER, destination)


def _leader_endpoints(ctx: Context, leader_id: Optional[int], host: str, port: int) -> Endpoints:
    if leader_id is None or not host:
        return EMPTY_ENDPOINTS
    return Endpoints([Endpoint(ctx.identity.listener, host, port)])


def handle_update_response(ctx: Context, source: int, response: rpc.UpdateRaftVoterResponse, now: int) -> bool:
    """Kafka's ``handleUpdateVoterResponse``: NONE or UNSUPPORTED_VERSION count as a fetch from the leader."""
    error = response.error_code
    leader_id = response.leader_id if response.leader_id >= 0 else None
    if error in (Errors.FENCED_LEADER_EPOCH, Errors.NOT_LEADER_OR_FOLLOWER, Errors.UNKNOWN_LEADER_EPOCH) or (
            response.leader_epoch > ctx.quorum.role.epoch):
        endpoints = _leader_endpoints(ctx, leader_id, response.leader_host, response.leader_port)
        if response.leader_epoch >= ctx.quorum.role.epoch and error != Errors.UNKNOWN_LEADER_EPOCH:
            ctx.transitions.maybe_transition(leader_id, response.leader_epoch, endpoints, now)
        return True
    role = ctx.quorum.role
    if error in (Errors.NONE, Errors.UNSUPPORTED_VERSION) and role.name == "Follower":
        role.has_updated_leader = True
        role.fetch_deadline_ms = now + ctx.config.fetch_timeout_ms
        return True
    return error == Errors.REQUEST_TIMED_OUT


def handle_join_response(ctx: Context, source: int, response, now: int) -> bool:
    """Kafka's ``handleAddVoterResponse`` / ``handleRemoveVoterResponse``: an answer that means done or
    "not now" resets the update-voter-set timer; anything else counts as a failed request."""
    role = ctx.quorum.role
    done = (Errors.NONE, Errors.REQUEST_TIMED_OUT,
            Errors.DUPLICATE_VOTER if response.api_key == rpc.ADD_RAFT_VOTER else Errors.VOTER_NOT_FOUND)
    if response.error_code in done:
        if role.name == "Follower":
            reset_timer(ctx, role, now)
        return True
    return False
