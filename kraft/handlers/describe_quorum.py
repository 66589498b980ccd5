"""DescribeQuorum: protocol messages <-> the core's ``DescribeQuorumRequest`` / ``DescribeQuorumResponse``.

Version differences are Kafka's: v1 adds the fetch and caught-up timestamps,
v2 the replica directory ids, the error messages and the ``Nodes`` with their
listeners.  Fields a version lacks are dropped when writing and read back at
their defaults.
"""
from __future__ import annotations

from kraft.core import rpc
from kraft.core.types import Endpoint, Endpoints
from kraft.handlers._convert import first_partition
from kraft.protocol import messages
from kraft.protocol.uuid import Uuid

_TIMESTAMPS_SINCE = 1
_V2 = 2


def request_to_core(message: messages.DescribeQuorumRequest, api_version: int) -> rpc.DescribeQuorumRequest:
    topic, partition, count = first_partition(message.topics)
    requested = tuple((t.topic_name, tuple(p.partition_index for p in t.partitions)) for t in message.topics)
    if partition is None:
        return rpc.DescribeQuorumRequest(topic="", partition=-1, partition_count=0, api_version=api_version,
                                         requested=requested)
    return rpc.DescribeQuorumRequest(topic=topic.topic_name, partition=partition.partition_index,
                                     partition_count=count, api_version=api_version, requested=requested)


def request_from_core(request: rpc.DescribeQuorumRequest) -> messages.DescribeQuorumRequest:
    m = messages.DescribeQuorumRequest
    requested = request.requested or ((request.topic, (request.partition,)),)
    return m(topics=[m.TopicData(topic_name=name, partitions=[m.PartitionData(partition_index=i) for i in indexes])
                     for name, indexes in requested])


def _core_state(state, api_version: int) -> rpc.ReplicaState:
    if api_version >= _TIMESTAMPS_SINCE:
        fetched, caught_up = state.last_fetch_timestamp, state.last_caught_up_timestamp
    else:
        fetched = caught_up = -1
    return rpc.ReplicaState(
        replica_id=state.replica_id, log_end_offset=state.log_end_offset, last_fetch_timestamp=fetched,
        last_caught_up_timestamp=caught_up,
        replica_directory_id=state.replica_directory_id if api_version >= _V2 else Uuid.ZERO)


def _wire_state(state: rpc.ReplicaState, api_version: int):
    fields = dict(replica_id=state.replica_id, log_end_offset=state.log_end_offset)
    if api_version >= _TIMESTAMPS_SINCE:
        fields.update(last_fetch_timestamp=state.last_fetch_timestamp,
                      last_caught_up_timestamp=state.last_caught_up_timestamp)
    if api_version >= _V2:
        fields.update(replica_directory_id=state.replica_directory_id)
    return messages.DescribeQuorumResponse.ReplicaState(**fields)


def response_to_core(message: messages.DescribeQuorumResponse, api_version: int) -> rpc.DescribeQuorumResponse:
    v2 = api_version >= _V2
    nodes = tuple((n.node_id, Endpoints(Endpoint(lst.name, lst.host, lst.port) for lst in n.listeners))
                  for n in message.nodes) if v2 else ()
    top_message = message.error_message if v2 else None
    topic, partition, count = first_partition(message.topics)
    if partition is None:
        return rpc.DescribeQuorumResponse(error_code=message.error_code, error_message=top_message, nodes=nodes,
                                          partition_count=0, api_version=api_version)
    return rpc.DescribeQuorumResponse(
        error_code=message.error_code, error_message=top_message, topic=topic.topic_name,
        partition=partition.partition_index, partition_error=partition.error_code,
        partition_error_message=partition.error_message if v2 else None, leader_id=partition.leader_id,
        leader_epoch=partition.leader_epoch, high_watermark=partition.high_watermark,
        current_voters=tuple(_core_state(s, api_version) for s in partition.current_voters),
        observers=tuple(_core_state(s, api_version) for s in partition.observers),
        nodes=nodes, partition_count=count, api_version=api_version)


def response_from_core(response: rpc.DescribeQuorumResponse) -> messages.DescribeQuorumResponse:
    m = messages.DescribeQuorumResponse
    version = response.api_version
    v2 = version >= _V2
    topics = []
    if response.echo:
        message = response.partition_error_message if v2 else None
        topics = [m.TopicData(topic_name=name, partitions=[
            m.PartitionData(partition_index=index, error_code=response.partition_error, error_message=message)
            for index in indexes]) for name, indexes in response.echo]
    elif response.partition_count:
        partition = m.PartitionData(
            partition_index=response.partition, error_code=response.partition_error,
            error_message=response.partition_error_message if v2 else None,
            leader_id=response.leader_id, leader_epoch=response.leader_epoch,
            high_watermark=response.high_watermark,
            current_voters=[_wire_state(s, version) for s in response.current_voters],
            observers=[_wire_state(s, version) for s in response.observers])
        topics.append(m.TopicData(topic_name=response.topic, partitions=[partition]))
    nodes = [m.Node(node_id=node_id, listeners=[m.Listener(name=e.name, host=e.host, port=e.port) for e in endpoints])
             for node_id, endpoints in response.nodes] if v2 else []
    return m(error_code=response.error_code, error_message=response.error_message if v2 else None,
             topics=topics, nodes=nodes)
