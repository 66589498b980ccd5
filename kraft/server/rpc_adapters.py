"""Kafka protocol messages to and from the Raft core's flat RPC types (:mod:`kraft.core.rpc`).

``to_core(message, api_version)`` turns a decoded request or response into the
core's type; ``to_protocol(rpc, api_version)`` builds the protocol message to
encode at ``api_version``.  Fields a version does not have are dropped by the
codec on the way out (all of them are ignorable or at their default), and come
in at the core's defaults.  Directory ids are ``uuid.UUID`` in the core and
:class:`kraft.protocol.uuid.Uuid` on the wire.
"""
from __future__ import annotations

import uuid

from kraft.core import rpc
from kraft.core.log import OffsetAndEpoch
from kraft.core.types import ZERO_UUID, Endpoint, Endpoints, NodeEndpoint, ReplicaKey
from kraft.protocol import messages as m
from kraft.protocol.uuid import Uuid


def _uuid_in(value: Uuid) -> uuid.UUID:
    return uuid.UUID(bytes=bytes(value))


def _uuid_out(value) -> Uuid:
    return Uuid(value.bytes if value is not None else ZERO_UUID.bytes)


def _first(items):
    """(first element or None, count)."""
    return (items[0] if items else None), len(items)


def _partition_shape(topics, partitions_attr: str):
    """The first topic and partition of a message, and how many topic/partition entries it held."""
    topic, _ = _first(topics)
    if topic is None:
        return None, None, 0
    count = sum(len(getattr(t, partitions_attr)) for t in topics)
    partition, _ = _first(getattr(topic, partitions_attr))
    return topic, partition, count


def _endpoints_in(entries) -> Endpoints:
    return Endpoints(Endpoint(e.name, e.host, e.port) for e in entries)


def _node_endpoints_in(entries) -> tuple:
    return tuple(NodeEndpoint(e.node_id, e.host, e.port) for e in entries)


# ----------------------------------------------------------------- requests in
def _vote_request(msg: m.VoteRequest, version: int) -> rpc.VoteRequest:
    topic, p, count = _partition_shape(msg.topics, "partitions")
    return rpc.VoteRequest(
        cluster_id=msg.cluster_id, topic=topic.topic_name if topic else "", partition=p.partition_index if p else 0,
        candidate_epoch=p.candidate_epoch if p else -1, candidate_id=p.candidate_id if p else -1,
        last_offset_epoch=p.last_offset_epoch if p else -1, last_offset=p.last_offset if p else -1,
        candidate_directory_id=_uuid_in(p.candidate_directory_id) if p else ZERO_UUID,
        voter_id=msg.voter_id, voter_directory_id=_uuid_in(p.voter_directory_id) if p else ZERO_UUID,
        partition_count=count if p else 0, api_version=version)


def _begin_request(msg: m.BeginQuorumEpochRequest, version: int) -> rpc.BeginQuorumEpochRequest:
    topic, p, count = _partition_shape(msg.topics, "partitions")
    return rpc.BeginQuorumEpochRequest(
        cluster_id=msg.cluster_id, topic=topic.topic_name if topic else "", partition=p.partition_index if p else 0,
        leader_id=p.leader_id if p else -1, leader_epoch=p.leader_epoch if p else -1, voter_id=msg.voter_id,
        voter_directory_id=_uuid_in(p.voter_directory_id) if p else ZERO_UUID,
        leader_endpoints=_endpoints_in(msg.leader_endpoints), partition_count=count if p else 0,
        api_version=version)


def _end_request(msg: m.EndQuorumEpochRequest, version: int) -> rpc.EndQuorumEpochRequest:
    topic, p, count = _partition_shape(msg.topics, "partitions")
    return rpc.EndQuorumEpochRequest(
        cluster_id=msg.cluster_id, topic=topic.topic_name if topic else "", partition=p.partition_index if p else 0,
        leader_id=p.leader_id if p else -1, leader_epoch=p.leader_epoch if p else -1,
        preferred_successors=tuple(p.preferred_successors) if p else (),
        preferred_candidates=tuple(ReplicaKey.of(c.candidate_id, _uuid_in(c.candidate_directory_id))
                                   for c in p.preferred_candidates) if p else (),
        leader_endpoints=_endpoints_in(msg.leader_endpoints), partition_count=count if p else 0,
        api_version=version)


def _fetch_request(msg: m.FetchRequest, version: int) -> rpc.FetchRequest:
    topic, p, count = _partition_shape(msg.topics, "partitions")
    replica_id = msg.replica_state.replica_id if version >= 15 else msg.replica_id
    return rpc.FetchRequest(
        cluster_id=msg.cluster_id, replica_id=replica_id,
        topic_id=_uuid_in(topic.topic_id) if topic else ZERO_UUID, partition=p.partition if p else 0,
        fetch_offset=p.fetch_offset if p else -1, last_fetched_epoch=p.last_fetched_epoch if p else -1,
        current_leader_epoch=p.current_leader_epoch if p else -1, max_wait_ms=msg.max_wait_ms,
        max_bytes=msg.max_bytes, replica_directory_id=_uuid_in(p.replica_directory_id) if p else ZERO_UUID,
        partition_count=count if p else 0, api_version=version)


def _fetch_snapshot_request(msg: m.FetchSnapshotRequest, version: int) -> rpc.FetchSnapshotRequest:
    topic, p, count = _partition_shape(msg.topics, "partitions")
    return rpc.FetchSnapshotRequest(
        cluster_id=msg.cluster_id, replica_id=msg.replica_id, topic=topic.name if topic else "",
        partition=p.partition if p else 0, current_leader_epoch=p.current_leader_epoch if p else -1,
        snapshot_id=OffsetAndEpoch(p.snapshot_id.end_offset, p.snapshot_id.epoch) if p else OffsetAndEpoch(-1, -1),
        position=p.position if p else -1, max_bytes=msg.max_bytes,
        replica_directory_id=_uuid_in(p.replica_directory_id) if p else ZERO_UUID,
        partition_count=count if p else 0, api_version=version)


# ---------------------------------------------------------------- responses in
def _vote_response(msg: m.VoteResponse, version: int) -> rpc.VoteResponse:
    topic, p, count = _partition_shape(msg.topics, "partitions")
    if p is None:
        return rpc.VoteResponse(error_code=msg.error_code, partition_count=0, api_version=version,
                                node_endpoints=_node_endpoints_in(msg.node_endpoints))
    return rpc.VoteResponse(
        error_code=msg.error_code, topic=topic.topic_name, partition=p.partition_index, partition_error=p.error_code,
        leader_id=p.leader_id, leader_epoch=p.leader_epoch, vote_granted=p.vote_granted,
        node_endpoints=_node_endpoints_in(msg.node_endpoints), partition_count=count, api_version=version)


def _simple_response(cls):
    def convert(msg, version: int):
        topic, p, count = _partition_shape(msg.topics, "partitions")
        if p is None:
            return cls(error_code=msg.error_code, partition_count=0, api_version=version,
                       node_endpoints=_node_endpoints_in(msg.node_endpoints))
        return cls(error_code=msg.error_code, topic=topic.topic_name, partition=p.partition_index,
                   partition_error=p.error_code, leader_id=p.leader_id, leader_epoch=p.leader_epoch,
                   node_endpoints=_node_endpoints_in(msg.node_endpoints), partition_count=count,
                   api_version=version)
    return convert


def _fetch_response(msg: m.FetchResponse, version: int) -> rpc.FetchResponse:
    topic, p, count = _partition_shape(msg.responses, "partitions")
    endpoints = _node_endpoints_in(msg.node_endpoints)
    if p is None:
        return rpc.FetchResponse(error_code=msg.error_code, partition_count=0, api_version=version,
                                 node_endpoints=endpoints)
    diverging = p.diverging_epoch
    snapshot = p.snapshot_id
    return rpc.FetchResponse(
        error_code=msg.error_code, topic_id=_uuid_in(topic.topic_id), partition=p.partition_index,
        partition_error=p.error_code, high_watermark=p.high_watermark, log_start_offset=p.log_start_offset,
        diverging_epoch=OffsetAndEpoch(diverging.end_offset, diverging.epoch)
        if (diverging.epoch, diverging.end_offset) != (-1, -1) else None,
        current_leader_id=p.current_leader.leader_id, current_leader_epoch=p.current_leader.leader_epoch,
        snapshot_id=OffsetAndEpoch(snapshot.end_offset, snapshot.epoch)
        if (snapshot.end_offset, snapshot.epoch) != (-1, -1) else None,
        records=p.records if p.records is not None else b"", node_endpoints=endpoints, partition_count=count,
        api_version=version)


def _fetch_snapshot_response(msg: m.FetchSnapshotResponse, version: int) -> rpc.FetchSnapshotResponse:
    topic, p, count = _partition_shape(msg.topics, "partitions")
    endpoints = _node_endpoints_in(msg.node_endpoints)
    if p is None:
        return rpc.FetchSnapshotResponse(error_code=msg.error_code, partition_count=0, api_version=version,
                                         node_endpoints=endpoints)
    return rpc.FetchSnapshotResponse(
        error_code=msg.error_code, topic=topic.name, partition=p.index, partition_error=p.error_code,
        snapshot_id=OffsetAndEpoch(p.snapshot_id.end_offset, p.snapshot_id.epoch),
        current_leader_id=p.current_leader.leader_id, current_leader_epoch=p.current_leader.leader_epoch,
        size=p.size, position=p.position, unaligned_records=p.unaligned_records,
        node_endpoints=endpoints, partition_count=count, api_version=version)


_TO_CORE = {
    m.VoteRequest: _vote_request,
    m.BeginQuorumEpochRequest: _begin_request,
    m.EndQuorumEpochRequest: _end_request,
    m.FetchRequest: _fetch_request,
    m.FetchSnapshotRequest: _fetch_snapshot_request,
    m.VoteResponse: _vote_response,
    m.BeginQuorumEpochResponse: _simple_response(rpc.BeginQuorumEpochResponse),
    m.EndQuorumEpochResponse: _simple_response(rpc.EndQuorumEpochResponse),
    m.FetchResponse: _fetch_response,
    m.FetchSnapshotResponse: _fetch_snapshot_response,
}


def to_core(message, api_version: int):
    """The core's RPC value for a decoded KRaft request or response."""
    try:
        convert = _TO_CORE[type(message)]
    except KeyError:
        raise TypeError(f"no core type for {type(message).__name__}") from None
    return convert(message, api_version)


# ------------------------------------------------------------------ to the wire
def _node_endpoints_out(cls, entries):
    return [cls.NodeEndpoint(node_id=e.node_id, host=e.host, port=e.port) for e in entries]


def _leader_endpoints_out(cls, endpoints: Endpoints):
    return [cls.LeaderEndpoint(name=e.name, host=e.host, port=e.port) for e in endpoints]


def _vote_request_out(r: rpc.VoteRequest):
    c = m.VoteRequest
    return c(cluster_id=r.cluster_id, voter_id=r.voter_id, topics=[c.TopicData(topic_name=r.topic, partitions=[
        c.PartitionData(partition_index=r.partition, candidate_epoch=r.candidate_epoch, candidate_id=r.candidate_id,
                        candidate_directory_id=_uuid_out(r.candidate_directory_id),
                        voter_directory_id=_uuid_out(r.voter_directory_id), last_offset_epoch=r.last_offset_epoch,
                        last_offset=r.last_offset)])])


def _begin_request_out(r: rpc.BeginQuorumEpochRequest):
    c = m.BeginQuorumEpochRequest
    return c(cluster_id=r.cluster_id, voter_id=r.voter_id, topics=[c.TopicData(topic_name=r.topic, partitions=[
        c.PartitionData(partition_index=r.partition, voter_directory_id=_uuid_out(r.voter_directory_id),
                        leader_id=r.leader_id, leader_epoch=r.leader_epoch)])],
             leader_endpoints=_leader_endpoints_out(c, r.leader_endpoints))


def _end_request_out(r: rpc.EndQuorumEpochRequest):
    c = m.EndQuorumEpochRequest
    return c(cluster_id=r.cluster_id, topics=[c.TopicData(topic_name=r.topic, partitions=[c.PartitionData(
        partition_index=r.partition, leader_id=r.leader_id, leader_epoch=r.leader_epoch,
        preferred_successors=list(r.preferred_successors),
        preferred_candidates=[c.ReplicaInfo(candidate_id=k.id, candidate_directory_id=_uuid_out(k.directory_id))
                              for k in r.preferred_candidates])])],
        leader_endpoints=_leader_endpoints_out(c, r.leader_endpoints))


def _fetch_request_out(r: rpc.FetchRequest, version: int):
    c = m.FetchRequest
    # The replica id moved from ReplicaId to the tagged ReplicaState in v15.
    return c(cluster_id=r.cluster_id, replica_id=r.replica_id if version < 15 else -1,
             replica_state=c.ReplicaState(replica_id=r.replica_id if version >= 15 else -1, replica_epoch=-1),
             max_wait_ms=r.max_wait_ms, min_bytes=0, max_bytes=r.max_bytes,
             topics=[c.FetchTopic(topic_id=_uuid_out(r.topic_id), partitions=[c.FetchPartition(
                 partition=r.partition, current_leader_epoch=r.current_leader_epoch, fetch_offset=r.fetch_offset,
                 last_fetched_epoch=r.last_fetched_epoch, log_start_offset=-1, partition_max_bytes=0,
                 replica_directory_id=_uuid_out(r.replica_directory_id))])])


def _fetch_snapshot_request_out(r: rpc.FetchSnapshotRequest):
    c = m.FetchSnapshotRequest
    return c(cluster_id=r.cluster_id, replica_id=r.replica_id, max_bytes=r.max_bytes,
             topics=[c.TopicSnapshot(name=r.topic, partitions=[c.PartitionSnapshot(
                 partition=r.partition, current_leader_epoch=r.current_leader_epoch,
                 snapshot_id=c.SnapshotId(end_offset=r.snapshot_id.offset, epoch=r.snapshot_id.epoch),
                 position=r.position, replica_directory_id=_uuid_out(r.replica_directory_id))])])


def _simple_response_out(cls, with_vote: bool = False):
    def convert(r):
        if r.partition_count == 0:
            return cls(error_code=r.error_code, node_endpoints=_node_endpoints_out(cls, r.node_endpoints))
        extra = {"vote_granted": r.vote_granted} if with_vote else {}
        return cls(error_code=r.error_code, topics=[cls.TopicData(topic_name=r.topic, partitions=[cls.PartitionData(
            partition_index=r.partition, error_code=r.partition_error, leader_id=r.leader_id,
            leader_epoch=r.leader_epoch, **extra)])], node_endpoints=_node_endpoints_out(cls, r.node_endpoints))
    return convert


def _fetch_response_out(r: rpc.FetchResponse):
    c = m.FetchResponse
    endpoints = [c.NodeEndpoint(node_id=e.node_id, host=e.host, port=e.port, rack=None) for e in r.node_endpoints]
    if r.partition_count == 0:
        return c(error_code=r.error_code, node_endpoints=endpoints)
    diverging = r.diverging_epoch
    snapshot = r.snapshot_id
    partition = c.PartitionData(
        partition_index=r.partition, error_code=r.partition_error, high_watermark=r.high_watermark,
        log_start_offset=r.log_start_offset,
        diverging_epoch=c.EpochEndOffset(epoch=diverging.epoch, end_offset=diverging.offset)
        if diverging is not None else c.EpochEndOffset(),
        current_leader=c.LeaderIdAndEpoch(leader_id=r.current_leader_id, leader_epoch=r.current_leader_epoch),
        snapshot_id=c.SnapshotId(end_offset=snapshot.offset, epoch=snapshot.epoch)
        if snapshot is not None else c.SnapshotId(),
        records=r.records)
    return c(error_code=r.error_code, responses=[c.FetchableTopicResponse(
        topic_id=_uuid_out(r.topic_id), partitions=[partition])], node_endpoints=endpoints)


def _fetch_snapshot_response_out(r: rpc.FetchSnapshotResponse):
    c = m.FetchSnapshotResponse
    endpoints = _node_endpoints_out(c, r.node_endpoints)
    if r.partition_count == 0:
        return c(error_code=r.error_code, node_endpoints=endpoints)
    return c(error_code=r.error_code, topics=[c.TopicSnapshot(name=r.topic, partitions=[c.PartitionSnapshot(
        index=r.partition, error_code=r.partition_error,
        snapshot_id=c.SnapshotId(end_offset=r.snapshot_id.offset, epoch=r.snapshot_id.epoch),
        current_leader=c.LeaderIdAndEpoch(leader_id=r.current_leader_id, leader_epoch=r.current_leader_epoch),
        size=r.size, position=r.position, unaligned_records=r.unaligned_records)])], node_endpoints=endpoints)


_TO_PROTOCOL = {
    rpc.VoteRequest: _vote_request_out,
    rpc.BeginQuorumEpochRequest: _begin_request_out,
    rpc.EndQuorumEpochRequest: _end_request_out,
    rpc.FetchSnapshotRequest: _fetch_snapshot_request_out,
    rpc.VoteResponse: _simple_response_out(m.VoteResponse, with_vote=True),
    rpc.BeginQuorumEpochResponse: _simple_response_out(m.BeginQuorumEpochResponse),
    rpc.EndQuorumEpochResponse: _simple_response_out(m.EndQuorumEpochResponse),
    rpc.FetchResponse: _fetch_response_out,
    rpc.FetchSnapshotResponse: _fetch_snapshot_response_out,
}


def to_protocol(value, api_version: int):
    """The protocol message for a core RPC value, to be encoded at ``api_version``."""
    if type(value) is rpc.FetchRequest:
        return _fetch_request_out(value, api_version)
    try:
        convert = _TO_PROTOCOL[type(value)]
    except KeyError:
        raise TypeError(f"no protocol message for {type(value).__name__}") from None
    message = convert(value)
    if hasattr(message, "node_endpoints") and api_version not in _NODE_ENDPOINTS_VERSIONS[type(message)]:
        # A response at a version without NodeEndpoints simply does not carry the leader's address.
        message.node_endpoints = []
    return message


_NODE_ENDPOINTS_VERSIONS = {
    cls: next(f.versions for f in cls._fields if f.attr == "node_endpoints")
    for cls in (m.VoteResponse, m.BeginQuorumEpochResponse, m.EndQuorumEpochResponse, m.FetchResponse,
                m.FetchSnapshotResponse)
}
