"""Message classes under Kafka's names, generated from :mod:`kraft.protocol.schemas`.

``from kraft.protocol.messages import VoteRequest, FetchResponse, VotersRecord``.
Nested structs are attributes of their message class under Kafka's struct
names (``FetchRequest.FetchTopic``, ``VotersRecord.Voter``, ...).

``UpdateRaftVoterRequestAdee`` is the UpdateRaftVoter v0 request as it was at
Kafka's reference revision adee6f0cc11 (no ``CurrentLeaderEpoch``, ``ClusterId``
not nullable); every other message here is Kafka 3.9.0's, which also reads
the reference revision's bytes.
"""
from kraft.protocol.codec import build_message_class
from kraft.protocol.schemas import API_SCHEMAS, DATA_SCHEMAS, HEADER_SCHEMAS
from kraft.protocol.schemas.update_raft_voter import UPDATE_RAFT_VOTER_REQUEST_ADEE

RequestHeader = build_message_class(HEADER_SCHEMAS[0])
ResponseHeader = build_message_class(HEADER_SCHEMAS[1])

_built = {}
for _request, _response in API_SCHEMAS:
    _built[_request.name] = build_message_class(_request)
    _built[_response.name] = build_message_class(_response)
for _schema in DATA_SCHEMAS:
    _built[_schema.name] = build_message_class(_schema)

FetchRequest = _built["FetchRequest"]
FetchResponse = _built["FetchResponse"]
ApiVersionsRequest = _built["ApiVersionsRequest"]
ApiVersionsResponse = _built["ApiVersionsResponse"]
VoteRequest = _built["VoteRequest"]
VoteResponse = _built["VoteResponse"]
BeginQuorumEpochRequest = _built["BeginQuorumEpochRequest"]
BeginQuorumEpochResponse = _built["BeginQuorumEpochResponse"]
EndQuorumEpochRequest = _built["EndQuorumEpochRequest"]
EndQuorumEpochResponse = _built["EndQuorumEpochResponse"]
DescribeQuorumRequest = _built["DescribeQuorumRequest"]
DescribeQuorumResponse = _built["DescribeQuorumResponse"]
FetchSnapshotRequest = _built["FetchSnapshotRequest"]
FetchSnapshotResponse = _built["FetchSnapshotResponse"]
DescribeClusterRequest = _built["DescribeClusterRequest"]
DescribeClusterResponse = _built["DescribeClusterResponse"]
AddRaftVoterRequest = _built["AddRaftVoterRequest"]
AddRaftVoterResponse = _built["AddRaftVoterResponse"]
RemoveRaftVoterRequest = _built["RemoveRaftVoterRequest"]
RemoveRaftVoterResponse = _built["RemoveRaftVoterResponse"]
UpdateRaftVoterRequest = _built["UpdateRaftVoterRequest"]
UpdateRaftVoterResponse = _built["UpdateRaftVoterResponse"]
LeaderChangeMessage = _built["LeaderChangeMessage"]
SnapshotHeaderRecord = _built["SnapshotHeaderRecord"]
SnapshotFooterRecord = _built["SnapshotFooterRecord"]
KRaftVersionRecord = _built["KRaftVersionRecord"]
VotersRecord = _built["VotersRecord"]
QuorumStateData = _built["QuorumStateData"]

UpdateRaftVoterRequestAdee = build_message_class(
    UPDATE_RAFT_VOTER_REQUEST_ADEE, class_name="UpdateRaftVoterRequestAdee")

#: api_key -> (request class, response class)
API_MESSAGES = {
    _request.api_key: (_built[_request.name], _built[_response.name])
    for _request, _response in API_SCHEMAS
}

del _built, _request, _response, _schema

__all__ = [
    "RequestHeader", "ResponseHeader",
    "FetchRequest", "FetchResponse", "ApiVersionsRequest", "ApiVersionsResponse",
    "VoteRequest", "VoteResponse", "BeginQuorumEpochRequest", "BeginQuorumEpochResponse",
    "EndQuorumEpochRequest", "EndQuorumEpochResponse", "DescribeQuorumRequest",
    "DescribeQuorumResponse", "FetchSnapshotRequest", "FetchSnapshotResponse",
    "DescribeClusterRequest", "DescribeClusterResponse",
    "AddRaftVoterRequest", "AddRaftVoterResponse", "RemoveRaftVoterRequest",
    "RemoveRaftVoterResponse", "UpdateRaftVoterRequest", "UpdateRaftVoterResponse",
    "UpdateRaftVoterRequestAdee",
    "LeaderChangeMessage", "SnapshotHeaderRecord", "SnapshotFooterRecord",
    "KRaftVersionRecord", "VotersRecord", "QuorumStateData", "API_MESSAGES",
]
