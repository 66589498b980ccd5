"""Vote: protocol messages <-> the core's :class:`kraft.core.rpc.VoteRequest` / ``VoteResponse``."""
from __future__ import annotations

from kraft.core import rpc
from kraft.handlers._convert import (
    core_node_endpoints,
    first_partition,
    wire_node_endpoints,
)
from kraft.protocol import messages

_NODE_ENDPOINTS_SINCE = 1


def request_to_core(message: messages.VoteRequest, api_version: int) -> rpc.VoteRequest:
    topic, partition, count = first_partition(message.topics)
    if partition is None:
        return rpc.VoteRequest(cluster_id=message.cluster_id, topic="", partition=-1, candidate_epoch=-1,
                               candidate_id=-1, last_offset_epoch=-1, last_offset=-1,
                               voter_id=message.voter_id, partition_count=0, api_version=api_version)
    return rpc.VoteRequest(
        cluster_id=message.cluster_id, topic=topic.topic_name, partition=partition.partition_index,
        candidate_epoch=partition.candidate_epoch, candidate_id=partition.candidate_id,
        last_offset_epoch=partition.last_offset_epoch, last_offset=partition.last_offset,
        candidate_directory_id=partition.candidate_directory_id, voter_id=message.voter_id,
        voter_directory_id=partition.voter_directory_id, partition_count=count,
        api_version=api_version, pre_vote=partition.pre_vote)


def request_from_core(request: rpc.VoteRequest) -> messages.VoteRequest:
    m = messages.VoteRequest
    partition = m.PartitionData(
        partition_index=request.partition, candidate_epoch=request.candidate_epoch,
        candidate_id=request.candidate_id, candidate_directory_id=request.candidate_directory_id,
        voter_directory_id=request.voter_directory_id, last_offset_epoch=request.last_offset_epoch,
        last_offset=request.last_offset, pre_vote=request.pre_vote)
    return m(cluster_id=request.cluster_id, voter_id=request.voter_id,
             topics=[m.TopicData(topic_name=request.topic, partitions=[partition])])


def response_to_core(message: messages.VoteResponse, api_version: int) -> rpc.VoteResponse:
    topic, partition, count = first_partition(message.topics)
    endpoints = core_node_endpoints(message.node_endpoints)
    if partition is None:
        return rpc.VoteResponse(error_code=message.error_code, node_endpoints=endpoints, partition_count=0,
                                api_version=api_version)
    return rpc.VoteResponse(
        error_code=message.error_code, topic=topic.topic_name, partition=partition.partition_index,
        partition_error=partition.error_code, leader_id=partition.leader_id, leader_epoch=partition.leader_epoch,
        vote_granted=partition.vote_granted, node_endpoints=endpoints, partition_count=count,
        api_version=api_version)


def response_from_core(response: rpc.VoteResponse) -> messages.VoteResponse:
    m = messages.VoteResponse
    topics = []
    if response.partition_count:
        partition = m.PartitionData(
            partition_index=response.partition, error_code=response.partition_error, leader_id=response.leader_id,
            leader_epoch=response.leader_epoch, vote_granted=response.vote_granted)
        topics.append(m.TopicData(topic_name=response.topic, partitions=[partition]))
    return m(error_code=response.error_code, topics=topics,
             node_endpoints=wire_node_endpoints(response.node_endpoints, m.NodeEndpoint,
                                                response.api_version, _NODE_ENDPOINTS_SINCE))
