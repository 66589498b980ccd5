"""Two nodes' networks built from their configs talk to each other over loopback."""
from __future__ import annotations

import asyncio

import pytest

import loopback_ports

from kraft.protocol.messages import BeginQuorumEpochRequest, BeginQuorumEpochResponse
from kraft.server.config import ServerConfig
from kraft.server.network import NodeNetwork

TIMEOUT_S = 30


free_ports = loopback_ports.reserve


def node_config(node_id, ports, tmp_path, **extra):
    voters = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(ports))
    props = {
        "node.id": str(node_id),
        "listeners": f"CONTROLLER://127.0.0.1:{ports[node_id - 1]}",
        "controller.listener.names": "CONTROLLER",
        "controller.quorum.voters": voters,
        "log.dirs": str(tmp_path / f"n{node_id}"),
        **extra,
    }
    return ServerConfig.from_properties(props, warn=lambda message: None)


def begin_epoch(leader_id):
    return BeginQuorumEpochRequest(cluster_id="AAAAAAAAAAAAAAAAAAAAAA", topics=[BeginQuorumEpochRequest.TopicData(
        topic_name="__raft_performance_test", partitions=[BeginQuorumEpochRequest.PartitionData(
            partition_index=0, leader_id=leader_id, leader_epoch=3)])])


@pytest.mark.parametrize("v0_only_node", [None, 1, 2])
def test_nodes_exchange_requests_at_negotiated_versions(tmp_path, v0_only_node):
    ports = free_ports(2)
    switch = {"kraft.test.rpc.v0.only": "true"}
    configs = [node_config(i, ports, tmp_path, **(switch if i == v0_only_node else {})) for i in (1, 2)]
    seen = []

    def on_begin(context, request):
        seen.append((context.listener_name, context.client_id, context.api_version))
        partition = request.topics[0].partitions[0]
        return BeginQuorumEpochResponse(error_code=0, topics=[BeginQuorumEpochResponse.TopicData(
            topic_name="__raft_performance_test", partitions=[BeginQuorumEpochResponse.PartitionData(
                partition_index=0, error_code=0, leader_id=partition.leader_id,
                leader_epoch=partition.leader_epoch)])])

    async def scenario():
        one, two = NodeNetwork(configs[0]), NodeNetwork(configs[1])
        two.set_handler(53, on_begin)
        await one.start()
        await two.start()
        try:
            assert two.bound["CONTROLLER"] == ("127.0.0.1", ports[1])
            channel = one.channel_to_voter(2)
            assert one.channel_to("127.0.0.1", ports[1]) is channel
            version, response = await channel.request(53, begin_epoch(1))
            assert response.topics[0].partitions[0].leader_epoch == 3
            return version
        finally:
            await one.close()
            await two.close()

    version = asyncio.run(asyncio.wait_for(scenario(), TIMEOUT_S))
    assert version == (0 if v0_only_node else 1)
    assert seen == [("CONTROLLER", "raft-client-1", version)]


def test_only_advertised_apis_take_handlers(tmp_path):
    network = NodeNetwork(node_config(1, free_ports(2), tmp_path, **{"kraft.test.rpc.v0.only": "true"}))
    with pytest.raises(ValueError, match="80"):
        network.set_handler(80, lambda context, request: None)


def test_failed_connections_to_a_voter_are_reported_with_its_id(tmp_path):
    async def scenario():
        ports = free_ports(3)  # nothing listens on the other voters' ports: connections are refused
        network = NodeNetwork(node_config(1, ports, tmp_path))
        reported = []
        network.on_voter_unreachable = lambda voter_id, refused: reported.append((voter_id, refused))
        await network.start()
        try:
            with pytest.raises(Exception):
                await network.channel_to_voter(3).request(53, begin_epoch(1), timeout_ms=300)
            assert reported and set(reported) == {(3, True)}   # refused: nothing listens there
            # an address that is no voter's is not reported
            await network.channel_to_voter(3).close()
            reported.clear()
            stranger = free_ports(1)[0]
            with pytest.raises(Exception):
                await network.channel_to("127.0.0.1", stranger).request(53, begin_epoch(1), timeout_ms=200)
            assert reported == []
        finally:
            await network.close()
    asyncio.run(asyncio.wait_for(scenario(), TIMEOUT_S))
