"""The state-machine helper: apply / snapshot / restore, snapshots written by bytes or by time and
restored on start, on real nodes and log directories."""
from __future__ import annotations

import asyncio

import kraft
from kraft.server.raft_manager import RaftManager
from kraft.server.state_machine import SNAPSHOT_CHUNK_BYTES, StateMachineRunner

from test_raft_manager import WAIT_S, append_to_leader, free_ports, properties, run


class KeyValues:
    """``key=value`` records into a dict; the snapshot is the sorted lines."""

    def __init__(self):
        self.data = {}
        self.restored = []
        self.leaders = []

    def apply(self, record):
        key, _, value = record.partition(b"=")
        self.data[key] = value

    def snapshot(self):
        return b"\n".join(k + b"=" + v for k, v in sorted(self.data.items()))

    def leader_changed(self, leader):
        self.leaders.append(leader)

    def restore(self, data):
        self.restored.append(len(data))
        self.data = {}
        for line in data.split(b"\n") if data else ():
            self.apply(line)


def test_the_package_exports_the_helper():
    assert kraft.StateMachineRunner is StateMachineRunner


def test_a_state_machine_is_snapshotted_by_bytes_and_restored_after_a_restart(tmp_path):
    port = free_ports(1)
    big = b"x" * (SNAPSHOT_CHUNK_BYTES + 10)  # the state spans several snapshot records

    async def scenario():
        machine = KeyValues()
        async with RaftManager(properties(1, port, tmp_path)) as node:
            runner = node.run_state_machine(machine, max_bytes_between_snapshots=2000)
            await node.wait_for_leader(WAIT_S)
            await node.append([b"big=" + big])
            for i in range(100):
                await node.append([b"k%d=v%d" % (i % 30, i)])
            await node.wait_for_committed(await node.append([b"last=1"]))
            assert runner.snapshots_written >= 2
            snapshot = node.client.latest_snapshot_id()
            assert snapshot is not None and snapshot.offset <= node.high_watermark
            expected = dict(machine.data)
        assert expected[b"big"] == big and expected[b"k29"] == b"v89"

        again = KeyValues()
        async with RaftManager(properties(1, port, tmp_path)) as node:
            runner = node.run_state_machine(again, max_bytes_between_snapshots=2000)
            await node.wait_for_leader(WAIT_S)
            await node.wait_for_committed(await node.append([b"after=restart"]))
            assert again.restored and again.restored[0] > len(big)  # restored from the snapshot...
            assert runner.snapshots_restored == 1 and runner.applied_offset == node.delivered_offset()
            assert again.data == {**expected, b"after": b"restart"}  # ...then the records after it
            assert again.leaders[-1].leader_id == 1  # the optional hook
    run(scenario())


def test_a_state_machine_is_snapshotted_by_time(tmp_path):
    port = free_ports(1)

    async def scenario():
        async with RaftManager(properties(1, port, tmp_path)) as node:
            runner = node.run_state_machine(KeyValues(), snapshot_interval_ms=50)  # bytes: 20 MiB
            await node.wait_for_leader(WAIT_S)

            async def until_snapshot():
                i = 0
                while runner.snapshots_written == 0:
                    await node.append([b"k=%d" % i])
                    i += 1
                    await asyncio.sleep(0.01)
            await asyncio.wait_for(until_snapshot(), WAIT_S)
            assert node.client.latest_snapshot_id() is not None
    run(scenario())


def test_a_follower_restores_a_snapshot_it_fetched_from_the_leader(tmp_path):
    """A follower that starts after the leader's log start moved past its end catches up through
    FetchSnapshot and restores the state from it."""
    ports = free_ports(3)
    extra = {"metadata.log.segment.min.bytes": "12", "metadata.log.segment.bytes": "600",
             "metadata.max.retention.bytes": "0", "kraft.test.log.clean.interval.ms": "100"}

    async def scenario():
        nodes = [RaftManager(properties(i, ports, tmp_path, **extra)) for i in (1, 2, 3)]
        machines = [KeyValues() for _ in nodes]
        for node, machine in zip(nodes, machines):
            node.run_state_machine(machine, max_bytes_between_snapshots=500)
        for node in nodes[:2]:
            await node.start()
        try:
            await nodes[0].wait_for_leader(WAIT_S)
            for i in range(60):
                leader, offset = await append_to_leader(nodes[:2], [b"k%d=v%d" % (i % 7, i)])

            async def log_start_moved():
                while not all(n.client.node.log.start_offset > 0 for n in nodes[:2]):
                    await append_to_leader(nodes[:2], [b"pad=%d" % offset])
                    await asyncio.sleep(0.05)
            await asyncio.wait_for(log_start_moved(), WAIT_S)
            leader, offset = await append_to_leader(nodes[:2], [b"end=1"])
            await nodes[2].start()
            await nodes[2].wait_for_committed(offset, timeout=WAIT_S)
            assert machines[2].restored  # from a snapshot: the log's start was gone
            assert machines[2].data == machines[leader.node_id - 1].data
        finally:
            for node in nodes:
                await node.close(timeout=0)
    run(scenario())
