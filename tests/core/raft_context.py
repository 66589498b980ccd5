"""A small test context for the Raft core, in the spirit of Kafka's RaftClientTestContext.

It owns a MemoryLog, a durable election store, a manual clock and a seeded
random source; every output of the node is applied in order and recorded,
so tests read as short stories:

    ctx = RaftContext.build(local_id=1, voters=(1, 2, 3))
    ctx.deliver(vote_request(...))
    assert ctx.response().vote_granted
"""
from __future__ import annotations

import random
from kraft.protocol.uuid import Uuid
from dataclasses import dataclass, field
from typing import Optional

from kraft.client import RaftClient
from kraft.core import rpc
from kraft.core.apply import SnapshotDownloads, apply_output
from kraft.core.config import QuorumConfig
from kraft.core.effects import (
    AppendAsLeader, InboundRequest, InboundResponse, LeaderBatch, Output, PeerApiVersions, PersistElection,
    Respond, Send,
)
from kraft.core.memory import MemoryLog, decode_batches, encode_batch
from kraft.core.node import KAFKA_3_9, METADATA_TOPIC, METADATA_TOPIC_ID, RaftNode
from kraft.core.types import ElectionState, Endpoint, Endpoints, ReplicaKey, Voter, VoterSet

CLUSTER = "test-cluster-id"
T = METADATA_TOPIC
TOPIC_ID = METADATA_TOPIC_ID


def dir_of(node_id: int) -> Uuid:
    return Uuid((0xD1D0000 + node_id).to_bytes(16, "big"))


def endpoints_of(node_id: int, listener: str = "CONTROLLER") -> Endpoints:
    return Endpoints([Endpoint(listener, f"host{node_id}", 9000 + node_id)])


@dataclass
class RaftContext:
    node: RaftNode
    log: MemoryLog
    client: RaftClient
    now: int = 0
    election: Optional[ElectionState] = None
    outputs: list = field(default_factory=list)
    sent: list = field(default_factory=list)
    responses: list = field(default_factory=list)
    writes: list = field(default_factory=list)  # every applied effect, in order

    @classmethod
    def build(cls, *, local_id: int = 1, voters=(1, 2, 3), voter_dirs: bool = False, local_dir: bool = True,
              election: Optional[ElectionState] = None, log_epochs=(), behaviour: str = KAFKA_3_9,
              config: Optional[QuorumConfig] = None, seed: int = 0, start: bool = True,
              peer_versions: Optional[dict] = None, kraft_version: int = 0) -> "RaftContext":
        """``log_epochs``: one epoch per batch of one record to put in the log first."""
        log = MemoryLog()
        offset = 0
        for epoch in log_epochs:
            log.append_as_leader(encode_batch(LeaderBatch(offset, epoch, 0, (b"r%d" % offset,))), epoch)
            offset += 1
        log.flush()
        voter_set = VoterSet(Voter(ReplicaKey.of(i, dir_of(i) if voter_dirs else None), endpoints_of(i))
                             for i in voters)
        node = RaftNode(
            node_id=local_id, cluster_id=CLUSTER, voters=voter_set, log=log, rng=random.Random(seed),
            config=config or QuorumConfig(), directory_id=dir_of(local_id) if local_dir else None,
            stored_election=election, endpoints=endpoints_of(local_id), behaviour=behaviour,
            kraft_version=kraft_version,
        )
        ctx = cls(node, log, RaftClient(node, cls._read), election=election)
        if start:
            ctx._apply(ctx.client.start(0))
            for peer, versions in (peer_versions or {}).items():
                ctx._apply(ctx.client.step(PeerApiVersions(peer, versions), ctx.now))
        return ctx

    @staticmethod
    def _read(log, start, end):
        out, offset = [], start
        while offset < end:
            batches = decode_batches(log.read(offset, 1 << 20).records)
            if not batches:
                break
            out.extend(b for b in batches if b.base_offset < end)
            offset = batches[-1].last_offset + 1
        return out

    # ElectionStore
    def write_election_state(self, election: ElectionState) -> None:
        self.election = election

    # Transport
    def send(self, effect: Send) -> None:
        self.sent.append(effect)

    def respond(self, effect: Respond) -> None:
        self.responses.append(effect)

    def _downloads(self) -> SnapshotDownloads:
        """The snapshot downloads into the current log (a new log starts with none)."""
        if getattr(self, "_downloads_log", None) is not self.log:
            self._downloads_log, self._snapshot_downloads = self.log, SnapshotDownloads()
        return self._snapshot_downloads

    def _apply(self, output: Output) -> Output:
        self.outputs.append(output)
        self.writes.extend(output.effects)
        apply_output(output, log=self.log, store=self, transport=self, encode_batch=encode_batch,
                     downloads=self._downloads())
        return output

    # ------------------------------------------------------------- verbs
    def advance(self, ms: int) -> None:
        self.now += ms

    def poll(self) -> Output:
        return self._apply(self.client.poll(self.now))

    def poll_until_quiet(self, limit: int = 50) -> None:
        for _ in range(limit):
            out = self.poll()
            if out.next_deadline_ms is None or out.next_deadline_ms > self.now:
                return

    def deliver(self, request, source: int = 2, correlation_id: int = 99, listener: str = "CONTROLLER") -> Output:
        return self._apply(self.client.step(InboundRequest(source, correlation_id, request, listener), self.now))

    def answer(self, send: Send, response) -> Output:
        return self._apply(self.client.step(InboundResponse(send.destination, send.correlation_id, response),
                                            self.now))

    def response(self):
        """The one response sent since the last call."""
        assert len(self.responses) == 1, self.responses
        return self.responses.pop().response

    def take_sent(self, api=None) -> list[Send]:
        out = [s for s in self.sent if api is None or isinstance(s.request, api)]
        self.sent = [s for s in self.sent if s not in out]
        return out

    def persisted(self) -> list[ElectionState]:
        return [e.election for e in self.writes if isinstance(e, PersistElection)]

    def leader_batches(self) -> list[LeaderBatch]:
        return [e.batch for e in self.writes if isinstance(e, AppendAsLeader)]

    @property
    def role(self) -> str:
        return self.node.role.name

    # ---------------------------------------------------- becoming leader
    def become_leader(self) -> None:
        """From a fresh voter: time out, win every vote, become leader."""
        self.advance(2 * self.node.config.election_timeout_ms)
        self.poll()
        self.poll()
        for send in self.take_sent(rpc.VoteRequest):
            self.answer(send, vote_response(self.node.epoch, granted=True))
        assert self.role == "Leader"
        self.poll()


# ----------------------------------------------------------- request builders
def vote_request(epoch: int, candidate: int = 2, *, last_epoch: int = 0, last_offset: int = 0, voter_id: int = -1,
                 voter_dir=None, candidate_dir=None, cluster=CLUSTER, version: int = 1, **kw) -> rpc.VoteRequest:
    from kraft.protocol.uuid import Uuid
    return rpc.VoteRequest(cluster, kw.pop("topic", T), kw.pop("partition", 0), epoch, candidate, last_epoch,
                           last_offset, candidate_dir or Uuid.ZERO, voter_id, voter_dir or Uuid.ZERO,
                           api_version=version, **kw)


def vote_response(epoch: int, granted: bool, leader: int = -1, error=0, version: int = 1) -> rpc.VoteResponse:
    return rpc.VoteResponse(topic=T, partition=0, partition_error=error, leader_id=leader, leader_epoch=epoch,
                            vote_granted=granted, api_version=version)


def begin_epoch(epoch: int, leader: int = 2, *, voter_id: int = -1, voter_dir=None, endpoints=Endpoints(),
                cluster=CLUSTER, version: int = 1, **kw) -> rpc.BeginQuorumEpochRequest:
    from kraft.protocol.uuid import Uuid
    return rpc.BeginQuorumEpochRequest(cluster, kw.pop("topic", T), kw.pop("partition", 0), leader, epoch, voter_id,
                                       voter_dir or Uuid.ZERO, endpoints, api_version=version, **kw)


def end_epoch(epoch: int, leader: int = 2, *, successors=(), candidates=(), cluster=CLUSTER, version: int = 1,
              **kw) -> rpc.EndQuorumEpochRequest:
    return rpc.EndQuorumEpochRequest(cluster, kw.pop("topic", T), kw.pop("partition", 0), leader, epoch,
                                     tuple(successors), tuple(candidates), api_version=version, **kw)


def fetch_request(epoch: int, replica: int = 2, *, offset: int = 0, last_epoch: int = 0, max_wait: int = 0,
                  replica_dir=None, cluster=CLUSTER, topic_id=TOPIC_ID, version: int = 17, **kw) -> rpc.FetchRequest:
    from kraft.protocol.uuid import Uuid
    return rpc.FetchRequest(cluster, replica, topic_id, kw.pop("partition", 0), offset, last_epoch, epoch,
                            max_wait_ms=max_wait, replica_directory_id=replica_dir or Uuid.ZERO,
                            api_version=version, **kw)


def fetch_response(epoch: int, leader: int, *, records=b"", hw: int = -1, error=0, diverging=None,
                   version: int = 17) -> rpc.FetchResponse:
    return rpc.FetchResponse(topic_id=TOPIC_ID, partition=0, partition_error=error, high_watermark=hw,
                             log_start_offset=0, diverging_epoch=diverging, current_leader_id=leader,
                             current_leader_epoch=epoch, records=records, api_version=version)
