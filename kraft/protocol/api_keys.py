"""The API keys kraft speaks, by name.

Each key is declared once, in its message schema (``kraft/protocol/schemas/``, as in
Kafka's message JSON); this module only names them for the code that dispatches on
them (the core's RPC types, the ApiVersions tables, the admin and tool clients).
"""
from __future__ import annotations

from kraft.protocol import messages as _m

FETCH: int = _m.FetchRequest.api_key
API_VERSIONS: int = _m.ApiVersionsRequest.api_key
VOTE: int = _m.VoteRequest.api_key
BEGIN_QUORUM_EPOCH: int = _m.BeginQuorumEpochRequest.api_key
END_QUORUM_EPOCH: int = _m.EndQuorumEpochRequest.api_key
DESCRIBE_QUORUM: int = _m.DescribeQuorumRequest.api_key
FETCH_SNAPSHOT: int = _m.FetchSnapshotRequest.api_key
DESCRIBE_CLUSTER: int = _m.DescribeClusterRequest.api_key
ADD_RAFT_VOTER: int = _m.AddRaftVoterRequest.api_key
REMOVE_RAFT_VOTER: int = _m.RemoveRaftVoterRequest.api_key
UPDATE_RAFT_VOTER: int = _m.UpdateRaftVoterRequest.api_key

__all__ = [
    "ADD_RAFT_VOTER", "API_VERSIONS", "BEGIN_QUORUM_EPOCH", "DESCRIBE_CLUSTER", "DESCRIBE_QUORUM",
    "END_QUORUM_EPOCH", "FETCH", "FETCH_SNAPSHOT", "REMOVE_RAFT_VOTER", "UPDATE_RAFT_VOTER", "VOTE",
]
