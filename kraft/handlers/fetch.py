"""Fetch: protocol messages <-> the core's :class:`kraft.core.rpc.FetchRequest` / ``FetchResponse``.

Requests are written as Kafka's raft client writes them: the replica id in
``ReplicaState`` from v15 (in ``ReplicaId`` before), ``MinBytes`` 0,
``PartitionMaxBytes`` 0 and ``LogStartOffset`` -1.  The records of a response
pass through as the same buffer in both directions.
"""
from __future__ import annotations

from kraft.core import rpc
from kraft.core.log import OffsetAndEpoch
from kraft.handlers._convert import (
    METADATA_TOPIC,
    core_node_endpoints,
    first_partition,
    wire_node_endpoints,
)
from kraft.protocol import messages
from kraft.protocol.uuid import Uuid

_REPLICA_STATE_SINCE = 15
_NODE_ENDPOINTS_SINCE = 16


def request_to_core(message: messages.FetchRequest, api_version: int) -> rpc.FetchRequest:
    replica_id = message.replica_state.replica_id if api_version >= _REPLICA_STATE_SINCE else message.replica_id
    topic, partition, count = first_partition(message.topics)
    if partition is None:
        return rpc.FetchRequest(
            cluster_id=message.cluster_id, replica_id=replica_id, topic_id=Uuid.ZERO, partition=-1,
            fetch_offset=-1, last_fetched_epoch=-1, current_leader_epoch=-1, max_wait_ms=message.max_wait_ms,
            max_bytes=message.max_bytes, partition_count=0, api_version=api_version)
    return rpc.FetchRequest(
        cluster_id=message.cluster_id, replica_id=replica_id, topic_id=topic.topic_id,
        partition=partition.partition, fetch_offset=partition.fetch_offset,
        last_fetched_epoch=partition.last_fetched_epoch, current_leader_epoch=partition.current_leader_epoch,
        max_wait_ms=message.max_wait_ms, max_bytes=message.max_bytes,
        replica_directory_id=partition.replica_directory_id, partition_count=count,
        api_version=api_version, high_watermark=partition.high_watermark)


def request_from_core(request: rpc.FetchRequest, topic_name: str = METADATA_TOPIC) -> messages.FetchRequest:
    """The Fetch request; ``topic_name`` is written only by versions before 13, which name topics."""
    m = messages.FetchRequest
    partition = m.FetchPartition(
        partition=request.partition, current_leader_epoch=request.current_leader_epoch,
        fetch_offset=request.fetch_offset, last_fetched_epoch=request.last_fetched_epoch, log_start_offset=-1,
        partition_max_bytes=0, replica_directory_id=request.replica_directory_id,
        high_watermark=request.high_watermark)
    message = m(cluster_id=request.cluster_id, max_wait_ms=request.max_wait_ms, min_bytes=0,
                max_bytes=request.max_bytes,
                topics=[m.FetchTopic(topic=topic_name, topic_id=request.topic_id, partitions=[partition])])
    if request.api_version >= _REPLICA_STATE_SINCE:
        message.replica_state = m.ReplicaState(replica_id=request.replica_id)
    else:
        message.replica_id = request.replica_id
    return message


def response_to_core(message: messages.FetchResponse, api_version: int) -> rpc.FetchResponse:
    topic, partition, count = first_partition(message.responses)
    endpoints = core_node_endpoints(message.node_endpoints)
    if partition is None:
        return rpc.FetchResponse(error_code=message.error_code, node_endpoints=endpoints, partition_count=0,
                                 api_version=api_version)
    diverging = partition.diverging_epoch
    snapshot = partition.snapshot_id
    return rpc.FetchResponse(
        error_code=message.error_code, topic_id=topic.topic_id, partition=partition.partition_index,
        partition_error=partition.error_code, high_watermark=partition.high_watermark,
        log_start_offset=partition.log_start_offset,
        diverging_epoch=OffsetAndEpoch(diverging.end_offset, diverging.epoch) if diverging.epoch >= 0 else None,
        current_leader_id=partition.current_leader.leader_id,
        current_leader_epoch=partition.current_leader.leader_epoch,
        snapshot_id=(OffsetAndEpoch(snapshot.end_offset, snapshot.epoch)
                     if snapshot.epoch >= 0 or snapshot.end_offset >= 0 else None),
        records=b"" if partition.records is None else partition.records,
        node_endpoints=endpoints, partition_count=count, api_version=api_version)


def response_from_core(response: rpc.FetchResponse, topic_name: str = METADATA_TOPIC) -> messages.FetchResponse:
    """The Fetch response; ``topic_name`` is written only by versions before 13."""
    m = messages.FetchResponse
    responses = []
    if response.partition_count:
        partition = m.PartitionData(
            partition_index=response.partition, error_code=response.partition_error,
            high_watermark=response.high_watermark, log_start_offset=response.log_start_offset,
            current_leader=m.LeaderIdAndEpoch(leader_id=response.current_leader_id,
                                              leader_epoch=response.current_leader_epoch),
            records=response.records)
        if response.diverging_epoch is not None:
            partition.diverging_epoch = m.EpochEndOffset(epoch=response.diverging_epoch.epoch,
                                                         end_offset=response.diverging_epoch.offset)
        if response.snapshot_id is not None:
            partition.snapshot_id = m.SnapshotId(end_offset=response.snapshot_id.offset,
                                                 epoch=response.snapshot_id.epoch)
        responses.append(m.FetchableTopicResponse(topic=topic_name, topic_id=response.topic_id,
                                                  partitions=[partition]))
    return m(error_code=response.error_code, responses=responses,
             node_endpoints=wire_node_endpoints(response.node_endpoints, m.NodeEndpoint,
                                                response.api_version, _NODE_ENDPOINTS_SINCE))
