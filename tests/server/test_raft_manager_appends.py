"""RaftManager appends are always decided: an append whose leader stepped down before its records
reached the log (or whose records a truncation removed) fails at once with AppendLostError, instead
of waiting for the committed offset to pass an offset nobody will write (issue 18)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from kraft.core.roles import Follower
from kraft.core.types import Endpoint, Endpoints, LeaderAndEpoch
from kraft.records import encode_batch
from kraft.server.raft_manager import AppendLostError, RaftManager
from kraft.storage import FileReplicatedLog, LogConfig

from test_raft_manager import WAIT_S, free_ports, properties, run


def test_appends_dropped_by_a_resigning_leader_fail_at_once(tmp_path):
    """Eight appends wait in the leader's accumulator (a long linger) when it resigns; nothing else
    is written.  Without the fix seven of them waited for offsets no one would ever commit."""
    ports = free_ports(3)

    async def scenario():
        nodes = [RaftManager(properties(i, ports, tmp_path, **{"controller.quorum.append.linger.ms": "400"}))
                 for i in (1, 2, 3)]
        for node in nodes:
            await node.start()
        try:
            leader_id = (await nodes[0].wait_for_leader(WAIT_S)).leader_id
            leader = nodes[leader_id - 1]
            await leader.append([b"first"])  # the epoch is committed and working
            epoch = leader.leader_and_epoch().epoch
            tasks = [asyncio.ensure_future(leader.append([b"r%d" % i])) for i in range(8)]
            await asyncio.sleep(0)  # all eight are queued in the accumulator
            leader.client.resign(epoch)
            leader.wakeup()
            # Bounded: without the fix seven of these never return (nothing else is written).
            done, pending = await asyncio.wait(tasks, timeout=WAIT_S)
            assert not pending, f"{len(pending)} appends still pending after {WAIT_S} s"
            for task in done:
                with pytest.raises(AppendLostError):
                    task.result()
            # the quorum goes on: a new leader commits new appends
            new = await _wait_for_new_leader(nodes, epoch)
            assert await new.append([b"after"]) >= 0
        finally:
            for node in nodes:
                await node.close(timeout=0)
    run(scenario())


async def _wait_for_new_leader(nodes, old_epoch):
    async def poll():
        while True:
            for node in nodes:
                current = node.leader_and_epoch()
                if current.epoch > old_epoch and current.leader_id == node.node_id and node.high_watermark:
                    return node
            await asyncio.sleep(0.05)
    return await asyncio.wait_for(poll(), WAIT_S)


def test_an_append_truncated_from_the_log_fails_without_waiting_for_a_commit(tmp_path):
    """Node 1 led epoch 2 and wrote offsets 2-4; now it follows node 2 in epoch 3.  Its append at
    offset 4 stays pending while its log holds the records (the new leader may still commit them),
    and fails as soon as a truncation removes them, before any commit passes offset 4 (real log,
    stubbed client)."""
    log = FileReplicatedLog.open(tmp_path / "p-0", LogConfig(), time_ms=lambda: 0)
    log.append_as_follower(encode_batch([b"a", b"b"], base_offset=0, partition_leader_epoch=1, timestamp=0), 1)
    log.append_as_follower(encode_batch([b"x", b"y", b"z"], base_offset=2, partition_leader_epoch=2,
                                        timestamp=0), 2)
    log.update_high_watermark(2)

    async def scenario():
        manager = RaftManager(properties(1, [1, 2], tmp_path))
        manager._log = log
        role = Follower(3, 2, Endpoints([Endpoint("CONTROLLER", "127.0.0.1", 2)]), 0)
        manager.client = SimpleNamespace(node=SimpleNamespace(high_watermark=2, role=role),
                                         leader_and_epoch=lambda: LeaderAndEpoch(2, 3))
        loop = asyncio.get_running_loop()
        kept, dropped = loop.create_future(), loop.create_future()
        manager._waiting = [(4, 2, kept), (6, 2, dropped)]  # 6: never written (was in the accumulator)
        manager._after_round()
        assert not kept.done()
        with pytest.raises(AppendLostError, match="offset 6 in epoch 2"):
            dropped.result()
        log.truncate_to(3)  # the new leader's log diverges at offset 3
        manager._after_round()
        with pytest.raises(AppendLostError, match="offset 4 in epoch 2"):
            kept.result()
        assert manager._waiting == []
    run(scenario())
    log.close()
