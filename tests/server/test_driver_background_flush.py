"""The driver's background flush of the leader's log (QuorumConfig.leader_flush_async, on in the server):
real nodes, sockets and files; the flush thread's fsync is held at a gate the test opens."""
from __future__ import annotations

import asyncio
import os
import threading

from kraft.server import driver as driver_mod
from kraft.server.raft_manager import RaftManager

from test_raft_manager import WAIT_S, Recorder, _until, append_to_leader, free_ports, properties, run


class FsyncGate:
    """Stands for the flush thread's fsync: while closed, each call waits until the gate opens."""

    def __init__(self):
        self.open = threading.Event()
        self.open.set()
        self.waiting = threading.Event()
        self.calls = 0

    def __call__(self, fd):
        self.calls += 1
        if not self.open.is_set():
            self.waiting.set()
            self.open.wait(WAIT_S * 4)     # bounded: a broken test cannot hang the run
        os.fsync(fd)


def test_fetches_are_answered_while_the_leaders_flush_runs_and_the_high_watermark_waits_for_it(tmp_path, monkeypatch):
    gate = FsyncGate()
    monkeypatch.setattr(driver_mod, "_fsync", gate)
    ports = free_ports(3)

    async def scenario():
        nodes = [RaftManager(properties(i, ports, tmp_path)) for i in (1, 2, 3)]
        for node in nodes:
            node.register(Recorder())
            await node.start()
        closed = []
        try:
            leader, _ = await append_to_leader(nodes, [b"before"])
            assert gate.calls > 0        # the leader's flushes go through the flush thread
            # keep one follower: the leader's own position is then needed for a majority
            follower, other = [n for n in nodes if n is not leader]
            await other.close(timeout=0)
            closed.append(other)
            leader_log, follower_log = leader._log, follower._log
            await _until(lambda: follower_log.end_offset == leader_log.end_offset
                         and leader.high_watermark == leader_log.end_offset)
            flushed = leader_log.last_flushed_offset
            gate.open.clear()
            append = asyncio.get_running_loop().create_task(leader.append([b"during-1", b"during-2"]))
            await _until(lambda: gate.waiting.is_set())
            end = leader_log.end_offset
            assert end > flushed
            # the Fetch response carrying the new records went out while the fsync is held ...
            await _until(lambda: follower_log.end_offset == end)
            # ... and the follower's next Fetch told the leader it has them all (and flushed them)
            progress = leader._driver.client.node.role.voters[follower.node_id]
            await _until(lambda: progress.end_offset == end)
            assert gate.waiting.is_set() and not gate.open.is_set()
            assert leader_log.last_flushed_offset == flushed < end
            assert leader.high_watermark <= flushed and leader_log.high_watermark <= flushed
            assert not append.done()
            gate.open.set()
            offset = await asyncio.wait_for(append, WAIT_S)
            assert offset == end - 1 and leader.high_watermark >= end
            assert leader_log.last_flushed_offset >= end
        finally:
            gate.open.set()
            for node in nodes:
                if node not in closed:
                    await node.close(timeout=0)
    run(scenario())
