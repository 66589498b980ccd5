"""FetchSnapshot: protocol messages <-> the core's ``FetchSnapshotRequest`` / ``FetchSnapshotResponse``.

The snapshot bytes (``UnalignedRecords``) pass through as the same buffer.
"""
from __future__ import annotations

import dataclasses

from kraft.core import rpc
from kraft.core.log import OffsetAndEpoch
from kraft.handlers._convert import (
    core_node_endpoints,
    wire_node_endpoints,
)
from kraft.protocol import messages

_NODE_ENDPOINTS_SINCE = 1


def _core_partition(name: str, partition) -> tuple:
    """One wire partition entry in the order of ``rpc.FetchSnapshotRequest.PARTITION_FIELDS``."""
    return (name, partition.partition, partition.current_leader_epoch,
            OffsetAndEpoch(partition.snapshot_id.end_offset, partition.snapshot_id.epoch), partition.position,
            partition.replica_directory_id)


def request_to_core(message: messages.FetchSnapshotRequest, api_version: int) -> rpc.FetchSnapshotRequest:
    """The first partition entry flattened, every later one in ``other_partitions``, and the shape."""
    entries = [_core_partition(topic.name, p) for topic in message.topics for p in topic.partitions]
    shape = dict(topic_count=len(message.topics),
                 first_topic_partition_count=len(message.topics[0].partitions) if message.topics else 0,
                 partition_count=len(entries))
    if not entries:
        return rpc.FetchSnapshotRequest(
            cluster_id=message.cluster_id, replica_id=message.replica_id, topic="", partition=-1,
            current_leader_epoch=-1, snapshot_id=OffsetAndEpoch(-1, -1), position=-1,
            max_bytes=message.max_bytes, api_version=api_version, **shape)
    first = dict(zip(rpc.FetchSnapshotRequest.PARTITION_FIELDS, entries[0]))
    return rpc.FetchSnapshotRequest(
        cluster_id=message.cluster_id, replica_id=message.replica_id, max_bytes=message.max_bytes,
        other_partitions=tuple(entries[1:]), api_version=api_version, **first, **shape)


def request_from_core(request: rpc.FetchSnapshotRequest) -> messages.FetchSnapshotRequest:
    """The wire request; consecutive entries of one topic share a topic (the core itself sends one)."""
    m = messages.FetchSnapshotRequest
    first = tuple(getattr(request, name) for name in rpc.FetchSnapshotRequest.PARTITION_FIELDS)
    topics = []
    entries = () if request.partition_count == 0 else (first,) + request.other_partitions
    for name, partition, epoch, snapshot_id, position, directory in entries:
        if not topics or topics[-1].name != name:
            topics.append(m.TopicSnapshot(name=name, partitions=[]))
        topics[-1].partitions.append(m.PartitionSnapshot(
            partition=partition, current_leader_epoch=epoch,
            snapshot_id=m.SnapshotId(end_offset=snapshot_id.offset, epoch=snapshot_id.epoch),
            position=position, replica_directory_id=directory))
    return m(cluster_id=request.cluster_id, replica_id=request.replica_id, max_bytes=request.max_bytes,
             topics=topics)


def response_to_core(message: messages.FetchSnapshotResponse, api_version: int) -> rpc.FetchSnapshotResponse:
    """The first partition entry flattened, every later one in ``other_partitions``, and the shape."""
    endpoints = core_node_endpoints(message.node_endpoints)
    count = sum(len(topic.partitions) for topic in message.topics)
    shape = dict(topic_count=len(message.topics),
                 first_topic_partition_count=len(message.topics[0].partitions) if message.topics else 0)
    entries = [rpc.FetchSnapshotResponse(
        error_code=message.error_code, topic=topic.name, partition=partition.index,
        partition_error=partition.error_code,
        snapshot_id=OffsetAndEpoch(partition.snapshot_id.end_offset, partition.snapshot_id.epoch),
        current_leader_id=partition.current_leader.leader_id,
        current_leader_epoch=partition.current_leader.leader_epoch, size=partition.size,
        position=partition.position,
        unaligned_records=b"" if partition.unaligned_records is None else partition.unaligned_records,
        node_endpoints=endpoints, partition_count=count, api_version=api_version, **shape)
        for topic in message.topics for partition in topic.partitions]
    if not entries:
        return rpc.FetchSnapshotResponse(error_code=message.error_code, node_endpoints=endpoints,
                                         partition_count=0, api_version=api_version)
    if len(entries) == 1:
        return entries[0]
    return dataclasses.replace(entries[0], other_partitions=tuple(entries[1:]))


def response_from_core(response: rpc.FetchSnapshotResponse) -> messages.FetchSnapshotResponse:
    m = messages.FetchSnapshotResponse
    topics = []
    for entry in (response, *response.other_partitions) if response.partition_count else ():
        partition = m.PartitionSnapshot(
            index=entry.partition, error_code=entry.partition_error,
            snapshot_id=m.SnapshotId(end_offset=entry.snapshot_id.offset, epoch=entry.snapshot_id.epoch),
            current_leader=m.LeaderIdAndEpoch(leader_id=entry.current_leader_id,
                                              leader_epoch=entry.current_leader_epoch),
            size=entry.size, position=entry.position, unaligned_records=entry.unaligned_records)
        if not topics or topics[-1].name != entry.topic:
            topics.append(m.TopicSnapshot(name=entry.topic, partitions=[]))
        topics[-1].partitions.append(partition)
    return m(error_code=response.error_code, topics=topics,
             node_endpoints=wire_node_endpoints(response.node_endpoints, m.NodeEndpoint,
                                                response.api_version, _NODE_ENDPOINTS_SINCE))
