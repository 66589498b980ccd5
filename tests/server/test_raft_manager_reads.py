"""Reads that see the writes: wait_for_committed on any node, the leader's read barrier (real nodes on
loopback)."""
from __future__ import annotations

import asyncio

import pytest

from kraft.core.errors import NotLeaderError
from kraft.server.raft_manager import RaftManager

from test_raft_manager import WAIT_S, Recorder, append_to_leader, free_ports, properties, run


def test_followers_read_their_writes_and_the_leader_confirms_reads_with_a_majority(tmp_path):
    ports = free_ports(3)

    async def scenario():
        nodes = [RaftManager(properties(i, ports, tmp_path)) for i in (1, 2, 3)]
        recorders = {node.node_id: Recorder() for node in nodes}
        for node in nodes:
            node.register(recorders[node.node_id])
            await node.start()
        try:
            await nodes[0].wait_for_leader(WAIT_S)
            for i in range(10):
                leader, offset = await append_to_leader(nodes, [b"w%d" % i])
                reader = nodes[i % 3]  # a follower most of the time
                assert await reader.wait_for_committed(offset, timeout=WAIT_S) == offset
                # its listener has been handed the write already: no polling needed
                assert b"w%d" % i in recorders[reader.node_id].records
                assert reader.delivered_offset() > offset
            assert await nodes[0].wait_for_committed(-1) == -1

            leader, last = await append_to_leader(nodes, [b"last"])
            read_at = await leader.read_barrier(timeout=WAIT_S)
            assert last <= read_at < leader.high_watermark
            assert recorders[leader.node_id].records[-1] == b"last"
            follower = next(n for n in nodes if n is not leader)
            with pytest.raises(NotLeaderError) as refused:
                await follower.read_barrier()
            assert refused.value.leader_id in (None, leader.node_id)

            # Without its followers the leader cannot confirm: the barrier fails (it resigns at its
            # check-quorum timeout) instead of answering from a possibly stale state.
            for node in nodes:
                if node is not leader:
                    await node.close(timeout=0)
            with pytest.raises(NotLeaderError):
                await leader.read_barrier(timeout=WAIT_S)
        finally:
            for node in nodes:
                await node.close(timeout=0)
    run(scenario())
