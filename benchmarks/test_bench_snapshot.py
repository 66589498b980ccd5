"""Snapshots through the real storage layer: transfer between two in-process raft nodes
(leader -> empty follower: Fetch -> SnapshotId -> FetchSnapshot chunks of 8 MiB -> install),
and loading (decoding every record of a snapshot file).

Peers in the same run: a plain local copy of the snapshot file (``shutil.copyfile``: the upper
bound for moving the bytes) and reading the file into memory (the upper bound for loading).

Run: pytest benchmarks/test_bench_snapshot.py --benchmark-only
``KRAFT_BENCH_SNAPSHOT_MIB`` sets the snapshot size (default 64).
"""
import collections
import os
import random
import shutil

import pytest

from kraft.client import RaftClient
from kraft.core.apply import SnapshotDownloads, apply_output
from kraft.core.config import QuorumConfig
from kraft.core.effects import InboundRequest, InboundResponse
from kraft.core.log import OffsetAndEpoch
from kraft.core.node import RaftNode
from kraft.core.roles import Leader
from kraft.core.types import Endpoint, Endpoints, ReplicaKey, Voter, VoterSet
from kraft.server.batches import encode_leader_batch, read_committed_batches
from kraft.storage.replicated_log import FileReplicatedLog, LogConfig
from kraft.storage.snapshots import RecordsSnapshotWriter

MIB = 1024 * 1024
SIZE_MIB = int(os.environ.get("KRAFT_BENCH_SNAPSHOT_MIB", 64))
RECORD = 1024
SNAPSHOT_ID = OffsetAndEpoch(SIZE_MIB * MIB // RECORD, 1)


def _write_snapshot(directory):
    log = FileReplicatedLog.open(directory, LogConfig(), lambda: 0)
    writer = RecordsSnapshotWriter(log.create_new_snapshot(SNAPSHOT_ID), 0, lambda: 0)
    value = bytes(RECORD - 40)
    for _ in range(SNAPSHOT_ID.offset // 256):
        writer.append([value] * 256)
    writer.freeze()
    assert log.truncate_to_latest_snapshot()
    return log


class _Pair:
    """Node 1 leads with the snapshot; node 2 starts empty; messages go straight across."""

    def __init__(self, leader_log, follower_dir):
        voters = VoterSet(Voter(ReplicaKey(i), Endpoints([Endpoint("CONTROLLER", "h", i)])) for i in (1, 2))
        self.now = 0
        self.logs = {1: leader_log, 2: FileReplicatedLog.open(follower_dir, LogConfig(), lambda: self.now)}
        self.downloads = {i: SnapshotDownloads() for i in self.logs}
        self.clients = {i: RaftClient(RaftNode(node_id=i, cluster_id="bench", voters=voters, log=self.logs[i],
                                               rng=random.Random(i), config=QuorumConfig()),
                                      read_committed_batches) for i in (1, 2)}
        self.queue = collections.deque()
        for i, c in self.clients.items():
            self._apply(i, c.start(0))
        self.now = 2500  # node 1 times out first (node 2 has the election timeout too, but grants)
        while not isinstance(self.clients[1].node.role, Leader):
            self._apply(1, self.clients[1].poll(self.now))
            self.drain()
            self.now += 50

    def write_election_state(self, election):
        pass

    def _apply(self, node_id, output):
        apply_output(output, log=self.logs[node_id], store=self, transport=_Sink(self, node_id),
                     encode_batch=encode_leader_batch, downloads=self.downloads[node_id])

    def drain(self):
        while self.queue:
            target, event = self.queue.popleft()
            self._apply(target, self.clients[target].step(event, self.now))

    def transfer(self):
        follower = self.logs[2]
        while follower.start_offset < SNAPSHOT_ID.offset:
            for i, c in self.clients.items():
                self._apply(i, c.poll(self.now))
            self.drain()
            self.now += 1
        return follower


class _Sink:
    def __init__(self, pair, node_id):
        self.pair, self.node_id = pair, node_id

    def send(self, e):
        self.pair.queue.append((e.destination, InboundRequest(self.node_id, e.correlation_id, e.request)))

    def respond(self, e):
        self.pair.queue.append((e.destination, InboundResponse(self.node_id, e.correlation_id, e.response)))


@pytest.fixture(scope="module")
def leader_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("leader")
    _write_snapshot(directory).close()
    return directory


def _mb_per_s(benchmark):
    if benchmark.stats:  # None under --benchmark-disable
        benchmark.extra_info["MB_per_s"] = round(SIZE_MIB * MIB / 1e6 / benchmark.stats.stats.median, 1)
        benchmark.extra_info["snapshot_MiB"] = SIZE_MIB


def test_snapshot_transfer_between_two_nodes(benchmark, leader_dir, tmp_path):
    rounds = iter(range(1000))

    def setup():
        leader_log = FileReplicatedLog.open(leader_dir, LogConfig(), lambda: 0)
        return (_Pair(leader_log, tmp_path / f"follower-{next(rounds)}"),), {}

    def run(pair):
        follower = pair.transfer()
        assert follower.latest_snapshot_id() == SNAPSHOT_ID
        for log in pair.logs.values():
            log.close()
        shutil.rmtree(follower.directory)

    benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    _mb_per_s(benchmark)


def test_peer_local_file_copy(benchmark, leader_dir, tmp_path):
    source = next(p for p in leader_dir.iterdir() if p.name.endswith(".checkpoint"))
    benchmark.pedantic(lambda: shutil.copyfile(source, tmp_path / "copy.checkpoint"), rounds=3, iterations=1)
    _mb_per_s(benchmark)


def test_snapshot_load(benchmark, leader_dir):
    """Decode every record of the snapshot, as a state machine loading it would."""
    log = FileReplicatedLog.open(leader_dir, LogConfig(), lambda: 0)
    reader = log.read_snapshot(SNAPSHOT_ID)

    def load():
        n = 0
        for batch in reader.record_batches():
            for _ in batch:
                n += 1
        return n

    count = benchmark.pedantic(load, rounds=3, iterations=1)
    assert count == SNAPSHOT_ID.offset + 2  # the data, the header and the footer
    _mb_per_s(benchmark)
    if benchmark.stats:
        benchmark.extra_info["s_per_GiB"] = round(benchmark.stats.stats.median * 1024 / SIZE_MIB, 2)
    log.close()


def test_peer_read_file_into_memory(benchmark, leader_dir):
    source = next(p for p in leader_dir.iterdir() if p.name.endswith(".checkpoint"))
    benchmark.pedantic(lambda: len(source.read_bytes()), rounds=3, iterations=1)
    _mb_per_s(benchmark)
    if benchmark.stats:
        benchmark.extra_info["s_per_GiB"] = round(benchmark.stats.stats.median * 1024 / SIZE_MIB, 2)
