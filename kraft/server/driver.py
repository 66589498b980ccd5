"""The node driver: one asyncio loop runs the network and the Raft core together.

:class:`RaftDriver` owns the clock.  It hands the core
(:class:`kraft.client.RaftClient`) every inbound request and every response
as an event, polls it when its deadline comes, and applies the effects it
returns in order (:func:`kraft.core.apply.apply_output`): quorum-state writes,
appends, flushes and truncations on the log on disk, requests to peers over
:class:`~kraft.net.channel.PeerChannel`, and the answers to waiting requests.
A lost connection or a timeout comes back to the core as Kafka's synthetic
BROKER_NOT_AVAILABLE response, a version mismatch (no common version, or a field the
chosen version cannot carry, as a pre-vote below Vote v2) as UNSUPPORTED_VERSION;
every failed connection attempt to a voter is also posted as
:class:`~kraft.core.effects.PeerUnreachable` (the core's fast failover).
Requests of the KRaft APIs, DescribeQuorum included, go to the core.
"""
from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import os
from concurrent.futures import ThreadPoolExecutor
import time
from typing import Callable, Optional

from kraft import handlers
from kraft.client import RaftClient
from kraft.core import rpc
from kraft.core.apply import SnapshotDownloads, apply_output
from kraft.core.effects import (
    ApiVersionsResult, CheckApiVersions, InboundRequest, InboundResponse, Output, PeerApiVersions, PeerUnreachable,
    Respond, Send,
)
from kraft.core.node import RaftNode
from kraft.core.quorum_state import voter_set_from_record
from kraft.errors import KraftError
from kraft.core.types import ElectionState, Endpoint, Endpoints, ReplicaKey, Voter, VoterSet
from kraft.handlers import fetch as fetch_adapter
from kraft._version import __version__
from kraft.net.api_versions import (API_VERSIONS, CLIENT_SOFTWARE_NAME, KRAFT_VERSION_FEATURE, PeerVersions,
                                    UnsupportedApiError)
from kraft.protocol.messages import ApiVersionsRequest
from kraft.net.errors import DisconnectedError, NetworkError
from kraft.protocol import ProtocolError, UnsupportedVersionError
from kraft.protocol.errors import Errors, error_name
from kraft.protocol.uuid import Uuid
from kraft.server import admin
from kraft.server.batches import encode_leader_batch, read_committed_batches
from kraft.server.config import ServerConfig
from kraft.server.identity import CLUSTER_ID, PARTITION, TOPIC_ID, TOPIC_NAME
from kraft.server.metrics import MetricsServer, RaftMetrics
from kraft.server.network import NodeNetwork
from kraft.storage import quorum_state as qs
from kraft.storage.control_state import KRaftControlState, snapshot_writer_for
from kraft.storage.replicated_log import FileReplicatedLog
from kraft.storage.snapshots import RecordsSnapshotWriter

log = logging.getLogger("kraft.server")

#: How long a graceful shutdown may take (Kafka's driver uses 5 s).
SHUTDOWN_TIMEOUT_MS = 5000
#: What the flush thread runs on a duplicate of the active segment's descriptor (a seam for tests).
_fsync = os.fsync
#: A fetch from a second process using a voter's id within this long of the other's is reported.
_DUPLICATE_FETCH_WINDOW_MS = 5000


class NodeIdConflictError(KraftError):
    """Another process uses this node's ``node.id``: the node stops (its message is one line)."""


def _sender_id(request) -> Optional[int]:
    """The node id a KRaft request says it comes from."""
    if isinstance(request, rpc.VoteRequest):
        return request.candidate_id
    if isinstance(request, (rpc.BeginQuorumEpochRequest, rpc.EndQuorumEpochRequest)):
        return request.leader_id
    if isinstance(request, (rpc.FetchRequest, rpc.FetchSnapshotRequest)):
        return request.replica_id
    return None


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class ElectionStore:
    """The core's election state in Kafka's ``quorum-state`` file: data_version 0 with the static
    voters, or data_version 1 (no voters) once the log holds the voter set (kraft.version 1)."""

    def __init__(self, store: qs.QuorumStateStore, voters: frozenset, kraft_version: int = 0):
        self._store = store
        self._voters = voters
        #: 1 when the voters come from the log: the file is then written at data_version 1
        self.kraft_version = kraft_version

    def read_election_state(self) -> Optional[ElectionState]:
        stored = self._store.read_election_state()
        if stored is None:
            return None
        return ElectionState(stored.epoch, stored.leader_id, stored.voted_key)  # the voters are the file's only

    def write_election_state(self, election: ElectionState) -> None:
        # The leader and the vote as the role holds them: both only under Kafka 4.x's rules (a
        # follower keeps the vote of its epoch, QuorumState.transitionToFollower), one with 3.9 peers
        self._store.write_election_state(ElectionState(
            election.epoch, election.leader_id, election.voted_key,
            self._voters if self.kraft_version == 0 else frozenset()), self.kraft_version)


def build_client(config: ServerConfig, directory_id: Uuid, log_, store: ElectionStore, rng,
                 clock=wall_clock_ms, *, cluster_id: str = CLUSTER_ID, topic: str = TOPIC_NAME,
                 topic_id: Uuid = TOPIC_ID, partition: int = PARTITION) -> RaftClient:
    """The Raft client of one partition (by default the test server's), from the node's configuration.

    The voters are ``controller.quorum.voters``, unless the log holds a Voters
    control record (a quorum formatted with a dynamic voter set, kraft.version
    1): then, as in Kafka, the log's latest voter set is used.  A node outside
    the voters is an observer: it fetches from the bootstrap servers (the
    voters when none are given).  A node with bootstrap servers and no voters
    at all observes as well, learning the leader and its address from the
    bootstrap servers' answers.  Snapshots are written in Kafka's
    ``RecordsSnapshotWriter`` layout, carrying the kraft.version and voter set
    in force at their end; the retention limits are applied every
    ``kraft.test.log.clean.interval.ms``.
    """
    listener = config.controller_listener_name
    control = KRaftControlState(log_) if isinstance(log_, FileReplicatedLog) else None
    log_voters = control.last_voters() if control is not None else None
    if log_voters is not None:
        voters = voter_set_from_record(log_voters)
        store.kraft_version = control.last_kraft_version()
        log.info("The log's voter set (kraft.version %d) replaces the configured voters: %s",
                 store.kraft_version, sorted(voters.ids))
    else:
        voters = VoterSet(Voter(ReplicaKey(voter_id), Endpoints([Endpoint(listener, a.host, a.port)]))
                          for voter_id, a in config.quorum.voters.items())
    endpoints = Endpoints(Endpoint(e.name, e.host, e.port) for e in config.advertised_listeners)
    bootstrap = None
    if config.quorum.bootstrap_servers:
        bootstrap = [-2 - i for i in range(len(config.quorum.bootstrap_servers))]
    node = RaftNode(
        node_id=config.node_id, cluster_id=cluster_id, voters=voters, log=log_, rng=rng, config=config.quorum,
        directory_id=Uuid(bytes(directory_id)), stored_election=store.read_election_state(),
        topic=topic, topic_id=Uuid(bytes(topic_id)), partition=partition, listener=listener,
        endpoints=endpoints, bootstrap_servers=bootstrap, log_clean_interval_ms=config.log_clean_interval_ms,
        behaviour=config.behaviour)
    if control is not None:
        def snapshot_writer(raw, last_contained_ms):
            return snapshot_writer_for(control, raw, last_contained_ms, clock)
    else:
        def snapshot_writer(raw, last_contained_ms):
            return RecordsSnapshotWriter(raw, last_contained_ms, clock)
    return RaftClient(node, read_committed_batches, snapshot_writer=snapshot_writer)


class RaftDriver:
    """Runs a :class:`RaftClient` on the event loop with real sockets and files."""

    KRAFT_APIS = (rpc.FETCH, rpc.VOTE, rpc.BEGIN_QUORUM_EPOCH, rpc.END_QUORUM_EPOCH, rpc.FETCH_SNAPSHOT,
                  rpc.DESCRIBE_QUORUM, rpc.UPDATE_RAFT_VOTER, rpc.ADD_RAFT_VOTER, rpc.REMOVE_RAFT_VOTER)

    def __init__(self, network: NodeNetwork, client: RaftClient, log_, store: ElectionStore, clock=wall_clock_ms):
        self.network = network
        self.client = client
        self.log = log_
        self.store = store
        self.clock = clock
        #: snapshots being downloaded from the leader into ``log``
        self._downloads = SnapshotDownloads()
        self._events: collections.deque = collections.deque()
        self._wakeup: Optional[asyncio.Future] = None
        self._inbound: dict[int, asyncio.Future] = {}
        self._next_inbound_id = 0
        self._peer_versions: dict[int, PeerVersions] = {}
        self._common_versions: dict[int, dict] = {}
        self._refusals_logged: set[tuple] = set()
        self._tasks: set[asyncio.Task] = set()
        self._stop_requested = False
        self._fatal: Optional[KraftError] = None
        self._first_output: Optional[Output] = None
        #: replica id -> (directory id, peer address, time) of its last Fetch (to see two processes using one id)
        self._fetchers: dict[int, tuple] = {}
        self._reported_duplicates: set = set()
        #: the leader's background flush (``Flush(background=True)``): one fsync at a time on one thread
        self._flusher: Optional[ThreadPoolExecutor] = None
        self._flush_pending = None
        self._flush_again = False
        #: how long a graceful shutdown may wait for another leader (set before ``request_stop``)
        self.shutdown_timeout_ms = SHUTDOWN_TIMEOUT_MS
        #: called after every round of steps and a poll (the embedding API checks its commits there)
        self.after_round: Optional[Callable[[], None]] = None
        #: Kafka's raft metrics, fed from the core's state and effects (kraft.server.metrics)
        self.metrics = RaftMetrics(clock)
        self.metrics_server: Optional[MetricsServer] = None
        port = getattr(network.config, "metrics_port", None)
        if port is not None:
            try:
                self.metrics_server = MetricsServer(self.metrics, port, network.config.metrics_host,
                                                    network.config.node_id)
            except OSError as e:
                from kraft.errors import ConfigError
                raise ConfigError("kraft.metrics.port", f"cannot serve metrics on port {port}: {e}") from None
            log.info("Metrics on http://%s:%d/metrics", self.metrics_server.host, self.metrics_server.port)
        for api_key in self.KRAFT_APIS:
            if api_key in network.advertised:  # a node limited to v0 does not offer UpdateRaftVoter
                network.set_handler(api_key, self._on_request)
        if admin.DESCRIBE_CLUSTER in network.advertised:
            network.set_handler(admin.DESCRIBE_CLUSTER, self._on_describe_cluster)
        network.on_voter_unreachable = self._on_voter_unreachable

    # ---------------------------------------------------------------- control
    def wakeup(self) -> None:
        """Make the loop poll the core now (after an append, say)."""
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def request_stop(self) -> None:
        """Begin a graceful shutdown (a leader resigns first)."""
        self._stop_requested = True
        self.wakeup()

    def begin(self) -> None:
        """The node's first step (its election state written, its first requests sent), once;
        :meth:`run` takes it when it was not taken.  Disk errors are raised here, at start."""
        if self._first_output is None:
            output = self.client.start(self.clock())
            self._apply(output)
            self._first_output = output

    async def run(self) -> None:
        """Run until the core has shut down after :meth:`request_stop`."""
        loop = asyncio.get_running_loop()
        self.begin()
        self._learn_voter_versions()
        self.metrics.observe(self.client.node, self.clock(), self.log)
        deadline = self._first_output.next_deadline_ms
        shutting_down = False
        try:
            while not self.client.is_shut_down:
                if self._fatal is not None:
                    raise self._fatal
                if self._stop_requested and not shutting_down:
                    shutting_down = True
                    self.client.shutdown(self.shutdown_timeout_ms)
                    deadline = self.clock()
                now = self.clock()
                if not self._events and (deadline is None or deadline > now):
                    self._wakeup = loop.create_future()
                    timer = None
                    if deadline is not None:
                        timer = loop.call_later((deadline - now) / 1000.0, self.wakeup)
                    self.metrics.poll_start(now)
                    try:
                        await self._wakeup
                    finally:
                        self._wakeup = None
                        if timer is not None:
                            timer.cancel()
                now = self.clock()
                self.metrics.poll_end(now)
                while self._events and self._fatal is None:
                    self._apply(self.client.step(self._events.popleft(), now))
                if self._fatal is not None:
                    raise self._fatal
                output = self.client.poll(now)
                self._apply(output)
                deadline = output.next_deadline_ms
                self.metrics.observe(self.client.node, now, self.log)
                if self.after_round is not None:
                    self.after_round()
        finally:
            if self.metrics_server is not None:
                self.metrics_server.close()
            for future in self._inbound.values():
                future.cancel()
            self._inbound.clear()
            for task in list(self._tasks):
                task.cancel()
            self._stop_flusher()
            self.log.flush(True)

    # ---------------------------------------------------------------- effects
    def _apply(self, output: Output) -> None:
        if output.effects:
            self.metrics.on_effects(output.effects, self.clock())
        apply_output(output, log=self.log, store=self.store, transport=self, encode_batch=encode_leader_batch,
                     downloads=self._downloads, background_flush=self._flush_in_background)

    def _flush_in_background(self) -> None:
        """The leader's flush: fsync on the flush thread while the loop answers fetches and appends
        on; when it ends the log counts the offsets it covered and the core is polled (it reads
        ``last_flushed_offset`` then).  One at a time: a flush asked for meanwhile follows it.
        (A follower's flush stays synchronous: its data is durable before its next Fetch.)"""
        if self._flush_pending is not None:
            self._flush_again = True
            return
        begin = getattr(self.log, "begin_background_flush", None)
        pending = begin() if begin is not None else None
        if pending is None:
            if begin is None:
                self.log.flush(False)
            self.wakeup()
            return
        if self._flusher is None:
            self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kraft-flush")
        self._flush_pending = pending
        future = asyncio.get_running_loop().run_in_executor(self._flusher, _fsync, pending.fd)
        future.add_done_callback(self._flush_done)

    def _flush_done(self, future: asyncio.Future) -> None:
        pending, self._flush_pending = self._flush_pending, None
        if pending is None:     # the driver stopped meanwhile and settled it
            return
        error = future.exception() if not future.cancelled() else OSError("the flush was cancelled")
        try:
            self.log.complete_background_flush(pending, error)
        except KraftError as e:
            if self._fatal is None:
                self._fatal = e
            self.wakeup()
            return
        if self._flush_again:
            self._flush_again = False
            self._flush_in_background()
        self.wakeup()

    def _stop_flusher(self) -> None:
        """Wait for a running background flush (the log flushes everything after it)."""
        if self._flusher is None:
            return
        self._flusher.shutdown(wait=True)
        self._flusher = None
        pending, self._flush_pending = self._flush_pending, None
        if pending is not None:
            try:
                self.log.complete_background_flush(pending)
            except KraftError:
                pass

    def send(self, effect: Send) -> None:
        task = asyncio.get_running_loop().create_task(self._send(effect))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def check_api_versions(self, effect: CheckApiVersions) -> None:
        """Ask a voter being added for its ApiVersions, as Kafka's leader does (AddVoterHandler)."""
        task = asyncio.get_running_loop().create_task(self._check_api_versions(effect))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _check_api_versions(self, effect: CheckApiVersions) -> None:
        kraft_versions = None
        try:
            channel = self.network.channel_to(effect.endpoint.host, effect.endpoint.port)
            _, response = await channel.request(API_VERSIONS, ApiVersionsRequest(
                client_software_name=CLIENT_SOFTWARE_NAME, client_software_version=__version__))
            error = response.error_code
            for feature in response.supported_features or ():
                if feature.name == KRAFT_VERSION_FEATURE:
                    kraft_versions = (feature.min_version, feature.max_version)
        except (NetworkError, OSError, ProtocolError) as e:
            log.info("ApiVersions to node %d at %s:%d, a voter being added, failed: %s", effect.node_id,
                     effect.endpoint.host, effect.endpoint.port, e)
            error = Errors.BROKER_NOT_AVAILABLE
        self._post(ApiVersionsResult(effect.node_id, error, kraft_versions))

    def _learn_voter_versions(self) -> None:
        """At start, open the connection to each other voter (its ApiVersions exchange) once.

        Which election a node runs, and what an unattached voter does, depend on whether a voter
        speaks Kafka 4.x (``vote.runs_pre_vote``); a node learns that from the ApiVersions of its
        connections.  A restarted voter would otherwise know nothing until its first request, which
        an unattached voter makes only when its election timer runs out: it would stand as Kafka
        3.9 does, raising the epoch of a 4.x quorum, instead of fetching from the bootstrap servers
        and asking for pre-votes.  The connections are the ones its requests use later."""
        node = self.client.node
        if not node.is_voter:
            return
        listener = self.network.config.controller_listener_name
        for voter_id in sorted(node.voters.ids - {node.node_id}):
            address = node.voters.endpoints(voter_id).address(listener)
            if address is not None:
                task = asyncio.get_running_loop().create_task(self._connect_to_voter(voter_id, address))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _connect_to_voter(self, voter_id: int, address) -> None:
        channel = self.network.channel_to(address.host, address.port)
        try:
            await channel.connection.connect(self.network.config.quorum.request_timeout_ms)
        except (NetworkError, OSError, ProtocolError) as e:
            log.debug("Connecting to node %d at %s:%d at start failed: %s", voter_id, address.host, address.port, e)
            return
        self._note_peer_versions(voter_id, channel)

    def respond(self, effect: Respond) -> None:
        future = self._inbound.pop(effect.correlation_id, None)
        if future is not None and not future.done():
            future.set_result(effect.response)

    def _channel(self, effect: Send):
        if effect.endpoint is not None:
            return self.network.channel_to(effect.endpoint.host, effect.endpoint.port)
        if effect.destination >= 0:
            if effect.destination not in self.network.config.quorum.voters:
                raise DisconnectedError(f"no address is known for node {effect.destination}")
            return self.network.channel_to_voter(effect.destination)
        address = self.network.config.quorum.bootstrap_servers[-2 - effect.destination]
        return self.network.channel_to(address.host, address.port)

    async def _send(self, effect: Send) -> None:
        request = effect.request
        api_key = request.api_key
        try:
            channel = self._channel(effect)
            # As Kafka's NetworkClient does, every request goes at the newest version both sides
            # support, which the channel knows from the ApiVersions exchange that opens each
            # connection.  The core's own choice comes from the ApiVersions it has been told of
            # (after the first response from this peer); before that it can only guess the oldest.
            topic = self.client.node.topic

            def message_at(version: int):
                return _request_message(dataclasses.replace(request, api_version=version), topic)
            version, message = await channel.request(api_key, message_at)
            response = handlers.response_to_core(api_key, message, version)
            self._check_leader_claim(response, channel)
            if response.error_code in _REFUSALS:
                self._log_refusal(("by", effect.destination, response.error_code),
                                  "Node %d refuses our %s: %s (it is not of our quorum: cluster id %s, "
                                  "partition %s-%d); logged once", effect.destination, rpc.API_NAMES[api_key],
                                  error_name(response.error_code), self.client.node.cluster_id,
                                  self.client.node.topic, self.client.node.partition)
        except (UnsupportedApiError, UnsupportedVersionError) as e:
            # As Kafka's NetworkClient: a request the peer's versions cannot carry (no common version,
            # or a field such as Vote's PreVote that the version chosen lacks) fails here, unsent,
            # and comes back to the core as UNSUPPORTED_VERSION
            log.debug("%s to node %d not sent: %s", rpc.API_NAMES[api_key], effect.destination, e)
            response = rpc.error_response(api_key, Errors.UNSUPPORTED_VERSION, request.api_version)
        except (NetworkError, OSError, ProtocolError) as e:
            log.debug("%s to node %d failed: %s", rpc.API_NAMES[api_key], effect.destination, e)
            response = rpc.error_response(api_key, Errors.BROKER_NOT_AVAILABLE, request.api_version)
        else:
            self._note_peer_versions(effect.destination, channel)
        self._post(InboundResponse(effect.destination, effect.correlation_id, response))

    def _log_refusal(self, key: tuple, message: str, *args) -> None:
        """Log a refusal between this node and a peer of another quorum once per peer and error."""
        if key not in self._refusals_logged:
            self._refusals_logged.add(key)
            log.warning(message, *args)

    def _note_peer_versions(self, node_id: int, channel) -> None:
        versions = channel.peer_versions
        if versions is not None and self._peer_versions.get(node_id) is not versions:
            self._peer_versions[node_id] = versions
            ours = self.network.sendable
            common = {k: (max(ours[k].min_version, r.min_version), min(ours[k].max_version, r.max_version))
                      for k, r in versions.advertised.items() if k in ours}
            self._common_versions[node_id] = common
            self._post(PeerApiVersions(node_id, common))

    def _on_voter_unreachable(self, voter_id: int, refused: bool = False) -> None:
        if voter_id != self.network.config.node_id:
            self._post(PeerUnreachable(voter_id, refused=refused))

    # ---------------------------------------------------------------- inbound
    def _post(self, event) -> None:
        self._events.append(event)
        self.wakeup()

    def _conflict(self, detail: str) -> None:
        """Another process uses our node id: stop the node with one line saying so."""
        if self._fatal is None:
            config = self.network.config
            listening = ", ".join(f"{host}:{port}" for host, port in self.network.bound.values())
            configured = config.quorum.voters.get(config.node_id)
            where = f"; controller.quorum.voters puts node {config.node_id} at {configured.host}:{configured.port}" \
                if configured is not None else ""
            self._fatal = NodeIdConflictError(
                f"another process uses node.id {config.node_id}: {detail} (this process listens on {listening}"
                f"{where}); give every node its own node.id")
            self.wakeup()

    def _check_leader_claim(self, response, channel) -> None:
        """A peer names this node as the leader of an epoch it does not lead: someone else uses our id."""
        leader = getattr(response, "current_leader_id", getattr(response, "leader_id", -1))
        if leader != self.network.config.node_id or response.error_code != Errors.NONE:
            return
        epoch = getattr(response, "current_leader_epoch", getattr(response, "leader_epoch", -1))
        role = self.client.node.role
        if epoch < role.epoch or (epoch == role.epoch and role.leader_like):
            return
        self._conflict(f"{channel.connection.address} answered that node {leader} leads epoch {epoch}, "
                       f"which this node does not (unless this node lost its quorum-state)")

    def _check_sender(self, context, request) -> bool:
        """False (and the node stops) when a request claims to come from this node's own id."""
        sender = _sender_id(request)
        node_id = self.network.config.node_id
        if sender == node_id and isinstance(request, rpc.FetchRequest) \
                and request.replica_directory_id == self.client.node.local_key.directory_id:
            return True  # our own Fetch, through a bootstrap server that is this node (it answers itself)
        if sender == node_id:
            self._conflict(f"a {rpc.API_NAMES[context.api_key]} request from {context.peer} claims to come from "
                           f"node {sender}")
            return False
        if isinstance(request, rpc.FetchRequest) and sender is not None and sender >= 0 \
                and request.replica_directory_id is not None and request.replica_directory_id != Uuid.ZERO:
            now = self.clock()
            seen = self._fetchers.get(sender)
            directory = request.replica_directory_id
            if seen is not None and seen[0] != directory and seen[1] != context.peer \
                    and now - seen[2] < _DUPLICATE_FETCH_WINDOW_MS:
                pair = frozenset((seen[0], directory))
                if pair not in self._reported_duplicates:
                    self._reported_duplicates.add(pair)
                    log.warning("Two processes fetch as node %d: one from %s, one from %s (different directory "
                                "ids); give every node its own node.id", sender, seen[1], context.peer)
            self._fetchers[sender] = (directory, context.peer, now)
        return True

    async def _on_request(self, context, message):
        request = handlers.request_to_core(context.api_key, message, context.api_version)
        if not self._check_sender(context, request):
            refused = rpc.error_response(context.api_key, Errors.INCONSISTENT_VOTER_SET, context.api_version)
            if refused.api_key == rpc.FETCH:
                return fetch_adapter.response_from_core(refused, topic_name=self.client.node.topic)
            return handlers.response_from_core(refused)
        inbound_id = self._next_inbound_id
        self._next_inbound_id += 1
        future = asyncio.get_running_loop().create_future()
        self._inbound[inbound_id] = future
        answer_as = None
        if request.api_key == rpc.DESCRIBE_QUORUM:
            request, answer_as = admin.metadata_alias(self.client.node, request)
        self._post(InboundRequest(-1, inbound_id, request, context.listener_name))
        response = await future
        if answer_as is not None:
            response = admin.answer_as(response, answer_as)
        if response.error_code in _REFUSALS:
            self._log_refusal(("from", context.client_id, context.peer.rsplit(":", 1)[0], response.error_code),
                              "Refused %s from %s (%s): %s (cluster id %r, expected %r); logged once per peer",
                              rpc.API_NAMES[context.api_key], context.peer, context.client_id,
                              error_name(response.error_code), getattr(message, "cluster_id", None),
                              self.client.node.cluster_id)
        if response.api_key == rpc.FETCH:
            return fetch_adapter.response_from_core(response, topic_name=self.client.node.topic)
        return handlers.response_from_core(response)

    def _on_describe_cluster(self, context, message):
        """DescribeCluster for Kafka's admin client: the voters and the leader as the core knows them now."""
        return admin.describe_cluster(self.client.node, context.listener_name, context.api_version, message)


#: Top-level errors that mean the peer is not of this quorum (another cluster id, or another
#: topic or partition): each is logged once per peer, never per request.
_REFUSALS = frozenset({Errors.INCONSISTENT_CLUSTER_ID, Errors.INVALID_REQUEST})


def _request_message(request, topic: str):
    """The protocol message of a core request (Fetch names the topic before v13, its id after)."""
    if request.api_key == rpc.FETCH:
        return fetch_adapter.request_from_core(request, topic_name=topic)
    return handlers.request_from_core(request)
