"""RaftManager, the embedding API: real sockets and real log directories, nodes in one event loop."""
from __future__ import annotations

import asyncio
import logging
import re

import pytest

import loopback_ports

import kraft
from kraft.core.errors import NotLeaderError
from kraft.server.raft_manager import PartitionIdentity, RaftManager, StartupError

WAIT_S = 30
FAST = {"controller.quorum.election.timeout.ms": "300", "controller.quorum.fetch.timeout.ms": "600",
        "controller.quorum.append.linger.ms": "1"}


free_ports = loopback_ports.reserve


def properties(node_id, ports, tmp_path, **extra):
    voters = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(ports))
    return {"node.id": str(node_id), "listeners": f"CONTROLLER://127.0.0.1:{ports[node_id - 1]}",
            "controller.listener.names": "CONTROLLER", "controller.quorum.voters": voters,
            "log.dirs": str(tmp_path / f"node-{node_id}"), **FAST, **extra}


class Recorder:
    """A listener keeping every committed data record, in order."""

    def __init__(self):
        self.records = []
        self.leaders = []
        self.changed = asyncio.Event()

    def handle_commit(self, batches):
        for batch in batches:
            self.records.extend(bytes(r) for r in batch.records)
        self.changed.set()

    def handle_load_snapshot(self, snapshot):
        raise AssertionError("no snapshots in these tests")

    def handle_leader_change(self, leader):
        self.leaders.append(leader)

    def begin_shutdown(self):
        pass

    async def wait_for(self, predicate):
        async def loop():
            while not predicate(self.records):
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(loop(), WAIT_S)


async def append_to_leader(nodes, records):
    """Append through whichever node leads, again after a leadership change (the loaded test machine
    may elect twice): ``NotLeaderError`` and ``AppendLostError`` both mean nothing was committed.
    The leader that committed the records and their last offset."""
    from kraft.server.raft_manager import AppendLostError

    async def attempt():
        while True:
            for node in nodes:
                if node.is_leader:
                    try:
                        return node, await node.append(records)
                    except (NotLeaderError, AppendLostError):
                        pass
            await asyncio.sleep(0.05)
    return await asyncio.wait_for(attempt(), WAIT_S)


async def _until(predicate):
    async def poll():
        while not predicate():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(poll(), WAIT_S)


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 120))


def test_the_package_exports_the_embedding_api():
    from kraft.core.log import OffsetAndEpoch
    from kraft.server.config import ServerConfig
    from kraft.server.raft_manager import AppendLostError

    assert kraft.RaftManager is RaftManager
    assert kraft.PartitionIdentity is PartitionIdentity
    assert kraft.StartupError is StartupError
    assert kraft.AppendLostError is AppendLostError
    assert kraft.NotLeaderError is NotLeaderError
    assert kraft.ServerConfig is ServerConfig
    assert kraft.OffsetAndEpoch is OffsetAndEpoch
    assert set(kraft.__all__) <= set(dir(kraft))
    with pytest.raises(AttributeError):
        kraft.NoSuchThing


def test_three_embedded_nodes_replicate_what_the_leader_appends(tmp_path):
    ports = free_ports(3)

    async def scenario():
        nodes = [RaftManager(properties(i, ports, tmp_path)) for i in (1, 2, 3)]
        recorders = [Recorder() for _ in nodes]
        for node, recorder in zip(nodes, recorders):
            node.register(recorder)
        for node in nodes:
            await node.start()
        try:
            leader_id = (await nodes[0].wait_for_leader(WAIT_S)).leader_id
            leader = nodes[leader_id - 1]
            follower = next(n for n in nodes if n is not leader)
            await _until(lambda: follower.leader_and_epoch().leader_id is not None)
            known = follower.leader_and_epoch()
            with pytest.raises(NotLeaderError) as refused:
                await follower.append([b"refused"])
            # the refusal names the leader and its address, for the application to forward to
            assert (refused.value.leader_id, refused.value.epoch) == (known.leader_id, known.epoch), refused.value
            assert refused.value.leader_endpoint == ("127.0.0.1", ports[known.leader_id - 1]), refused.value
            assert f"127.0.0.1:{ports[known.leader_id - 1]}" in str(refused.value)
            offsets = []
            for i in range(20):
                leader, offset = await append_to_leader(nodes, [b"r%d" % i, b"s%d" % i])
                assert offset < leader.high_watermark  # returned once committed
                offsets.append(offset)
            assert offsets == sorted(offsets) and len(set(offsets)) == 20
            leader_id = leader.node_id
            expected = [b"%s%d" % (p, i) for i in range(20) for p in (b"r", b"s")]
            for recorder in recorders:
                await recorder.wait_for(lambda records: len(records) >= len(expected))
                assert recorder.records == expected
            # every listener was told of the leader (the last one, if the loaded machine elected again)
            await _until(lambda: len({r.leaders[-1] for r in recorders if r.leaders}) == 1
                         and all(r.leaders and r.leaders[-1].leader_id is not None for r in recorders))
            assert recorders[0].leaders[-1].leader_id in (leader_id, *(n.node_id for n in nodes if n.is_leader))
        finally:
            for node in nodes:
                await node.close(timeout=0)
    run(scenario())


def test_a_single_node_commits_and_replays_its_log_after_a_restart(tmp_path):
    port = free_ports(1)

    async def scenario():
        async with RaftManager(properties(1, port, tmp_path)) as node:
            await node.wait_for_leader(WAIT_S)
            await node.append([b"a", b"b"], atomic=True)
            await node.append([b"c"])
        again = Recorder()
        async with RaftManager(properties(1, port, tmp_path)) as node:
            node.register(again)
            await again.wait_for(lambda records: len(records) >= 3)
            await node.wait_for_leader(WAIT_S)
            await node.append([b"d"])
            await again.wait_for(lambda records: len(records) >= 4)
        assert again.records == [b"a", b"b", b"c", b"d"]
    run(scenario())


def test_nodes_of_another_cluster_id_do_not_form_a_quorum_with_ours(tmp_path, caplog):
    """The identity is the quorum's: a node with another cluster id is refused by the others,
    and each side says so once per peer, however many requests are refused."""
    caplog.set_level(logging.WARNING, logger="kraft.server")
    ports = free_ports(2)

    async def scenario():
        ours = RaftManager(properties(1, ports, tmp_path))
        theirs = RaftManager(properties(2, ports, tmp_path), identity=PartitionIdentity(cluster_id="other"))
        await ours.start()
        await theirs.start()
        try:
            await asyncio.sleep(3)  # several election timeouts: nobody can win 2 of 2 votes
            assert ours.leader_and_epoch().leader_id is None
            assert theirs.leader_and_epoch().leader_id is None
        finally:
            await ours.close(timeout=0)
            await theirs.close(timeout=0)
    run(scenario())
    lines = [r.getMessage() for r in caplog.records]
    for node, peer in ((1, 2), (2, 1)):
        # the first refused request is a Vote, or a Fetch when a node learnt at start that its peer
        # speaks Kafka 4.x (an unattached 4.x voter fetches from the bootstrap servers first)
        refused_by = [m for m in lines if re.match(f"Node {peer} refuses our (Vote|Fetch): INCONSISTENT_CLUSTER_ID", m)]
        refused = [m for m in lines if re.match("Refused (Vote|Fetch) ", m) and f"(raft-client-{peer})" in m]
        assert len(refused_by) == 1 and len(refused) == 1, lines


def test_bad_configuration_and_busy_ports_are_startup_errors(tmp_path):
    with pytest.raises(StartupError, match="node.id"):
        RaftManager({"listeners": "CONTROLLER://127.0.0.1:1", "controller.listener.names": "CONTROLLER"})
    port = free_ports(1)

    async def scenario():
        async with RaftManager(properties(1, port, tmp_path)):
            second = RaftManager(properties(1, port, tmp_path / "other"))
            with pytest.raises(StartupError):
                await second.start()
    run(scenario())


def test_an_append_overtaken_by_another_leaders_log_fails_and_a_kept_one_succeeds(tmp_path):
    """The commit check: once the high watermark passes an append's offset, the append succeeded
    iff the log's epoch at that offset is still the epoch it was appended in (stubbed client,
    real log)."""
    from types import SimpleNamespace

    from kraft.core.roles import Leader
    from kraft.core.types import LeaderAndEpoch, ReplicaKey
    from kraft.records import encode_batch
    from kraft.server.raft_manager import AppendLostError
    from kraft.storage import FileReplicatedLog, LogConfig

    log = FileReplicatedLog.open(tmp_path / "p-0", LogConfig(), time_ms=lambda: 0)
    # offsets 0-1 in epoch 1, then 2-3 written by the leader of epoch 3 (epoch 2's tail was lost)
    log.append_as_follower(encode_batch([b"a", b"b"], base_offset=0, partition_leader_epoch=1, timestamp=0), 1)
    log.append_as_follower(encode_batch([b"x", b"y"], base_offset=2, partition_leader_epoch=3, timestamp=0), 3)
    log.update_high_watermark(4)

    async def scenario():
        manager = RaftManager(properties(1, [1], tmp_path))
        manager._log = log
        # node 1 leads epoch 3 (its append at offset 9 is still in its accumulator)
        role = Leader(3, ReplicaKey(1), 2, {}, frozenset(), None, 0)
        manager.client = SimpleNamespace(node=SimpleNamespace(high_watermark=4, role=role),
                                         leader_and_epoch=lambda: LeaderAndEpoch(1, 3))
        loop = asyncio.get_running_loop()
        kept, lost, pending = loop.create_future(), loop.create_future(), loop.create_future()
        manager._waiting = [(1, 1, kept), (3, 2, lost), (9, 3, pending)]
        manager._after_round()
        assert kept.result() == 1
        with pytest.raises(AppendLostError, match="offset 3 in epoch 2"):
            lost.result()
        assert not pending.done() and [w[0] for w in manager._waiting] == [9]
    run(scenario())
    log.close()


def test_close_waits_for_a_leader_at_most_the_configured_time(tmp_path):
    """A voter that knows no leader stays up to vote until one is elected, for at most the shutdown
    timeout (Kafka's 5 s by default; here the constructor's, or close's own)."""
    ports = free_ports(2)  # node 2 never starts: node 1 can never win an election

    async def scenario():
        node = RaftManager(properties(1, ports, tmp_path), shutdown_timeout=0.2)
        assert node.shutdown_timeout == 0.2
        await node.start()
        started = node._driver.clock()
        await node.close()
        core = node.client.node
        assert core.is_shut_down and core.shutdown_timed_out
        assert started <= core._shutdown.deadline_ms - 200 <= node._driver.clock()

        again = RaftManager(properties(1, ports, tmp_path))
        assert again.shutdown_timeout == 5.0  # Kafka's
        await again.start()
        started = again._driver.clock()
        await again.close(timeout=0.3)
        assert again.client.node.shutdown_timed_out
        assert started <= again.client.node._shutdown.deadline_ms - 300 <= again._driver.clock()
    run(scenario())


def test_an_embedded_node_lingers_briefly_unless_the_configuration_says(tmp_path):
    from kraft.server.config import ServerConfig
    from kraft.server.raft_manager import EMBEDDED_APPEND_LINGER_MS

    base = {k: v for k, v in properties(1, [9093], tmp_path).items() if k != "controller.quorum.append.linger.ms"}
    assert RaftManager(base).config.quorum.append_linger_ms == EMBEDDED_APPEND_LINGER_MS < 25
    assert RaftManager({**base, "controller.quorum.append.linger.ms": "40"}).config.quorum.append_linger_ms == 40
    path = tmp_path / "node.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in base.items()))
    assert RaftManager(str(path)).config.quorum.append_linger_ms == EMBEDDED_APPEND_LINGER_MS
    # a ServerConfig is taken as it is: the test server keeps Kafka's 25 ms
    assert RaftManager(ServerConfig.from_properties(base)).config.quorum.append_linger_ms == 25
