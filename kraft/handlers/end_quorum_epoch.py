"""EndQuorumEpoch: protocol messages <-> the core's ``EndQuorumEpochRequest`` / ``Response``.

As Kafka does, a request is written with both ``PreferredSuccessors`` (v0)
and ``PreferredCandidates`` (v1) filled from the same replica list; the
version then keeps one of them.
"""
from __future__ import annotations

from kraft.core import rpc
from kraft.core.types import ReplicaKey
from kraft.handlers._convert import (
    core_endpoints,
    epoch_response_from_core,
    epoch_response_to_core,
    first_partition,
    wire_endpoints,
)
from kraft.protocol import messages

_NODE_ENDPOINTS_SINCE = 1


def request_to_core(message: messages.EndQuorumEpochRequest, api_version: int) -> rpc.EndQuorumEpochRequest:
    topic, partition, count = first_partition(message.topics)
    endpoints = core_endpoints(message.leader_endpoints)
    if partition is None:
        return rpc.EndQuorumEpochRequest(
            cluster_id=message.cluster_id, topic="", partition=-1, leader_id=-1, leader_epoch=-1,
            leader_endpoints=endpoints, partition_count=0, api_version=api_version)
    return rpc.EndQuorumEpochRequest(
        cluster_id=message.cluster_id, topic=topic.topic_name, partition=partition.partition_index,
        leader_id=partition.leader_id, leader_epoch=partition.leader_epoch,
        preferred_successors=tuple(partition.preferred_successors),
        preferred_candidates=tuple(ReplicaKey.of(c.candidate_id, c.candidate_directory_id)
                                   for c in partition.preferred_candidates),
        leader_endpoints=endpoints, partition_count=count, api_version=api_version)


def request_from_core(request: rpc.EndQuorumEpochRequest) -> messages.EndQuorumEpochRequest:
    m = messages.EndQuorumEpochRequest
    candidates = request.candidates()
    partition = m.PartitionData(
        partition_index=request.partition, leader_id=request.leader_id, leader_epoch=request.leader_epoch,
        preferred_successors=[key.id for key in candidates],
        preferred_candidates=[m.ReplicaInfo(candidate_id=key.id, candidate_directory_id=key.directory_or_zero)
                              for key in candidates])
    return m(cluster_id=request.cluster_id, topics=[m.TopicData(topic_name=request.topic, partitions=[partition])],
             leader_endpoints=wire_endpoints(request.leader_endpoints, m.LeaderEndpoint))


def response_to_core(message: messages.EndQuorumEpochResponse, api_version: int) -> rpc.EndQuorumEpochResponse:
    return epoch_response_to_core(message, api_version, rpc.EndQuorumEpochResponse)


def response_from_core(response: rpc.EndQuorumEpochResponse) -> messages.EndQuorumEpochResponse:
    return epoch_response_from_core(response, messages.EndQuorumEpochResponse, _NODE_ENDPOINTS_SINCE)
