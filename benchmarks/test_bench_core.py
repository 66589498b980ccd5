"""The Raft core's own speed: simulated events per second (invariants checked after
every event, as in the tests), and the cost of one
committed batch on a 3-voter quorum with no network and no disk (in-memory
log, messages handed straight to the next node).

Run: pytest benchmarks/test_bench_core.py --benchmark-only
There is no peer here: nothing else implements KRaft's state machine in Python.
"""
import collections
import random
import sys
from pathlib import Path

import pytest

from kraft.client import RaftClient
from kraft.core.apply import SnapshotDownloads, apply_output
from kraft.core.config import QuorumConfig
from kraft.core.effects import InboundRequest, InboundResponse, Respond, Send
from kraft.core.memory import MemoryLog, decode_batches, encode_batch
from kraft.core.node import RaftNode
from kraft.core.roles import Leader
from kraft.core.types import Endpoint, Endpoints, ReplicaKey, Voter, VoterSet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "simulation"))

from sim_cluster import Cluster, SimOptions  # noqa: E402


@pytest.mark.parametrize("invariants", [True, False], ids=["with-invariants", "core-and-network-only"])
def test_simulated_events_per_second(benchmark, invariants):
    options = SimOptions(voters=5, duration_ms=20_000, drop=0.02, duplicate=0.02, crash_rate=0.1)

    def run():
        return Cluster(42, options, check_invariants=invariants).run()

    cluster = benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info["events"] = cluster.events
    if benchmark.stats:  # None under --benchmark-disable
        benchmark.extra_info["events_per_second"] = round(cluster.events / benchmark.stats.stats.median)
    assert cluster.events > 1000


class _Direct:
    """Three nodes whose messages are delivered at once, in order."""

    def __init__(self):
        voters = VoterSet(Voter(ReplicaKey(i), Endpoints([Endpoint("CONTROLLER", "h", i)])) for i in (1, 2, 3))
        config = QuorumConfig(append_linger_ms=0)
        self.logs = {i: MemoryLog() for i in (1, 2, 3)}
        self.downloads = {i: SnapshotDownloads() for i in self.logs}
        self.clients = {
            i: RaftClient(RaftNode(node_id=i, cluster_id="bench", voters=voters, log=self.logs[i],
                                   rng=random.Random(i), config=config), self._read)
            for i in (1, 2, 3)}
        self.queue = collections.deque()
        self.now = 0
        self.elections = {}
        for i, c in self.clients.items():
            self._apply(i, c.start(0))
        self.now = 5000
        while not any(isinstance(c.node.role, Leader) for c in self.clients.values()):
            for i, c in self.clients.items():
                self._apply(i, c.poll(self.now))
            self.drain()
            self.now += 100
        self.leader = next(c for c in self.clients.values() if isinstance(c.node.role, Leader))

    @staticmethod
    def _read(log, start, end):
        return [b for b in decode_batches(log.read(start, 1 << 20).records) if b.base_offset < end]

    def _apply(self, node_id, output):
        apply_output(output, log=self.logs[node_id], store=self, transport=_Sink(self, node_id),
                     encode_batch=encode_batch, downloads=self.downloads[node_id])

    def write_election_state(self, election):
        pass

    def drain(self):
        while self.queue:
            target, event = self.queue.popleft()
            self._apply(target, self.clients[target].step(event, self.now))

    def commit_one(self, payload):
        leader = self.leader
        hw = leader.node.high_watermark or 0
        leader.schedule_append(leader.node.epoch, payload)
        lid = leader.node.node_id
        while (leader.node.high_watermark or 0) <= hw:
            self._apply(lid, leader.poll(self.now))
            for i, c in self.clients.items():
                if i != lid:
                    self._apply(i, c.poll(self.now))
            self.drain()


class _Sink:
    def __init__(self, direct, node_id):
        self.direct, self.node_id = direct, node_id

    def send(self, e: Send):
        self.direct.queue.append((e.destination, InboundRequest(self.node_id, e.correlation_id, e.request)))

    def respond(self, e: Respond):
        self.direct.queue.append((e.destination, InboundResponse(self.node_id, e.correlation_id, e.response)))


def test_core_cost_per_committed_batch(benchmark):
    direct = _Direct()
    payload = [b"x" * 100] * 10
    benchmark.pedantic(direct.commit_one, args=(payload,), rounds=2000, iterations=1, warmup_rounds=50)
    if benchmark.stats:
        benchmark.extra_info["us_per_committed_batch"] = round(benchmark.stats.stats.median * 1e6, 1)
        assert direct.leader.node.high_watermark > 2000


@pytest.mark.parametrize("sizes", ["python", "native"])
def test_accumulator_append_1000_records(benchmark, monkeypatch, sizes):
    """The leader's accumulator taking one append of 1,000 x 256 B records (the workload's burst)
    and draining it: ``record_size`` per record in Python (before) or from the extension."""
    from kraft.core import accumulator
    from kraft.records import sizes as sizes_module

    if sizes == "python":
        monkeypatch.setattr(accumulator, "record_size", sizes_module.python_record_size)
    else:
        native = pytest.importorskip("kraft._native.records").record_size
        monkeypatch.setattr(accumulator, "record_size", native)
    records = [b"r" * 256] * 1000
    acc = accumulator.BatchAccumulator(1, 0, 0)

    def one():
        acc.append(1, records, 0)
        return acc.drain()

    assert sum(len(b.records) for b in one()) == 1000
    benchmark(one)
