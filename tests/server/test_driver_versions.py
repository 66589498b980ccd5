"""The version of the first request a node sends to a peer: the newest both support.

Kafka's NetworkClient (used by every Kafka KRaft node, with discoverBrokerVersions on) sends
nothing on a new connection before its ApiVersions exchange completes, and then builds each
request at the newest version both sides support.  A kraft node must do the same: a peer that
dropped old versions (Kafka 4.x refuses Fetch v0-3) or that expects the newer fields (Vote v1's
voter id) must not get the oldest version first.
"""
from __future__ import annotations

import asyncio

from kraft.protocol.messages import VoteResponse
from kraft.server.config import ServerConfig
from kraft.server.network import NodeNetwork
from kraft.server.raft_manager import RaftManager

from test_raft_manager import free_ports, properties

WAIT_S = 30


def test_first_vote_to_a_peer_goes_at_the_newest_common_version(tmp_path):
    """Node 1 of two voters times out and asks node 2 (a bare network that records) for its vote."""
    ports = free_ports(2)
    seen = []

    def on_vote(context, request):
        seen.append(context.api_version)
        return VoteResponse(error_code=0, topics=[VoteResponse.TopicData(
            topic_name="__raft_performance_test", partitions=[VoteResponse.PartitionData(
                partition_index=0, error_code=0, leader_id=-1,
                leader_epoch=request.topics[0].partitions[0].candidate_epoch, vote_granted=False)])])

    async def scenario():
        peer = NodeNetwork(ServerConfig.from_properties(properties(2, ports, tmp_path), warn=lambda m: None))
        peer.set_handler(52, on_vote)
        await peer.start()
        try:
            async with RaftManager(properties(1, ports, tmp_path)):
                for _ in range(WAIT_S * 20):
                    if seen:
                        break
                    await asyncio.sleep(0.05)
        finally:
            await peer.close()

    asyncio.run(asyncio.wait_for(scenario(), 2 * WAIT_S))
    assert seen, "node 1 never asked for a vote"
    # both serve Vote v2 (pre-vote): every Vote goes at v2, pre-vote or not
    assert seen[0] == 2, f"versions of the Vote requests received: {seen}"
    assert set(seen) == {2}
