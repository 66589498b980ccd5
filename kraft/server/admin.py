"""What Kafka's admin client needs from a controller (``--bootstrap-controller``, KIP-919).

Kafka's ``kafka-metadata-quorum --bootstrap-controller HOST:PORT describe --status``
first asks DescribeCluster (endpoint type 2, controllers) to learn the
controllers and which one is active, then sends DescribeQuorum for
``__cluster_metadata``-0 to the active one.

* :func:`describe_cluster` answers DescribeCluster as Kafka's ``ControllerApis``
  does (``AuthHelper.computeDescribeClusterResponse``): the voters that have an
  endpoint on the listener the request came in on, as "brokers" without rack;
  the leader as ``ControllerId`` (-1 when unknown or not listed); a request for
  another endpoint type is refused with MISMATCHED_ENDPOINT_TYPE (an unknown type
  with UNSUPPORTED_ENDPOINT_TYPE; INVALID_REQUEST for both at v0). There is no
  authorizer: the cluster operations are all those Kafka supports on a cluster.
* :func:`metadata_alias` lets DescribeQuorum for ``__cluster_metadata``-0 describe
  the one partition a node replicates when that is another topic (the test
  server's ``__raft_performance_test``): a node replicates exactly one partition,
  and it is that node's metadata quorum. Kafka's own TestRaftServer does not
  answer DescribeQuorum at all; this is a deliberate extension so that Kafka's
  tool describes a test-server quorum. The answer names the topic asked about.
"""
from __future__ import annotations

import dataclasses

from kraft.core import rpc
from kraft.protocol.api_keys import DESCRIBE_CLUSTER  # noqa: F401  (re-exported: admin.DESCRIBE_CLUSTER)
from kraft.protocol.errors import Errors
from kraft.protocol.messages import DescribeClusterRequest, DescribeClusterResponse

#: Kafka's ``EndpointType``: 1 brokers, 2 controllers (anything else is unknown).
ENDPOINT_BROKER = 1
ENDPOINT_CONTROLLER = 2
METADATA_TOPIC = "__cluster_metadata"
METADATA_PARTITION = 0
#: ``AclEntry.supportedOperations(CLUSTER)`` as Kafka's 32-bit field: CREATE, ALTER, DESCRIBE,
#: CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE (codes 5, 7-12).
CLUSTER_OPERATIONS = sum(1 << code for code in (5, 7, 8, 9, 10, 11, 12))
#: The schema's default for ``ClusterAuthorizedOperations`` when they are not asked for.
OPERATIONS_NOT_ASKED = -2147483648


def describe_cluster(node, listener_name: str, api_version: int,
                     request: DescribeClusterRequest) -> DescribeClusterResponse:
    """The controller's answer to DescribeCluster, from the node's voters and leader."""
    asked = request.endpoint_type if api_version >= 1 else ENDPOINT_BROKER
    if asked not in (ENDPOINT_BROKER, ENDPOINT_CONTROLLER):
        return DescribeClusterResponse(
            error_code=Errors.INVALID_REQUEST if api_version == 0 else Errors.UNSUPPORTED_ENDPOINT_TYPE,
            error_message=f"Unsupported endpoint type {asked}")
    if asked != ENDPOINT_CONTROLLER:
        return DescribeClusterResponse(
            error_code=Errors.INVALID_REQUEST if api_version == 0 else Errors.MISMATCHED_ENDPOINT_TYPE,
            error_message="The request was sent to an endpoint of type CONTROLLER, but we wanted an endpoint "
                          "of type BROKER")
    brokers = []
    for voter_id in sorted(node.voters.ids):
        endpoint = node.voters.endpoints(voter_id).address(listener_name)
        if endpoint is not None:
            brokers.append(DescribeClusterResponse.DescribeClusterBroker(
                broker_id=voter_id, host=endpoint.host, port=endpoint.port, rack=None))
    leader = node.leader_and_epoch().leader_id
    listed = {b.broker_id for b in brokers}
    return DescribeClusterResponse(
        throttle_time_ms=0, error_code=Errors.NONE, error_message=None, endpoint_type=ENDPOINT_CONTROLLER,
        cluster_id=node.cluster_id, controller_id=leader if leader in listed else -1, brokers=brokers,
        cluster_authorized_operations=CLUSTER_OPERATIONS if request.include_cluster_authorized_operations
        else OPERATIONS_NOT_ASKED)


def metadata_alias(node, request: rpc.DescribeQuorumRequest):
    """``(request for the node's own partition, topic name to answer with)`` or ``(request, None)``."""
    if (node.topic != METADATA_TOPIC and request.partition_count == 1 and request.topic == METADATA_TOPIC
            and request.partition == METADATA_PARTITION and node.partition == METADATA_PARTITION):
        own = dataclasses.replace(request, topic=node.topic,
                                  requested=((node.topic, (node.partition,)),) if request.requested else ())
        return own, METADATA_TOPIC
    return request, None


def answer_as(response: rpc.DescribeQuorumResponse, topic: str) -> rpc.DescribeQuorumResponse:
    """The response to an aliased request, under the topic name that was asked about."""
    echo = tuple((topic, indexes) for _name, indexes in response.echo) if response.echo else response.echo
    return dataclasses.replace(response, topic=topic, echo=echo)
