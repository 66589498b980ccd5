"""A seeded, deterministic simulation of a KRaft quorum over a faulty network.

One ``random.Random(seed)`` drives everything: message delays, drops,
duplicates and reordering, partitions, crashes and restarts, the workload,
and each node's own random source.  Time is simulated milliseconds; events
run from a heap ordered by (time, sequence number), so a seed replays event
for event.  Invariants are checked after every event (see ``Invariants``).

``SimOptions.storage`` chooses the nodes' storage (see ``sim_storage``): ``"memory"``
(``MemoryLog``) or ``"disk"`` (``FileReplicatedLog`` and the ``quorum-state`` file, one
directory per node under the ``directory`` given to ``Cluster``).
"""
from __future__ import annotations

import dataclasses
import heapq
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from kraft.client import RaftClient
from kraft.core import rpc
from kraft.core.apply import SnapshotDownloads, apply_output
from kraft.core.config import QuorumConfig
from kraft.core.effects import (
    InboundRequest, InboundResponse, PeerApiVersions, PeerUnreachable, Respond, Send,
)
from kraft.core.errors import NotLeaderError
from kraft.core.log import OffsetAndEpoch
from kraft.core.node import KAFKA_3_9, REFERENCE_REVISION, RaftNode
from kraft.core.roles import Leader
from kraft.core.types import Endpoint, Endpoints, ReplicaKey, Voter, VoterSet
from kraft.core.effects import ApiVersionsResult
from kraft.protocol.uuid import Uuid
from kraft.protocol.errors import Errors
from sim_storage import DiskStorage, MemoryStorage

CLUSTER_ID = "sim-cluster-id-000000"

FULL_VERSIONS = {k: v for k, v in rpc.SUPPORTED_VERSIONS.items()}
ORIGINAL_VERSIONS = {rpc.VOTE: (0, 0), rpc.BEGIN_QUORUM_EPOCH: (0, 0), rpc.END_QUORUM_EPOCH: (0, 0),
                     rpc.FETCH: (0, 16), rpc.FETCH_SNAPSHOT: (0, 0)}


def downgrade(message, version: int, receiver_reference: bool):
    """What ``message`` looks like after encoding at ``version`` and decoding by the receiver."""
    changes = {"api_version": version}
    if isinstance(message, rpc.VoteRequest) and version < 1:
        changes.update(voter_id=-1, voter_directory_id=Uuid.ZERO, candidate_directory_id=Uuid.ZERO)
    elif isinstance(message, rpc.BeginQuorumEpochRequest) and version < 1:
        changes.update(voter_id=0 if receiver_reference else -1, voter_directory_id=Uuid.ZERO,
                       leader_endpoints=Endpoints())
    elif isinstance(message, rpc.EndQuorumEpochRequest):
        if version < 1:
            changes.update(preferred_candidates=(), leader_endpoints=Endpoints())
        else:
            changes.update(preferred_successors=())
    elif isinstance(message, rpc.FetchRequest) and version < 17:
        changes.update(replica_directory_id=Uuid.ZERO)
    elif isinstance(message, (rpc.VoteResponse, rpc.BeginQuorumEpochResponse, rpc.EndQuorumEpochResponse)):
        if version < 1:
            changes.update(node_endpoints=())
    elif isinstance(message, rpc.FetchResponse) and version < 17:
        changes.update(node_endpoints=())
    return dataclasses.replace(message, **changes)


@dataclass
class SimOptions:
    voters: int = 3
    observers: int = 0  # extra nodes outside the voter set that only fetch
    bootstrap_only_observers: bool = False  # observers know no voters, only bootstrap servers (the voters)
    resign_rate: float = 0.0  # chance per workload tick that the leader resigns
    duration_ms: int = 15_000
    drop: float = 0.0
    duplicate: float = 0.0
    max_delay_ms: int = 20
    crash_rate: float = 0.0  # crashes per node per simulated second
    down_ms: tuple = (200, 3000)
    partition_rate: float = 0.0  # partition changes per simulated second
    append_interval_ms: int = 50
    snapshot_rate: float = 0.0  # snapshots taken (by some node's state machine, create_snapshot) per second
    retention_bytes: tuple = (-1, -1)  # each node's log retention_max_bytes, drawn from this range
    log_clean_interval_ms: int = 60_000  # how often nodes apply retention (CleanLog); Kafka: a minute
    empty_restart_rate: float = 0.0  # chance that a restarted observer comes back with an empty directory
    bandwidth_bytes_per_ms: int = 0  # > 0: a response's records take len/bandwidth ms more (no queueing)
    reference_nodes: tuple = ()  # node ids behaving like the reference revision
    original_version_nodes: tuple = ()  # node ids that only speak the original RPC versions
    vote_max_version: int = 2  # the other nodes' highest Vote: 2 (Kafka 4.x, pre-vote) or 1 (3.9)
    directory_ids: bool = True  # each node has a log directory id
    voter_directory_ids: bool = True  # the voter set names them (KIP-853); False: static voters
    storage: str = "memory"  # "disk": FileReplicatedLog per node (Cluster needs a directory)
    segment_bytes: tuple = (512, 4096)  # disk: each node's segment.bytes, drawn from this range
    retention_ms: tuple = (-1, -1)  # disk: each node's metadata.max.retention.ms (-1: none), drawn
    power_loss: float = 0.0  # disk: share of crashes that also cut the unflushed tail of the active segment
    kraft_version: int = 0  # 1: the voters live in the log and change (KIP-853)
    membership_rate: float = 0.0  # AddRaftVoter / RemoveRaftVoter requests to the leader per second
    config: QuorumConfig = field(default_factory=lambda: QuorumConfig(
        election_timeout_ms=500, fetch_timeout_ms=1000, election_backoff_max_ms=500,
        request_timeout_ms=400, append_linger_ms=10))


class InvariantViolation(AssertionError):
    pass


@dataclass
class SimNode:
    node_id: int
    log: object = None  # MemoryLog, or FileReplicatedLog (replaced by every restart) on disk
    downloads: SnapshotDownloads = field(default_factory=SnapshotDownloads)  # into ``log``; replaced with it
    election: Optional[object] = None  # the durable quorum-state (in memory; on disk the quorum-state file)
    client: Optional[RaftClient] = None
    up: bool = True
    poll_token: int = 0
    delivered: list = field(default_factory=list)
    leader_changes: list = field(default_factory=list)
    appended: int = 0
    checked: int = 0
    loads: int = 0
    crash_mid_output: bool = False  # the next output is cut short by a crash
    violation: Optional[str] = None  # set by the listener when it sees something it must never see
    incarnation: int = 0  # connections die with the process: older messages are not delivered

    # ElectionStore
    def write_election_state(self, election) -> None:
        self.election = election


class _Listener:
    def __init__(self, node: SimNode, snapshot_batches):
        self.node = node
        self.snapshot_batches = snapshot_batches  # what a loaded snapshot holds, per storage
        self.claimed = False  # the last leader change named this node

    def handle_commit(self, batches):
        self.node.delivered.extend(batches)

    def handle_load_snapshot(self, snapshot):
        if self.claimed:  # Kafka's LeaderNeverLoadSnapshot: not once the listener was told it leads
            self.node.violation = f"node {self.node.node_id} loaded snapshot {snapshot.snapshot_id} as leader"
        self.node.delivered = self.snapshot_batches(snapshot)
        self.node.checked = 0
        self.node.loads += 1

    def handle_leader_change(self, leader):
        self.node.leader_changes.append(leader)
        self.claimed = leader.leader_id == self.node.node_id

    def begin_shutdown(self):
        pass


class Cluster:
    def __init__(self, seed: int, options: SimOptions, check_invariants: bool = True,
                 directory: Optional[Path] = None):
        self.seed = seed
        self.check_invariants = check_invariants
        self.options = options
        self.rng = random.Random(seed)
        self.now = 0
        self._queue: list = []
        self._seq = 0
        self.events = 0
        voter_ids = list(range(1, options.voters + 1))
        ids = list(range(1, options.voters + options.observers + 1))
        self.dirs = {i: Uuid(self.rng.getrandbits(128).to_bytes(16, "big")) if options.directory_ids else None
                     for i in ids}
        self.voter_set = VoterSet(
            Voter(ReplicaKey.of(i, self.dirs[i] if options.voter_directory_ids else None),
                  Endpoints([Endpoint("CONTROLLER", f"node{i}", 9000 + i)]))
            for i in voter_ids)
        if options.storage == "disk":
            if directory is None:
                raise ValueError("storage='disk' needs a directory")
            self.storage = DiskStorage(self, directory)
        elif options.storage == "memory":
            self.storage = MemoryStorage(self)
        else:
            raise ValueError(f"unknown storage {options.storage!r}")
        self.nodes = {i: SimNode(i) for i in ids}
        for sim in self.nodes.values():
            self.storage.create(sim)
        self.awaiting: dict = {}  # (requester, peer) -> (correlation id, request) last sent
        self.partition: Optional[set] = None  # nodes cut off from the rest
        self.origins: dict = {}  # (responder, requester, correlation id) -> requester incarnation
        self.invariants = Invariants(self)
        self.snapshots_taken = 0
        for i in ids:
            self._boot(i)
        self._schedule(self._next_gap(self.options.append_interval_ms), ("append",))
        if options.crash_rate > 0:
            self._schedule(self._exp(options.crash_rate * len(ids)), ("crash",))
        if options.partition_rate > 0:
            self._schedule(self._exp(options.partition_rate), ("partition",))
        if options.snapshot_rate > 0:
            self._schedule(self._exp(options.snapshot_rate), ("snapshot",))
        if options.membership_rate > 0:
            self._schedule(self._exp(options.membership_rate), ("membership",))
        #: answers to the operator's voter-change requests: (time, request, error code)
        self.admin_answers: list = []
        self._next_admin_id = 0

    # -------------------------------------------------------------- plumbing
    def _exp(self, per_second: float) -> int:
        return max(1, int(self.rng.expovariate(per_second) * 1000))

    def _next_gap(self, mean: int) -> int:
        return 1 + self.rng.randrange(2 * mean)

    def _schedule(self, delay: int, event: tuple) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (self.now + delay, self._seq, event))

    def _boot(self, node_id: int) -> None:
        sim = self.nodes[node_id]
        behaviour = REFERENCE_REVISION if node_id in self.options.reference_nodes else KAFKA_3_9
        voters, bootstrap = self.voter_set, None
        if self.options.bootstrap_only_observers and node_id not in self.voter_set:
            voters, bootstrap = VoterSet(()), tuple(sorted(self.voter_set.ids))
        elif self.options.membership_rate > 0:  # the voters change: every other node is a bootstrap server
            bootstrap = tuple(sorted(set(self.nodes) - {node_id}))
        self.storage.open(sim)
        node = RaftNode(
            node_id=node_id, cluster_id=CLUSTER_ID, voters=voters, log=sim.log, bootstrap_servers=bootstrap,
            rng=random.Random(self.rng.getrandbits(64)), config=self.options.config,
            directory_id=self.dirs[node_id], stored_election=self.storage.stored_election(sim),
            endpoints=Endpoints([Endpoint("CONTROLLER", f"node{node_id}", 9000 + node_id)]), behaviour=behaviour,
            log_clean_interval_ms=self.options.log_clean_interval_ms,
            kraft_version=self.options.kraft_version,
        )
        sim.client = self.storage.client(node, sim)
        sim.delivered = []
        sim.leader_changes = []
        sim.checked = 0
        sim.incarnation += 1
        sim.client.register(_Listener(sim, self.storage.snapshot_batches))
        sim.up = True
        self._run(sim, lambda: sim.client.start(self.now))
        for peer in self.nodes:
            if peer != node_id:
                versions = ORIGINAL_VERSIONS if peer in self.options.original_version_nodes else {
                    **FULL_VERSIONS, rpc.VOTE: (0, self.options.vote_max_version)}
                self._run(sim, lambda p=peer, v=versions: sim.client.step(PeerApiVersions(p, v), self.now))

    def _run(self, sim: SimNode, call) -> None:
        output = call()
        if sim.crash_mid_output and output.effects:
            # The process dies while applying the effects: only a prefix happens.
            sim.crash_mid_output = False
            output.effects = output.effects[:self.rng.randrange(len(output.effects))]
            apply_output(output, log=sim.log, store=self.storage.store(sim), transport=_Wire(self, sim.node_id),
                         encode_batch=self.storage.encode_batch, downloads=sim.downloads)
            del output  # what the dead process held goes with it (on disk: views of its files)
            self._crash_node(sim)
            return
        apply_output(output, log=sim.log, store=self.storage.store(sim), transport=_Wire(self, sim.node_id),
                     encode_batch=self.storage.encode_batch, downloads=sim.downloads)
        sim.poll_token += 1
        if output.next_deadline_ms is not None:
            self._schedule(max(0, output.next_deadline_ms - self.now), ("poll", sim.node_id, sim.poll_token))

    def connected(self, a: int, b: int) -> bool:
        if not (self.nodes[a].up and self.nodes[b].up):
            return False
        return self.partition is None or ((a in self.partition) == (b in self.partition))

    def transmit(self, source: int, destination: int, make_event, on_loss=None, incarnation=None,
                 size: int = 0) -> None:
        """Deliver after a random delay (plus ``size`` bytes at ``bandwidth_bytes_per_ms``); maybe
        drop (the requester may see a disconnect, ``on_loss``) or deliver twice."""
        opts = self.options
        transfer = size // opts.bandwidth_bytes_per_ms if opts.bandwidth_bytes_per_ms else 0
        copies = 1 + (self.rng.random() < opts.duplicate)
        for _ in range(copies):
            if self.rng.random() < opts.drop:
                if on_loss is not None and self.rng.random() < 0.5:
                    on_loss()
                continue
            if incarnation is None:
                incarnation = self.nodes[destination].incarnation
            self._schedule(1 + self.rng.randrange(opts.max_delay_ms) + transfer,
                           ("deliver", source, destination, incarnation, make_event))

    def disconnect(self, requester: int, peer: int, correlation_id: int, request) -> None:
        """The requester's driver sees the connection fail: a BROKER_NOT_AVAILABLE response."""
        error = rpc.error_response(request.api_key, Errors.BROKER_NOT_AVAILABLE, request.api_version)
        self._schedule(1 + self.rng.randrange(self.options.max_delay_ms),
                       ("local", requester, self.nodes[requester].incarnation,
                        lambda: InboundResponse(peer, correlation_id, error)))

    # ------------------------------------------------------------------ run
    def run(self) -> "Cluster":
        return self.run_until(self.options.duration_ms)

    def _dispatch(self, event: tuple) -> None:
        kind = event[0]
        if kind == "poll":
            sim = self.nodes[event[1]]
            if sim.up and event[2] == sim.poll_token:
                self._run(sim, lambda: sim.client.poll(self.now))
        elif kind == "deliver":
            _, source, destination, incarnation, make_event = event
            sim = self.nodes[destination]
            if self.connected(source, destination) and sim.incarnation == incarnation:
                self._run(sim, lambda: sim.client.step(make_event(), self.now))
        elif kind == "local":  # raised by the requester's own driver: no network involved
            _, destination, incarnation, make_event = event
            sim = self.nodes[destination]
            if sim.up and sim.incarnation == incarnation:
                self._run(sim, lambda: sim.client.step(make_event(), self.now))
        elif kind == "append":
            self._append()
            self._schedule(self._next_gap(self.options.append_interval_ms), ("append",))
        elif kind == "crash":
            self._crash()
            self._schedule(self._exp(self.options.crash_rate * len(self.nodes)), ("crash",))
        elif kind == "restart":
            node_id = event[1]
            if node_id not in self.voter_set and self.rng.random() < self.options.empty_restart_rate:
                self.storage.wipe(self.nodes[node_id])  # a new, empty log directory
                self.invariants.on_wipe(node_id)
            self._boot(node_id)
        elif kind == "unreachable":
            sim = self.nodes[event[1]]
            if sim.up and sim.incarnation == event[3]:
                self._run(sim, lambda: sim.client.step(PeerUnreachable(event[2]), self.now))
        elif kind == "partition":
            self._repartition()
            self._schedule(self._exp(self.options.partition_rate), ("partition",))
        elif kind == "snapshot":
            self._snapshot()
            self._schedule(self._exp(self.options.snapshot_rate), ("snapshot",))
        elif kind == "membership":
            self._change_voters()
            self._schedule(self._exp(self.options.membership_rate), ("membership",))

    def _append(self) -> None:
        for sim in self.nodes.values():
            if sim.up and isinstance(sim.client.node.role, Leader):
                epoch = sim.client.node.epoch
                if self.rng.random() < self.options.resign_rate:
                    sim.client.resign(epoch)
                    self._run(sim, lambda: sim.client.poll(self.now))
                    continue
                sim.appended += 1
                value = f"{sim.node_id}:{epoch}:{sim.appended}".encode()
                atomic = self.rng.random() < 0.5
                try:
                    if atomic:
                        sim.client.schedule_atomic_append(epoch, [value, value + b"+"])
                    else:
                        sim.client.schedule_append(epoch, [value])
                except NotLeaderError:
                    pass
                self._run(sim, lambda: sim.client.poll(self.now))

    def _snapshot(self) -> None:
        """A node's state machine (the batches its listener received) snapshots a committed
        prefix through ``create_snapshot``; retention (``CleanLog``) later deletes the log it
        replaces, so lagging followers must download it."""
        candidates = [n for n in self.nodes.values() if n.up and n.delivered]
        if not candidates:
            return
        sim = self.rng.choice(candidates)
        latest = sim.client.latest_snapshot_id()
        first = 0
        if latest is not None:  # a state machine snapshots forward, as Kafka's controller does
            first = next((i for i, b in enumerate(sim.delivered) if b.last_offset + 1 > latest.offset), None)
            if first is None:
                return
        j = first + self.rng.randrange(len(sim.delivered) - first)
        last = sim.delivered[j]
        writer = sim.client.create_snapshot(OffsetAndEpoch(last.last_offset + 1, last.epoch), self.now)
        if writer is None:  # below the log start, or it exists
            return
        self.storage.write_snapshot(writer, sim.delivered[:j + 1])
        self.snapshots_taken += 1

    def _change_voters(self) -> None:
        """The operator asks the leader to add an observer or remove a voter (the leader itself too)."""
        leaders = self.leaders()
        if not leaders:
            return
        sim = leaders[0]
        node = sim.client.node
        observers = sorted(set(self.nodes) - node.voters.ids)
        if observers and (len(node.voters) < 2 or self.rng.random() < 0.5):
            target = self.rng.choice(observers)
            request = rpc.AddRaftVoterRequest(
                cluster_id=CLUSTER_ID, timeout_ms=30_000, voter_id=target,
                voter_directory_id=self.dirs[target] or Uuid.ZERO,
                listeners=Endpoints([Endpoint("CONTROLLER", f"node{target}", 9000 + target)]),
                ack_when_committed=self.rng.random() < 0.5, api_version=1)
        else:
            key = self.rng.choice(node.voters.keys())
            request = rpc.RemoveRaftVoterRequest(cluster_id=CLUSTER_ID, voter_id=key.id,
                                                 voter_directory_id=key.directory_or_zero)
        self._next_admin_id += 1
        self._run(sim, lambda: sim.client.step(InboundRequest(-1, self._next_admin_id, request), self.now))

    def crash_node(self, node_id: int, down_ms: int) -> None:
        """Kill ``node_id`` now (its peers see their connections reset) for ``down_ms``."""
        sim = self.nodes[node_id]
        if sim.up:
            self._crash_node(sim, down_ms)

    def close(self) -> None:
        """Release the nodes' files (a no-op in memory)."""
        self.storage.close()

    def run_until(self, end_ms: int, stop=None) -> "Cluster":
        """Run events up to ``end_ms`` (or until ``stop()`` holds after an event)."""
        while self._queue and self._queue[0][0] <= end_ms:
            when, _, event = heapq.heappop(self._queue)
            self.now = when
            self._dispatch(event)
            self.events += 1
            if self.check_invariants:
                self.invariants.check(event)
            if stop is not None and stop():
                break
        return self

    def _crash(self) -> None:
        up = [n for n in self.nodes.values() if n.up and not n.crash_mid_output]
        if not up:
            return
        sim = self.rng.choice(up)
        if self.rng.random() < 0.5:
            sim.crash_mid_output = True
        else:
            self._crash_node(sim)

    def _crash_node(self, sim: SimNode, down_ms: Optional[int] = None) -> None:
        sim.up = False
        sim.crash_mid_output = False
        sim.client = None
        self.storage.crash(sim)
        self.invariants.on_crash(sim.node_id)
        # The peers' connections to the dead process are reset: what they awaited fails, and
        # their reconnect is refused (the driver reports PeerUnreachable).
        for (requester, peer), (correlation_id, request) in list(self.awaiting.items()):
            if peer == sim.node_id and self.nodes[requester].up:
                del self.awaiting[(requester, peer)]
                self.disconnect(requester, peer, correlation_id, request)
                self.unreachable(requester, peer)
        if down_ms is None:
            low, high = self.options.down_ms
            down_ms = low + self.rng.randrange(high - low)
        self._schedule(down_ms, ("restart", sim.node_id))

    def unreachable(self, requester: int, peer: int) -> None:
        """The requester's driver fails to reconnect to ``peer``: a ``PeerUnreachable`` event."""
        self._schedule(1 + self.rng.randrange(self.options.max_delay_ms),
                       ("unreachable", requester, peer, self.nodes[requester].incarnation))

    def isolate(self, node_ids) -> None:
        """Cut ``node_ids`` off from the rest now (``None`` or empty: heal)."""
        self.partition = set(node_ids) if node_ids else None

    def _repartition(self) -> None:
        if self.partition is not None or len(self.nodes) < 2:
            self.partition = None
            return
        ids = sorted(self.nodes)
        size = 1 + self.rng.randrange(len(ids) - 1)
        self.partition = set(self.rng.sample(ids, size))

    # -------------------------------------------------------------- queries
    def leaders(self) -> list[SimNode]:
        return [n for n in self.nodes.values() if n.up and isinstance(n.client.node.role, Leader)]

    def max_committed(self) -> int:
        return self.invariants.committed_end


class _Wire:
    """The simulated network as a node's transport."""

    def __init__(self, cluster: Cluster, node_id: int):
        self.cluster = cluster
        self.node_id = node_id

    def send(self, effect: Send) -> None:
        c = self.cluster
        source, destination = self.node_id, effect.destination
        if isinstance(effect.request, rpc.VoteRequest) and effect.request.pre_vote and effect.request.api_version < 2:
            # Kafka's NetworkClient cannot write PreVote below Vote v2: the request fails before it is sent
            refused = rpc.error_response(rpc.VOTE, Errors.UNSUPPORTED_VERSION, effect.request.api_version)
            c._schedule(1, ("local", source, c.nodes[source].incarnation,
                            lambda: InboundResponse(destination, effect.correlation_id, refused)))
            return
        request = downgrade(effect.request, effect.request.api_version, destination in c.options.reference_nodes)
        lost = lambda: c.disconnect(source, destination, effect.correlation_id, request)  # noqa: E731
        if not c.nodes[destination].up:
            lost()  # the process is gone: the connection is refused
            c.unreachable(source, destination)
            return
        if not c.connected(source, destination) and c.rng.random() < 0.5:
            lost()  # a refused connection
            return
        c.awaiting[(source, destination)] = (effect.correlation_id, request)
        origin = c.nodes[source].incarnation

        def arrive():
            c.origins[(destination, source, effect.correlation_id)] = origin
            return InboundRequest(source, effect.correlation_id, request, "CONTROLLER")

        c.transmit(source, destination, arrive, lost)

    def check_api_versions(self, effect) -> None:
        """The leader's ApiVersions check of a voter being added: answered if the node is reachable."""
        c = self.cluster
        ok = c.connected(self.node_id, effect.node_id) and c.rng.random() >= c.options.drop
        result = ApiVersionsResult(effect.node_id, Errors.NONE if ok else Errors.BROKER_NOT_AVAILABLE,
                                   (0, 1) if ok else None)
        c._schedule(1 + c.rng.randrange(2 * c.options.max_delay_ms),
                    ("local", self.node_id, c.nodes[self.node_id].incarnation, lambda: result))

    def respond(self, effect: Respond) -> None:
        c = self.cluster
        source, destination = self.node_id, effect.destination
        if destination < 0:  # the operator's voter-change request
            c.admin_answers.append((c.now, effect.response.api_key, effect.response.error_code))
            return
        response = c.storage.on_the_wire(downgrade(effect.response, effect.response.api_version, False))
        correlation_id = effect.correlation_id  # not the effect: in flight, only the copy sent lives on
        origin = c.origins.pop((source, destination, correlation_id), None)
        payload = getattr(response, "records", None) or getattr(response, "unaligned_records", None) or b""
        c.transmit(source, destination, lambda: InboundResponse(source, correlation_id, response),
                   size=len(payload),
                   incarnation=origin)


class Invariants:
    """Checked after every event.

    * at most one leader per epoch, ever;
    * each node's epoch and high watermark never go backwards (a restart
      forgets the HW; once learned again it must not be lower);
    * committed batches (below any node's HW) agree across nodes, and what is
      committed stays on a majority of voters' logs (crashes included);
    * listeners see exactly the committed prefix, in order, once;
    * every snapshot replays to exactly the committed batches below its end,
      and a leader never loads a snapshot;
    * in memory, a log that does not start at 0 starts at its earliest snapshot.

    On disk that last rule does not hold, and is relaxed.  As in Kafka, retention
    deletes whole segments only: the log start it moves to a snapshot's offset is
    kept in memory, and a restart starts the log again at the base offset of the
    segment that held that offset (Kafka's segment that was active when the older
    snapshot went stays until it rolls).  So on disk: a log that does not start at
    0 has a snapshot, and its earliest snapshot is at or above the log start (the
    state below the start is in a snapshot); and every snapshot is within the
    log, ``start <= offset <= end``, so no snapshot is missing a log prefix it
    needs and the log continues each one (a snapshot above a log that a power
    loss cut short is reset to by the reopen).  The batches between the log start
    and the earliest snapshot must be the committed ones.  (Nor is the first
    segment sure to hold the earliest snapshot's offset: a segment that was
    active when the log start moved past it stays, after it rolls, until the
    next cleaning moves the start again.)
    """

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.storage = cluster.storage
        self.leader_of_epoch: dict[int, int] = {}
        self.epoch: dict[int, int] = {}
        self.hw: dict[int, int] = {}
        self.committed: list[tuple[int, bytes]] = []  # (base offset, batch bytes)
        self.committed_end = 0
        self._keys: list = []  # what a state machine sees of each committed batch (decoded lazily)
        self._index_of: dict[int, int] = {}  # committed base offset -> index
        self._verified: dict[int, int] = {}
        self._snapshots_ok: set = set()
        self.membership = cluster.options.membership_rate > 0
        self._leader_hw: dict = {}  # (node, epoch) -> the leader's high watermark last checked

    def fail(self, message: str) -> None:
        raise InvariantViolation(f"{message} (seed {self.cluster.seed}, t={self.cluster.now}ms, "
                                 f"event #{self.cluster.events})")

    def key(self, i: int):
        """Committed batch ``i`` as a state machine sees it."""
        keys = self._keys
        while len(keys) <= i:
            keys.append(self.storage.data_key(self.committed[len(keys)][1]))
        return keys[i]

    def on_crash(self, node_id: int) -> None:
        self._verified.pop(node_id, None)

    def on_wipe(self, node_id: int) -> None:
        """An observer restarted from an empty directory: it starts over, knowing nothing."""
        for known in (self._verified, self.hw, self.epoch):
            known.pop(node_id, None)
        self._snapshots_ok = {(n, sid) for n, sid in self._snapshots_ok if n != node_id}

    def _committed_index(self, offset: int) -> Optional[int]:
        return self._index_of.get(offset, len(self.committed) if offset == self.committed_end else None)

    def _snapshot_index(self, node_id: int, view) -> int:
        """How many committed batches lie below the node's log start (a snapshot stands for them)."""
        start = view.start_offset
        if start == 0:
            return 0
        k = self._committed_index(start)
        if k is None:
            self.fail(f"node {node_id} log starts at {start}, which is not a committed batch boundary")
        sid = view.earliest_snapshot_id()
        if self.storage.relaxed_log_start:
            if sid is None or sid.offset < start:
                self.fail(f"node {node_id} log starts at {start} but its earliest snapshot is {sid}: "
                          f"nothing holds the state below the log start")
        elif sid is None or sid.offset != start:
            self.fail(f"node {node_id} log starts at {start} but its earliest snapshot is {sid}")
        self._check_snapshot(node_id, view, sid)
        return k

    def _check_snapshot(self, node_id: int, view, sid: OffsetAndEpoch) -> None:
        """The snapshot replays to exactly the committed batches below its end offset."""
        if (node_id, sid) in self._snapshots_ok:
            return
        k = self._committed_index(sid.offset)
        if k is None or not view.snapshot_matches(sid, self, k):
            self.fail(f"node {node_id} snapshot {sid} does not hold the committed log below {sid.offset}")
        self._snapshots_ok.add((node_id, sid))

    def _check_disk_layout(self, node_id: int, log, view) -> None:
        """On disk: every snapshot is within the log (see the class docstring), and the batches
        read back span the log's offsets."""
        start, end = log.start_offset, log.end_offset
        if start != view.start_offset or end != view.end_offset:
            self.fail(f"node {node_id} log is {start}-{end} but its batches span "
                      f"{view.start_offset}-{view.end_offset}")
        ids = view.snapshot_ids()
        for sid in ids:
            if not start <= sid.offset <= end:
                self.fail(f"node {node_id} snapshot {sid} is outside its log {start}-{end}")

    def _matching_prefix(self, node_id: int, view) -> int:
        """How many committed batches the node holds (snapshot included)."""
        k = self._snapshot_index(node_id, view)
        stored = view.batches
        n = max(k, min(self._verified.get(node_id, 0), k + len(stored)))
        while n < len(self.committed) and n - k < len(stored):
            base, data = self.committed[n]
            if stored[n - k].base_offset != base or stored[n - k].data != data:
                break
            n += 1
        self._verified[node_id] = n
        return n

    def check(self, event) -> None:
        c = self.cluster
        relaxed = self.storage.relaxed_log_start
        for sim in c.nodes.values():
            if not sim.up:
                continue
            node = sim.client.node
            nid = sim.node_id
            if node.epoch < self.epoch.get(nid, 0):
                self.fail(f"node {nid} epoch went back from {self.epoch[nid]} to {node.epoch}")
            self.epoch[nid] = node.epoch
            if isinstance(node.role, Leader):
                owner = self.leader_of_epoch.setdefault(node.epoch, nid)
                if owner != nid:
                    self.fail(f"two leaders in epoch {node.epoch}: {owner} and {nid}")
            view = self.storage.view(sim)
            if relaxed:
                self._check_disk_layout(nid, sim.log, view)
            hw = sim.log.high_watermark if node.high_watermark is not None else None
            if hw is not None:
                if hw < self.hw.get(nid, 0):
                    self.fail(f"node {nid} high watermark went back from {self.hw[nid]} to {hw}")
                self.hw[nid] = hw
                self._extend_committed(nid, view, hw)
            self._check_delivered(sim)
            if sim.violation is not None:
                self.fail(sim.violation)
            for sid in view.snapshot_ids():
                self._check_snapshot(nid, view, sid)
            if self.membership:
                self._check_voter_changes(sim, node)
        if self.membership:
            for sim in c.nodes.values():
                if sim.up and isinstance(sim.client.node.role, Leader):
                    self._check_leader_high_watermark(sim, sim.client.node)
        self._check_majority()

    def _check_voter_changes(self, sim: SimNode, node) -> None:
        """At most one change of membership (of the voters' keys) not yet committed in any node's log.

        A Voters record that only rewrites an entry's listeners or kraft.version range is not counted: a
        new leader writes one at the start of its epoch whenever its own entry is out of date, pending
        change or not (Kafka's LeaderState.appendStartOfEpochControlRecords), as does UpdateRaftVoter."""
        history = node.quorum.history
        pending, previous = [], history.bootstrap
        for offset, voters in zip(history._offsets, history._sets):
            if offset >= self.committed_end and set(voters.keys()) != set(previous.keys()):
                pending.append(offset)
            previous = voters
        if len(pending) > 1:
            self.fail(f"node {sim.node_id} holds {len(pending)} uncommitted voter changes, at {pending} "
                      f"(committed up to {self.committed_end})")

    def _check_leader_high_watermark(self, sim: SimNode, node) -> None:
        """A leader's high watermark is held by a majority of the voter set in force on it (its latest,
        committed or not, as Kafka computes it): checked each time it moves, against the logs."""
        hw = node.role.high_watermark  # the leader's own (its log view keeps the one it had as a follower)
        key = (sim.node_id, node.epoch)
        if hw is None or hw <= self._leader_hw.get(key, 0):
            return
        self._leader_hw[key] = hw
        needed = next((i for i, (base, _) in enumerate(self.committed) if base >= hw), len(self.committed))
        voters = node.voters
        holders = [v for v in voters.ids if v in self.cluster.nodes
                   and self._matching_prefix(v, self.storage.view(self.cluster.nodes[v])) >= needed]
        if len(holders) < voters.majority:
            self.fail(f"leader {sim.node_id} moved its high watermark to {hw} but only {sorted(holders)} of the "
                      f"voters in force {sorted(voters.ids)} hold it")

    def _extend_committed(self, nid: int, view, hw: int) -> None:
        prefix = self._matching_prefix(nid, view)
        k = self._snapshot_index(nid, view)
        stored = view.batches
        i = prefix - k  # index in the node's log of the first batch past what matches
        if prefix < len(self.committed) and i < len(stored) and stored[i].base_offset < hw:
            self.fail(f"node {nid} committed batch at {stored[i].base_offset} differs from the committed log")
        if prefix < len(self.committed) and self.committed[prefix][0] < hw and i >= len(stored):
            self.fail(f"node {nid} has HW {hw} but lacks committed batch {self.committed[prefix][0]}")
        while i < len(stored) and stored[i].last_offset < hw and k + i == len(self.committed):
            self._index_of[stored[i].base_offset] = len(self.committed)
            self.committed.append((stored[i].base_offset, stored[i].data))
            self.committed_end = stored[i].last_offset + 1
            i += 1
        self._verified[nid] = max(self._verified.get(nid, 0), k + i)

    def _check_majority(self) -> None:
        if not self.committed:
            return
        c = self.cluster
        held = {}
        for sim in c.nodes.values():  # what a node once knew committed stays in its log, crashes included
            known = self.hw.get(sim.node_id, 0)
            held[sim.node_id] = self._matching_prefix(sim.node_id, self.storage.view(sim))
            n = held[sim.node_id]
            if n < len(self.committed) and self.committed[n][0] < known:
                self.fail(f"node {sim.node_id} lost committed data below its high watermark {known}")
        if self.membership:  # the set changes: the leader's high watermark check above stands for this one
            return
        holders = sum(1 for nid, n in held.items() if nid in c.voter_set and n >= len(self.committed))
        if holders < c.voter_set.majority:
            self.fail(f"committed log up to {self.committed_end} is held by only {holders} voters")

    def _check_delivered(self, sim: SimNode) -> None:
        delivered = sim.delivered
        if len(delivered) > len(self.committed):
            self.fail(f"node {sim.node_id} delivered {len(delivered)} batches, more than committed")
        batch_key = self.storage.batch_key
        for i in range(sim.checked, len(delivered)):
            b = delivered[i]
            if b.base_offset != self.committed[i][0] or self.key(i) != batch_key(b):
                self.fail(f"node {sim.node_id} delivered batch {b.base_offset} out of order or wrong")
        sim.checked = len(delivered)
