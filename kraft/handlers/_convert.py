"""Conversions shared by the adapters: endpoints and the single topic-partition."""
from __future__ import annotations

from kraft.core.types import Endpoint, Endpoints, NodeEndpoint

#: Kafka's metadata topic, the topic name the adapters write where a message names its topic.
METADATA_TOPIC = "__cluster_metadata"


def first_partition(topics, partitions_attr: str = "partitions"):
    """``(topic, partition, count)``: the first topic and partition entry and how many partitions there are.

    ``topic`` and ``partition`` are ``None`` when the message holds no partition.
    """
    count = sum(len(getattr(t, partitions_attr)) for t in topics)
    for topic in topics:
        partitions = getattr(topic, partitions_attr)
        if partitions:
            return topic, partitions[0], count
    return None, None, count


def core_endpoints(entries) -> Endpoints:
    """``LeaderEndpoints`` entries (name, host, port) as the core's :class:`Endpoints`."""
    return Endpoints(Endpoint(e.name, e.host, e.port) for e in entries)


def wire_endpoints(endpoints: Endpoints, entry_class) -> list:
    """The core's :class:`Endpoints` as ``LeaderEndpoints`` entries of ``entry_class``."""
    return [entry_class(name=e.name, host=e.host, port=e.port) for e in endpoints]


def core_node_endpoints(entries) -> tuple:
    """``NodeEndpoints`` entries of a response as the core's :class:`NodeEndpoint` tuple."""
    return tuple(NodeEndpoint(e.node_id, e.host, e.port) for e in entries)


def wire_node_endpoints(node_endpoints, entry_class, version: int, min_version: int) -> list:
    """The core's node endpoints as ``NodeEndpoints`` entries, or none below ``min_version``."""
    if version < min_version:
        return []
    return [entry_class(node_id=e.node_id, host=e.host, port=e.port) for e in node_endpoints]


def epoch_response_to_core(message, api_version: int, core_class):
    """Begin/EndQuorumEpoch responses share one shape: the first partition's leader view."""
    topic, partition, count = first_partition(message.topics)
    endpoints = core_node_endpoints(message.node_endpoints)
    if partition is None:
        return core_class(error_code=message.error_code, node_endpoints=endpoints,
                          partition_count=0, api_version=api_version)
    return core_class(
        error_code=message.error_code, topic=topic.topic_name, partition=partition.partition_index,
        partition_error=partition.error_code, leader_id=partition.leader_id, leader_epoch=partition.leader_epoch,
        node_endpoints=endpoints, partition_count=count, api_version=api_version)


def epoch_response_from_core(response, wire_class, node_endpoints_since: int):
    """The wire form of a Begin/EndQuorumEpoch response (see :func:`epoch_response_to_core`)."""
    topics = []
    if response.partition_count:
        partition = wire_class.PartitionData(
            partition_index=response.partition, error_code=response.partition_error,
            leader_id=response.leader_id, leader_epoch=response.leader_epoch)
        topics.append(wire_class.TopicData(topic_name=response.topic, partitions=[partition]))
    return wire_class(error_code=response.error_code, topics=topics,
                      node_endpoints=wire_node_endpoints(response.node_endpoints, wire_class.NodeEndpoint,
                                                         response.api_version, node_endpoints_since))


# AddRaftVoter and RemoveRaftVoter (KIP-853) name a voter the same way and answer the same way.
def voter_fields(message) -> dict:
    """The cluster id and voter key of an Add/RemoveRaftVoter request, as keyword arguments for
    either side's class."""
    return dict(cluster_id=message.cluster_id, voter_id=message.voter_id,
                voter_directory_id=message.voter_directory_id)


def voter_change_response_to_core(message, api_version: int, core_class):
    """An Add/RemoveRaftVoter response (an error code and message) as the core's ``core_class``."""
    return core_class(error_code=message.error_code, error_message=message.error_message, api_version=api_version)


def voter_change_response_from_core(response, wire_class):
    """The wire form of an Add/RemoveRaftVoter response (never throttled)."""
    return wire_class(throttle_time_ms=0, error_code=response.error_code, error_message=response.error_message)
