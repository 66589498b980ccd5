"""Checks and response shapes that every raft RPC shares."""
from __future__ import annotations

from typing import Optional

from kraft.core import rpc
from kraft.core.behaviour import KAFKA_3_9, REFERENCE_REVISION
from kraft.core.context import Context
from kraft.core.errors import FatalRaftError
from kraft.core.roles import Leader
from kraft.core.types import EMPTY_ENDPOINTS, Endpoint, Endpoints, NodeEndpoint, ReplicaKey
from kraft.protocol.errors import Errors
from kraft.protocol.uuid import Uuid

#: The first version of each RPC whose responses carry the leader's endpoints.
NODE_ENDPOINT_MIN_VERSION = {
    rpc.VOTE: 1, rpc.BEGIN_QUORUM_EPOCH: 1, rpc.END_QUORUM_EPOCH: 1, rpc.FETCH: 17, rpc.FETCH_SNAPSHOT: 1,
}


# ------------------------------------------------------------------ requests out
def version(ctx: Context, api_key: int, destination: int) -> int:
    """The version of ``api_key`` to send to ``destination``, from its ApiVersions."""
    return rpc.choose_version(api_key, ctx.peer_api_versions.get(destination))


def receiver_key(ctx: Context, destination: int) -> ReplicaKey:
    """The voter key of ``destination`` (its id alone if it is not a voter)."""
    return ctx.quorum.voters.key_of(destination) or ReplicaKey(destination)


def addressed_voter_key(ctx: Context, destination: int) -> tuple[int, Uuid]:
    """``(VoterId, VoterDirectoryId)`` naming the receiver of a Vote or BeginQuorumEpoch.

    Its exact key when its directory id is known; otherwise no key (-1 and the
    zero UUID), not Kafka 3.9's ``(id, zero)``.  A receiver at the reference
    revision (adee6f0cc11, ``KafkaRaftClient.isValidVoterKey``, lines 2010-2017)
    accepts -1 or its own exact key and refuses ``(id, zero)``; Kafka 3.9.2 and
    4.3.1 (``RaftUtil.voteRequestVoterKey`` / ``beginQuorumEpochRequestVoterKey``
    and ``KafkaRaftClient.isValidVoterKey``) accept all three.
    """
    receiver = receiver_key(ctx, destination)
    if receiver.directory_id is None:
        return -1, Uuid.ZERO
    return receiver.id, receiver.directory_id


# ------------------------------------------------------------------ requests in
def cluster_ok(ctx: Context, cluster_id: Optional[str]) -> bool:
    return cluster_id is None or cluster_id == ctx.identity.cluster_id


def shape_ok(ctx: Context, req) -> bool:
    """One partition, and it is ours."""
    return req.partition_count == 1 and req.topic == ctx.identity.topic and req.partition == ctx.identity.partition


def node_endpoints(ctx: Context, api_key: int, version: int, listener: str) -> tuple:
    """The leader's endpoint on ``listener`` for a response, when the version carries one and it is known."""
    if version < NODE_ENDPOINT_MIN_VERSION[api_key]:
        return ()
    leader = ctx.quorum.leader_id()
    if leader is None:
        return ()
    address = ctx.quorum.leader_endpoints().address(listener)
    if address is None:
        return ()
    return (NodeEndpoint(leader, address.host, address.port),)


def partition_response(ctx: Context, cls, req, listener: str, error: int, **fields):
    """A one-partition response of type ``cls`` carrying ``error`` and the local leader view."""
    return cls(topic=ctx.identity.topic, partition=ctx.identity.partition, partition_error=int(error),
               leader_id=ctx.quorum.leader_id_or_sentinel(), leader_epoch=ctx.quorum.role.epoch,
               node_endpoints=node_endpoints(ctx, cls.api_key, req.api_version, listener),
               api_version=req.api_version, **fields)


def valid_voter_key(ctx: Context, voter_id: int, voter_directory_id: Uuid) -> bool:
    """Whether a request addressed to voter (``voter_id``, ``voter_directory_id``) is meant for this node."""
    if voter_id < 0:
        return True
    if voter_id != ctx.quorum.node_id:
        return False
    if ctx.identity.behaviour == REFERENCE_REVISION:
        return voter_directory_id != Uuid.ZERO and voter_directory_id == ctx.quorum.local_key.directory_id
    return voter_directory_id == Uuid.ZERO or voter_directory_id == ctx.quorum.local_key.directory_id


def voter_only_error(ctx: Context, remote_id: int, epoch: int) -> Optional[int]:
    """The error for a request only voters send (Vote, Begin/EndQuorumEpoch), or ``None``."""
    if epoch < ctx.quorum.role.epoch:
        return Errors.FENCED_LEADER_EPOCH
    if remote_id < 0:
        return Errors.INVALID_REQUEST
    return None


def leader_only_error(ctx: Context, epoch: int) -> Optional[int]:
    """The error for a request only the leader of ``epoch`` answers (Fetch, FetchSnapshot), or ``None``."""
    if epoch < ctx.quorum.role.epoch:
        return Errors.FENCED_LEADER_EPOCH
    if epoch > ctx.quorum.role.epoch:
        return Errors.UNKNOWN_LEADER_EPOCH
    if ctx.quorum.leader_state() is None:
        return Errors.NOT_LEADER_OR_FOLLOWER
    if ctx.shutting_down:
        return Errors.BROKER_NOT_AVAILABLE
    return None


def record_voter_fetch(ctx: Context, leader: Leader, voter_id: int, now: int) -> None:
    """Count a fetch from a voter towards the leader's check-quorum timer."""
    leader.fetched_voters.add(voter_id)
    if len(leader.fetched_voters) >= ctx.quorum.voters.majority - 1:
        leader.fetched_voters.clear()
        leader.check_quorum_deadline_ms = now + ctx.config.check_quorum_timeout_ms


# ----------------------------------------------------------------- responses in
def top_level_error(error: int) -> bool:
    """Handle a response's top-level error; returns the request's success (always ``False``)."""
    if error == Errors.CLUSTER_AUTHORIZATION_FAILED:
        raise FatalRaftError("received CLUSTER_AUTHORIZATION_FAILED")
    return False


def response_endpoints(ctx: Context, leader_id: Optional[int], endpoints_field) -> Endpoints:
    """The leader's endpoints as a response names them, else as the voter set knows them."""
    if leader_id is None:
        return EMPTY_ENDPOINTS
    if endpoints_field and ctx.identity.behaviour == KAFKA_3_9:
        return Endpoints(Endpoint(ctx.identity.listener, e.host, e.port) for e in endpoints_field if e.node_id == leader_id)
    return ctx.quorum.voters.endpoints(leader_id)


def handle_leader_view(ctx: Context, error: int, leader_id: Optional[int], epoch: int, endpoints: Endpoints,
                       now: int) -> Optional[bool]:
    """Act on the leader and epoch a response reports; the request's success, or ``None`` to go on."""
    if not endpoints and leader_id is not None:
        endpoints = ctx.quorum.voters.endpoints(leader_id)
    if epoch < ctx.quorum.role.epoch or error == Errors.UNKNOWN_LEADER_EPOCH:
        return True
    if epoch > ctx.quorum.role.epoch or error in (Errors.FENCED_LEADER_EPOCH, Errors.NOT_LEADER_OR_FOLLOWER):
        ctx.transitions.maybe_transition(leader_id, epoch, endpoints, now)
        return True
    if leader_id is not None and (ctx.quorum.leader_id() is None or (ctx.quorum.unattached_state() is not None and endpoints)):
        if not endpoints:
            # Kafka fails here; a leader whose address nobody told us (an observer that knows no
            # voters, asking a peer too old to send NodeEndpoints) is simply not followed yet.
            return True
        ctx.transitions.to_follower(epoch, leader_id, endpoints, now)
        return None if error == Errors.NONE else True
    if error == Errors.BROKER_NOT_AVAILABLE:
        return False
    # Kafka 3.9 (KafkaRaftClient.handleUnexpectedError's callers) counts INVALID_VOTER_KEY as handled
    # and sends again at once, tens of thousands of times a second between two nodes that disagree
    # on a key; kraft counts it a failure, so the destination backs off as after a failed connection.
    if error == Errors.INVALID_REQUEST:
        raise FatalRaftError("a response carried a partition-level INVALID_REQUEST")
    return None


def check_response(ctx: Context, response, leader_id_field: int, epoch_field: int, now: int):
    """Top-level and shape checks then the leader view; returns (done, success)."""
    if response.error_code != Errors.NONE:
        return True, top_level_error(response.error_code)
    if isinstance(response, rpc.FetchResponse):
        same_topic = response.topic_id == ctx.identity.topic_id
    else:
        same_topic = response.topic == ctx.identity.topic
    if response.partition_count != 1 or response.partition != ctx.identity.partition or not same_topic:
        return True, False
    leader_id = leader_id_field if leader_id_field >= 0 else None
    endpoints = response_endpoints(ctx, leader_id, response.node_endpoints)
    handled = handle_leader_view(ctx, response.partition_error, leader_id, epoch_field, endpoints, now)
    if handled is not None:
        return True, handled
    if response.partition_error != Errors.NONE:
        return True, False
    return False, True


def membership_request_error(ctx, req, verb: str):
    """The checks AddRaftVoter and RemoveRaftVoter share, in Kafka's order: the cluster id, this node
    leading, a voter key with an id and a directory id.  ``(error, message)``, or ``None`` to go on."""
    if not cluster_ok(ctx, req.cluster_id):
        return (Errors.INCONSISTENT_CLUSTER_ID,
                f'The given id "{req.cluster_id}" doesn\'t match the cluster id "{ctx.identity.cluster_id}"')
    error = leader_only_error(ctx, ctx.quorum.role.epoch)
    if error is not None:
        return error, None
    if req.voter_id < 0 or req.voter_directory_id == Uuid.ZERO:
        return Errors.INVALID_REQUEST, f"{verb} voter request didn't include a valid voter"
    return None
