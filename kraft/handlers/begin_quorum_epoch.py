"""BeginQuorumEpoch: protocol messages <-> the core's ``BeginQuorumEpochRequest`` / ``Response``."""
from __future__ import annotations

from kraft.core import rpc
from kraft.handlers._convert import (
    core_endpoints,
    epoch_response_from_core,
    epoch_response_to_core,
    first_partition,
    wire_endpoints,
)
from kraft.protocol import messages

_NODE_ENDPOINTS_SINCE = 1


def request_to_core(message: messages.BeginQuorumEpochRequest, api_version: int) -> rpc.BeginQuorumEpochRequest:
    topic, partition, count = first_partition(message.topics)
    endpoints = core_endpoints(message.leader_endpoints)
    if partition is None:
        return rpc.BeginQuorumEpochRequest(
            cluster_id=message.cluster_id, topic="", partition=-1, leader_id=-1, leader_epoch=-1,
            voter_id=message.voter_id, leader_endpoints=endpoints, partition_count=0, api_version=api_version)
    return rpc.BeginQuorumEpochRequest(
        cluster_id=message.cluster_id, topic=topic.topic_name, partition=partition.partition_index,
        leader_id=partition.leader_id, leader_epoch=partition.leader_epoch, voter_id=message.voter_id,
        voter_directory_id=partition.voter_directory_id, leader_endpoints=endpoints,
        partition_count=count, api_version=api_version)


def request_from_core(request: rpc.BeginQuorumEpochRequest) -> messages.BeginQuorumEpochRequest:
    m = messages.BeginQuorumEpochRequest
    partition = m.PartitionData(
        partition_index=request.partition, voter_directory_id=request.voter_directory_id,
        leader_id=request.leader_id, leader_epoch=request.leader_epoch)
    return m(cluster_id=request.cluster_id, voter_id=request.voter_id,
             topics=[m.TopicData(topic_name=request.topic, partitions=[partition])],
             leader_endpoints=wire_endpoints(request.leader_endpoints, m.LeaderEndpoint))


def response_to_core(message: messages.BeginQuorumEpochResponse, api_version: int) -> rpc.BeginQuorumEpochResponse:
    return epoch_response_to_core(message, api_version, rpc.BeginQuorumEpochResponse)


def response_from_core(response: rpc.BeginQuorumEpochResponse) -> messages.BeginQuorumEpochResponse:
    return epoch_response_from_core(response, messages.BeginQuorumEpochResponse, _NODE_ENDPOINTS_SINCE)
