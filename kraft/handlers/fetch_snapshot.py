"""FetchSnapshot: protocol messages <-> the core's ``FetchSnapshotRequest`` / ``FetchSnapshotResponse``.

The snapshot bytes (``UnalignedRecords``) pass through as the same buffer.
"""
from __future__ import annotations

from kraft.core import rpc
from kraft.core.log import OffsetAndEpoch
from kraft.handlers._convert import (
    core_node_endpoints,
    core_uuid,
    first_partition,
    wire_node_endpoints,
    wire_uuid,
)
from kraft.protocol import messages

_NODE_ENDPOINTS_SINCE = 1


def request_to_core(message: messages.FetchSnapshotRequest, api_version: int) -> rpc.FetchSnapshotRequest:
    topic, partition, count = first_partition(message.topics)
    if partition is None:
        return rpc.FetchSnapshotRequest(
            cluster_id=message.cluster_id, replica_id=message.replica_id, topic="", partition=-1,
            current_leader_epoch=-1, snapshot_id=OffsetAndEpoch(-1, -1), position=-1,
            max_bytes=message.max_bytes, partition_count=0, api_version=api_version)
    return rpc.FetchSnapshotRequest(
        cluster_id=message.cluster_id, replica_id=message.replica_id, topic=topic.name,
        partition=partition.partition, current_leader_epoch=partition.current_leader_epoch,
        snapshot_id=OffsetAndEpoch(partition.snapshot_id.end_offset, partition.snapshot_id.epoch),
        position=partition.position, max_bytes=message.max_bytes,
        replica_directory_id=core_uuid(partition.replica_directory_id), partition_count=count,
        api_version=api_version)


def request_from_core(request: rpc.FetchSnapshotRequest) -> messages.FetchSnapshotRequest:
    m = messages.FetchSnapshotRequest
    partition = m.PartitionSnapshot(
        partition=request.partition, current_leader_epoch=request.current_leader_epoch,
        snapshot_id=m.SnapshotId(end_offset=request.snapshot_id.offset, epoch=request.snapshot_id.epoch),
        position=request.position, replica_directory_id=wire_uuid(request.replica_directory_id))
    return m(cluster_id=request.cluster_id, replica_id=request.replica_id, max_bytes=request.max_bytes,
             topics=[m.TopicSnapshot(name=request.topic, partitions=[partition])])


def response_to_core(message: messages.FetchSnapshotResponse, api_version: int) -> rpc.FetchSnapshotResponse:
    topic, partition, count = first_partition(message.topics)
    endpoints = core_node_endpoints(message.node_endpoints)
    if partition is None:
        return rpc.FetchSnapshotResponse(error_code=message.error_code, node_endpoints=endpoints,
                                         partition_count=0, api_version=api_version)
    return rpc.FetchSnapshotResponse(
        error_code=message.error_code, topic=topic.name, partition=partition.index,
        partition_error=partition.error_code,
        snapshot_id=OffsetAndEpoch(partition.snapshot_id.end_offset, partition.snapshot_id.epoch),
        current_leader_id=partition.current_leader.leader_id,
        current_leader_epoch=partition.current_leader.leader_epoch, size=partition.size,
        position=partition.position,
        unaligned_records=b"" if partition.unaligned_records is None else partition.unaligned_records,
        node_endpoints=endpoints, partition_count=count, api_version=api_version)


def response_from_core(response: rpc.FetchSnapshotResponse) -> messages.FetchSnapshotResponse:
    m = messages.FetchSnapshotResponse
    topics = []
    if response.partition_count:
        partition = m.PartitionSnapshot(
            index=response.partition, error_code=response.partition_error,
            snapshot_id=m.SnapshotId(end_offset=response.snapshot_id.offset, epoch=response.snapshot_id.epoch),
            current_leader=m.LeaderIdAndEpoch(leader_id=response.current_leader_id,
                                              leader_epoch=response.current_leader_epoch),
            size=response.size, position=response.position, unaligned_records=response.unaligned_records)
        topics.append(m.TopicSnapshot(name=response.topic, partitions=[partition]))
    return m(error_code=response.error_code, topics=topics,
             node_endpoints=wire_node_endpoints(response.node_endpoints, m.NodeEndpoint,
                                                response.api_version, _NODE_ENDPOINTS_SINCE))
