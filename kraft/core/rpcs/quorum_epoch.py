"""BeginQuorumEpoch and EndQuorumEpoch: a new leader announces itself; a resigning one names its successors."""
from __future__ import annotations

from kraft.core import quorum as q
from kraft.core import rpc
from kraft.core.behaviour import REFERENCE_REVISION
from kraft.core.errors import FatalRaftError
from kraft.core.roles import Follower, Leader, Resigned
from kraft.core.rpcs import common
from kraft.core.types import EMPTY_ENDPOINTS, ZERO_UUID, Endpoints
from kraft.protocol.errors import Errors


def build_begin_quorum_epoch(node, destination: int) -> rpc.BeginQuorumEpochRequest:
    """The leader's BeginQuorumEpoch request to ``destination``."""
    reference = node.behaviour == REFERENCE_REVISION
    voter_id, voter_directory_id = (0, ZERO_UUID) if reference else common.addressed_voter_key(node, destination)
    return rpc.BeginQuorumEpochRequest(
        cluster_id=node.cluster_id, topic=node.topic, partition=node.partition,
        leader_id=node.node_id, leader_epoch=node.quorum.role.epoch,
        voter_id=voter_id, voter_directory_id=voter_directory_id,
        leader_endpoints=EMPTY_ENDPOINTS if reference else node.endpoints,
        api_version=common.version(node, rpc.BEGIN_QUORUM_EPOCH, destination),
    )


def build_end_quorum_epoch(node, destination: int) -> rpc.EndQuorumEpochRequest:
    """The resigned leader's EndQuorumEpoch request to ``destination``."""
    reference = node.behaviour == REFERENCE_REVISION
    successors = node.quorum.role.preferred_successors
    return rpc.EndQuorumEpochRequest(
        cluster_id=node.cluster_id, topic=node.topic, partition=node.partition,
        leader_id=node.node_id, leader_epoch=node.quorum.role.epoch,
        preferred_successors=tuple(k.id for k in successors),
        preferred_candidates=() if reference else tuple(successors),
        api_version=common.version(node, rpc.END_QUORUM_EPOCH, destination),
    )


def _request_leader_endpoints(node, req) -> Endpoints:
    return req.leader_endpoints if req.leader_endpoints else node.voters.endpoints(req.leader_id)


def handle_begin_quorum_epoch_request(node, req: rpc.BeginQuorumEpochRequest, listener: str, now: int):
    """Follow the announced leader (if the request is valid and not stale)."""
    cls = rpc.BeginQuorumEpochResponse
    if not common.cluster_ok(node, req.cluster_id):
        return cls(error_code=Errors.INCONSISTENT_CLUSTER_ID, partition_count=0, api_version=req.api_version)
    if not common.shape_ok(node, req):
        return cls(error_code=Errors.INVALID_REQUEST, partition_count=0, api_version=req.api_version)
    error = common.voter_only_error(node, req.leader_id, req.leader_epoch)
    if error is not None:
        return common.partition_response(node, cls, req, listener, error)
    node.maybe_transition(req.leader_id, req.leader_epoch, _request_leader_endpoints(node, req), now)
    if not common.valid_voter_key(node, req.voter_id, req.voter_directory_id):
        return common.partition_response(node, cls, req, listener, Errors.INVALID_VOTER_KEY)
    return common.partition_response(node, cls, req, listener, Errors.NONE)


def handle_end_quorum_epoch_request(node, req: rpc.EndQuorumEpochRequest, listener: str, now: int):
    """Note the resignation; a follower of that leader stands after a backoff by its place among the successors."""
    cls = rpc.EndQuorumEpochResponse
    if not common.cluster_ok(node, req.cluster_id):
        return cls(error_code=Errors.INCONSISTENT_CLUSTER_ID, partition_count=0, api_version=req.api_version)
    if not common.shape_ok(node, req):
        return cls(error_code=Errors.INVALID_REQUEST, partition_count=0, api_version=req.api_version)
    error = common.voter_only_error(node, req.leader_id, req.leader_epoch)
    if error is not None:
        return common.partition_response(node, cls, req, listener, error)
    node.maybe_transition(req.leader_id, req.leader_epoch, _request_leader_endpoints(node, req), now)
    role = node.quorum.role
    if isinstance(role, Follower) and role.leader_id == req.leader_id:
        candidates = req.candidates()
        position = q.successor_position(candidates, node.local_key)
        backoff = q.strict_exponential_backoff_ms(position, len(candidates), node.config.election_backoff_max_ms)
        role.fetch_deadline_ms = now + backoff
    return common.partition_response(node, cls, req, listener, Errors.NONE)


def handle_begin_quorum_epoch_response(node, source: int, response, now: int) -> bool:
    """A voter acknowledged the leader's epoch."""
    done, success = common.check_response(node, response, response.leader_id, response.leader_epoch, now)
    if done:
        return success
    if isinstance(node.quorum.role, Leader):
        if source not in node.voters:
            raise FatalRaftError(f"BeginQuorumEpoch acknowledged by {source}, which is not a voter")
        node.quorum.role.acknowledged.add(source)
    return True


def handle_end_quorum_epoch_response(node, source: int, response, now: int) -> bool:
    """A voter acknowledged the resignation."""
    done, success = common.check_response(node, response, response.leader_id, response.leader_epoch, now)
    if done:
        return success
    if isinstance(node.quorum.role, Resigned):
        node.quorum.role.unacknowledged.discard(source)
    return True
