"""The Raft node: Kafka 3.9.0's KRaft election and replication as a pure state machine.

``RaftNode.start(now)``, ``step(event, now)`` and ``poll(now)`` each return an
:class:`~kraft.core.effects.Output`.  The node reads its log through the
``ReplicatedLog`` protocol; the driver must apply every effect of an output,
in order, before calling the node again, so that at the start of each call
the log reflects everything the node asked for.  Within one call the node
tracks its own pending log end.

Ordering guarantees an applier can rely on: ``PersistElection`` precedes every
effect of the new role; follower appends are followed by ``Flush`` before the
next Fetch is sent; a leader's appends are flushed before its high watermark
moves over them (stricter than Kafka, which counts unflushed leader data,
raft-semantics.md §21.9).

The node holds the state, the role transitions, the ``step``/``poll`` dispatch
and the per-role polling; each RPC's request building and handling (both
sides) lives in its own module under :mod:`kraft.core.rpcs`.
"""
from __future__ import annotations

from typing import Optional, Sequence

from kraft.core import quorum as q
from kraft.core import rpc
from kraft.core.accumulator import BatchAccumulator
from kraft.core.behaviour import KAFKA_3_9, REFERENCE_REVISION
from kraft.core.config import QuorumConfig
from kraft.core.context import Context, Identity, Shutdown
from kraft.core.effects import (
    WARNING, CleanLog, InboundRequest, InboundResponse, LeaderBatch, LogMessage, Output, PeerApiVersions,
    PeerUnreachable, Respond, Send,
)
from kraft.core.errors import FatalRaftError, NotLeaderError, ShutdownError
from kraft.core.log import OffsetAndEpoch, ReplicatedLog, ValidationKind
from kraft.core.log_view import LogView, Outbox
from kraft.core.quorum_state import QuorumState
from kraft.core.request_manager import RequestManager
from kraft.core.roles import (
    CANDIDATE, FOLLOWER, LEADER, PROSPECTIVE, RESIGNED, UNATTACHED, Candidate, Follower, Leader, Prospective,
    ReadBarrier, Resigned, Unattached,
)
from kraft.core import voter_change
from kraft.core.effects import ApiVersionsResult
from kraft.core.rpcs import (add_voter, describe_quorum, fetch, fetch_snapshot, membership, quorum_epoch,
                             remove_voter, update_voter, vote)
from kraft.core.rpcs.describe_quorum import OBSERVER_SESSION_TIMEOUT_MS
from kraft.core.transitions import Transitions
from kraft.core.types import EMPTY_ENDPOINTS, ElectionState, Endpoints, LeaderAndEpoch, ReplicaKey, VoterSet
from kraft.protocol.uuid import Uuid
from kraft.protocol.errors import Errors, error_name
from kraft.records.constants import KRAFT_MAX_BATCH_SIZE

__all__ = [
    "KAFKA_3_9", "LOG_CLEAN_INTERVAL_MS", "METADATA_TOPIC", "METADATA_TOPIC_ID", "OBSERVER_SESSION_TIMEOUT_MS",
    "PERFORMANCE_TEST_TOPIC", "PERFORMANCE_TEST_TOPIC_ID", "REFERENCE_REVISION", "RaftNode",
]

#: Topic ids KRaft matches Fetch on (``AAAAAAAAAAAAAAAAAAAAAQ`` and ``...Ag``).
METADATA_TOPIC = "__cluster_metadata"
METADATA_TOPIC_ID = Uuid.METADATA_TOPIC_ID
PERFORMANCE_TEST_TOPIC = "__raft_performance_test"
PERFORMANCE_TEST_TOPIC_ID = Uuid.from_bits(0, 2)

#: Kafka's raft client applies the log's retention limits once a minute.
LOG_CLEAN_INTERVAL_MS = 60_000


class RaftNode:
    """One replica of the raft partition.

    ``voters`` is the voter set (ids, optional directory ids, endpoints).  The
    local node is a voter iff its (id, directory id) matches an entry;
    otherwise it is an observer and fetches from ``bootstrap_servers`` (node
    ids; default the voters) until it learns the leader.
    """

    def __init__(
        self,
        *,
        node_id: int,
        cluster_id: str,
        voters: VoterSet,
        log: ReplicatedLog,
        rng,
        config: QuorumConfig = QuorumConfig(),
        directory_id: Optional[Uuid] = None,
        stored_election: Optional[ElectionState] = None,
        topic: str = METADATA_TOPIC,
        topic_id: Uuid = METADATA_TOPIC_ID,
        partition: int = 0,
        listener: str = "CONTROLLER",
        endpoints: Endpoints = EMPTY_ENDPOINTS,
        behaviour: str = KAFKA_3_9,
        bootstrap_servers: Optional[Sequence[int]] = None,
        max_batch_size: int = KRAFT_MAX_BATCH_SIZE,
        log_clean_interval_ms: int = LOG_CLEAN_INTERVAL_MS,
        kraft_version: int = 0,
    ):
        if node_id < 0:
            raise ValueError(f"node id must be non-negative, got {node_id}")
        if behaviour not in (KAFKA_3_9, REFERENCE_REVISION):
            raise ValueError(f"unknown behaviour {behaviour!r}")
        self.node_id = node_id
        self.local_key = ReplicaKey.of(node_id, directory_id)
        self.outbox = Outbox()
        self._emit = self.outbox.emit
        #: the one owner of the role, the local identity and the voter sets
        self.quorum = QuorumState(self.local_key, voters, self._emit, endpoints)
        # the kraft.version in force until the log records one (a test's static dynamic quorum)
        self.quorum.history.bootstrap_kraft_version = self.quorum.history.kraft_version = kraft_version
        #: the log as this node sees it within a call (end, high watermark, append, truncate)
        self.log_view = LogView(self.outbox, self.quorum.history)
        self.identity = Identity(cluster_id, topic, topic_id, partition, listener.upper(), endpoints, behaviour)
        self.cluster_id = cluster_id
        self.log = log
        self.rng = rng
        self.config = config
        self.topic = topic
        self.topic_id = topic_id
        self.partition = partition
        self.listener = self.identity.listener
        self.endpoints = endpoints
        self.behaviour = behaviour
        self.max_batch_size = max_batch_size
        if log_clean_interval_ms <= 0:
            raise ValueError(f"log_clean_interval_ms must be positive, got {log_clean_interval_ms}")
        self.log_clean_interval_ms = log_clean_interval_ms
        self._next_clean_ms = 0
        self._stored = stored_election if stored_election is not None else ElectionState(0)
        servers = tuple(bootstrap_servers) if bootstrap_servers is not None else tuple(sorted(voters.ids))
        if not servers:
            raise ValueError("a node that knows no voters needs bootstrap servers to find the leader through")
        self.request_manager = RequestManager(config.request_timeout_ms, config.retry_backoff_ms, servers)
        #: what the RPC modules and the transitions work with
        self.ctx = Context(identity=self.identity, config=config, quorum=self.quorum, log_view=self.log_view,
                           outbox=self.outbox, log=log, rng=rng, request_manager=self.request_manager,
                           parked=fetch.ParkedFetches())
        #: the one way the role changes
        self.transitions = self.ctx.transitions = Transitions(self.ctx, max_batch_size)
        #: each peer's ApiVersions (``None``: it answered none), by node id
        self.peer_api_versions = self.ctx.peer_api_versions
        #: fetches the leader holds until data arrives or their wait ends
        self.parked = self.ctx.parked
        #: (peer, api key) -> the error it last answered, while it keeps answering errors
        self.refusals: dict[tuple[int, int], int] = {}
        self._next_correlation_id = 0
        #: the poll for each role, by role name (one dispatch instead of a chain of type tests)
        self._pollers = {
            LEADER: self._poll_leader, CANDIDATE: self._poll_candidate, FOLLOWER: self._poll_any_follower,
            UNATTACHED: self._poll_unattached, RESIGNED: self._poll_resigned, PROSPECTIVE: self._poll_prospective,
        }
        #: fast failover for the roles it concerns, by role name (the same dispatch)
        self._on_peer_unreachable = {FOLLOWER: self._follower_peer_unreachable,
                                     CANDIDATE: self._candidate_peer_unreachable}
        self._next_read_barrier = 0
        #: read barriers confirmed by a majority: id -> the leader's high watermark then
        self._confirmed_read_barriers: dict[int, int] = {}

    # ------------------------------------------------------------------ basics
    @property
    def accumulator(self) -> Optional[BatchAccumulator]:
        """The leader's batch accumulator (``None`` unless leading)."""
        return self.transitions.accumulator

    @property
    def appended(self) -> dict[int, LeaderBatch]:
        """Batches appended in the current leader epoch, by base offset, until listeners are past them."""
        return self.transitions.appended

    @property
    def _shutdown(self) -> Optional[Shutdown]:
        return self.ctx.shutdown

    @property
    def role(self):
        """The current role (the quorum state's)."""
        return self.quorum.role

    @property
    def voters(self) -> VoterSet:
        """The voter set in force (the quorum state's latest)."""
        return self.quorum.history.current

    @property
    def is_voter(self) -> bool:
        return self.quorum.is_voter

    @property
    def epoch(self) -> int:
        return self.quorum.role.epoch

    @property
    def high_watermark(self) -> Optional[int]:
        """The high watermark as this node knows it (``None`` until known)."""
        return self.log_view.high_watermark

    @property
    def end_offset(self) -> OffsetAndEpoch:
        """Log end offset and last fetched epoch, including appends not yet applied."""
        return self.log_view.end

    def leader_id(self) -> Optional[int]:
        return self.quorum.leader_id()

    def leader_and_epoch(self) -> LeaderAndEpoch:
        return self.quorum.leader_and_epoch()

    def leader_id_or_sentinel(self) -> int:
        return self.quorum.leader_id_or_sentinel()

    def leader_endpoints(self) -> Endpoints:
        return self.quorum.leader_endpoints()

    def has_leader(self) -> bool:
        return self.quorum.leader_id() is not None

    @property
    def is_shut_down(self) -> bool:
        return self.ctx.shutdown is not None and self.ctx.shutdown.finished

    @property
    def shutdown_timed_out(self) -> bool:
        return self.ctx.shutdown is not None and self.ctx.shutdown.timed_out

    @property
    def shutting_down(self) -> bool:
        """Whether a graceful shutdown has begun."""
        return self.ctx.shutdown is not None

    def _begin(self) -> Output:
        if self.quorum.role is None:
            raise FatalRaftError("the node was not started")
        out = self.outbox.begin()
        self.log_view.sync(self.log)
        if self.config.leader_flush_async:
            leader = self.quorum.leader_state()
            if leader is not None:
                fetch.note_leader_flushed(self.ctx, leader)
        return out

    def _finish(self, wait_ms: Optional[int], now: int) -> Output:
        leader = self.quorum.leader_state()
        if leader is not None and leader.read_barriers:
            self._confirm_read_barriers(leader)
        out = self.outbox.take()
        parked = self.parked.fetches
        if self.parked.wake and parked:
            wait_ms = 0
        if self.ctx.shutdown is not None and not self.ctx.shutdown.finished:
            remaining = max(0, self.ctx.shutdown.deadline_ms - now)
            wait_ms = remaining if wait_ms is None else min(wait_ms, remaining)
        for p in parked:
            remaining = max(0, p.deadline_ms - now)
            wait_ms = remaining if wait_ms is None else min(wait_ms, remaining)
        out.next_deadline_ms = None if wait_ms is None else now + max(0, wait_ms)
        return out

    def _new_correlation_id(self) -> int:
        self._next_correlation_id += 1
        return self._next_correlation_id

    def _random_election_timeout(self) -> int:
        return q.random_election_timeout_ms(self.config.election_timeout_ms, self.rng)

    # ---------------------------------------------------------- initialization
    def start(self, now: int) -> Output:
        """Choose the initial role from the stored election state and the log, as Kafka does."""
        if self.quorum.role is not None:
            raise FatalRaftError("the node was already started")
        self.outbox.begin()
        self.log_view.sync(self.log)
        self._next_clean_ms = now + self.log_clean_interval_ms
        self.transitions.start(self._stored, now)
        return self._finish(0, now)

    # ------------------------------------------------------------ public verbs
    def step(self, event, now: int) -> Output:
        """Handle one inbound request, response or ApiVersions update."""
        self._begin()
        if self.is_shut_down:
            return self._finish(None, now)
        fetch.complete_woken_fetches(self.ctx, now)
        fetch.flush_parked_for_read_barriers(self.ctx, now)
        if isinstance(event, InboundRequest):
            self._handle_request(event, now)
        elif isinstance(event, InboundResponse):
            self._handle_inbound_response(event, now)
        elif isinstance(event, PeerApiVersions):
            self.ctx.set_peer_api_versions(event.node_id, event.versions)
        elif isinstance(event, PeerUnreachable):
            self._handle_peer_unreachable(event.node_id, now, event.refused)
        elif isinstance(event, ApiVersionsResult):
            add_voter.handle_api_versions(self.ctx, event, now)
        else:
            raise TypeError(f"unknown event {event!r}")
        # The driver polls again at once: the role may have changed, or a
        # response may let the next request go out.
        return self._finish(0, now)

    def poll(self, now: int) -> Output:
        """Run timers and send what is due; returns when to poll next."""
        self._begin()
        fetch.complete_woken_fetches(self.ctx, now)
        fetch.flush_parked_for_read_barriers(self.ctx, now)
        if self._maybe_complete_shutdown(now):
            return self._finish(None, now)
        fetch.expire_parked(self.ctx, now)
        wait = self._poll_role(now)
        if now >= self._next_clean_ms:
            self._emit(CleanLog())
            self._next_clean_ms = now + self.log_clean_interval_ms
        clean_in = self._next_clean_ms - now
        return self._finish(clean_in if wait is None else min(wait, clean_in), now)

    def create_snapshot(self, snapshot_id: OffsetAndEpoch):
        """A raw writer for a snapshot of the committed log up to ``snapshot_id.offset``
        (Kafka's ``createNewSnapshot``), or ``None`` when the id is below the log start or
        the snapshot exists.  ``ValueError`` when the id is past the high watermark or its
        epoch is not the log's epoch at that offset."""
        if self.quorum.role is None:
            raise FatalRaftError("cannot create a snapshot before the node is started")
        log = self.log
        if snapshot_id.offset < log.start_offset:
            return None
        if snapshot_id.offset > log.high_watermark:
            raise ValueError(f"cannot create snapshot {snapshot_id} beyond the high watermark {log.high_watermark}")
        valid = log.validate_offset_and_epoch(snapshot_id.offset, snapshot_id.epoch)
        if valid.kind is not ValidationKind.VALID:
            raise ValueError(f"snapshot id {snapshot_id} is not valid for the log: {valid.kind.value} "
                             f"{valid.offset_and_epoch}")
        return log.create_new_snapshot(snapshot_id)

    def _handle_peer_unreachable(self, node_id: int, now: int, refused: bool = False) -> None:
        """Fast failover (``QuorumConfig.fast_failover``), a deliberate deviation from Kafka.

        Kafka's followers wait out the fetch timeout (2 s) after the leader dies; both survivors
        of a three-node quorum time out together and often split the vote.  Here a voter following
        ``node_id`` moves its fetch deadline to a *randomised* election timeout from now (never
        later than it was), so the survivors stand one after the other; and a candidate that can
        no longer reach a majority without ``node_id`` backs off now instead of at its election
        timeout.  When the connection was *refused* (the leader's process is gone) the survivors
        stand sooner, in node-id order (``QuorumConfig.fast_failover_refused_step_ms``).  Only
        timers change: votes, epochs and the log rules are untouched.
        """
        if not self.config.fast_failover or not self.is_voter:
            return
        role = self.quorum.role
        handler = self._on_peer_unreachable.get(role.name)
        if handler is not None:
            handler(role, node_id, now, refused)

    def _follower_peer_unreachable(self, role: Follower, node_id: int, now: int, refused: bool) -> None:
        step = self.config.fast_failover_refused_step_ms
        if role.leader_id == node_id and refused and step:
            # the leader is gone: stand in node-id order (QuorumConfig.fast_failover_refused_step_ms)
            survivors = sorted(self.voters.ids - {node_id})
            rank = survivors.index(self.node_id) if self.node_id in survivors else len(survivors)
            role.leader_unreachable = True
            delay = rank * step + self.rng.randrange(max(1, step // 2))
            role.fetch_deadline_ms = min(role.fetch_deadline_ms, now + delay)
        elif role.leader_id == node_id:
            if not role.leader_unreachable:  # once: repeated draws would all drift towards the minimum
                role.leader_unreachable = True
                role.fetch_deadline_ms = min(role.fetch_deadline_ms, now + self._random_election_timeout())

    def _candidate_peer_unreachable(self, role: Candidate, node_id: int, now: int, refused: bool) -> None:
        if node_id in role.voter_ids and node_id != self.node_id:
            role.unreachable.add(node_id)
            if role.backoff_deadline_ms is None and not role.is_vote_granted() and role.cannot_win_without(
                    role.unreachable):
                role.backoff_deadline_ms = now + q.binary_exponential_backoff_ms(
                    role.retries, self.config.election_backoff_max_ms, self.rng)

    def schedule_append(self, epoch: int, records: Sequence[bytes], now: int, *, atomic: bool = False,
                        required_base_offset: Optional[int] = None) -> int:
        """Queue records on the leader of ``epoch``; returns the offset of the last record."""
        if self.ctx.shutdown is not None:
            raise ShutdownError("the raft client is shutting down")
        leader = self.quorum.leader_state()
        if leader is None or self.accumulator is None or leader.resign_requested:
            if epoch < self.quorum.role.epoch:
                raise NotLeaderError(f"epoch {epoch} is stale; the current epoch is {self.quorum.role.epoch}")
            raise NotLeaderError(f"this node is not the leader of epoch {epoch} (it is {self.quorum.role.name} "
                                 f"in epoch {self.quorum.role.epoch})")
        return self.accumulator.append(epoch, records, now, atomic=atomic, required_base_offset=required_base_offset)

    def request_read_barrier(self) -> int:
        """Ask the leader to confirm, with a round of fetches from a majority of voters, that it
        still leads; returns the barrier's id for :meth:`read_barrier_result`.

        The confirmation counts only fetches the leader receives after this call (the answers to
        fetches it held are sent at its next step or poll), so a read served at the high
        watermark the barrier reports, once applied, is linearizable.  ``NotLeaderError`` when
        this node does not lead (or has begun to resign or shut down).
        """
        role = self.quorum.role
        leader = self.quorum.leader_state()
        if self.ctx.shutdown is not None or leader is None or leader.resign_requested:
            raise NotLeaderError(f"this node is not the leader (it is {role.name} in epoch {role.epoch})")
        self._next_read_barrier += 1
        leader.read_barriers[self._next_read_barrier] = ReadBarrier()
        return self._next_read_barrier

    def read_barrier_result(self, barrier_id: int) -> tuple[bool, Optional[int]]:
        """``(True, high watermark)`` once the barrier is confirmed (then forgotten); ``(False,
        None)`` while it waits; ``NotLeaderError`` when it never will (the leadership was lost)."""
        hw = self._confirmed_read_barriers.pop(barrier_id, None)
        if hw is not None:
            return True, hw
        role = self.quorum.role
        leader = self.quorum.leader_state()
        if leader is not None and barrier_id in leader.read_barriers:
            return False, None
        raise NotLeaderError(f"read barrier {barrier_id} was not confirmed: this node stopped leading "
                             f"(it is {role.name} in epoch {role.epoch})")

    def _confirm_read_barriers(self, leader: Leader) -> None:
        hw = leader.high_watermark
        if hw is None:  # the epoch's first batch is not committed yet: the leader's state is not current
            return
        needed = self.voters.majority - (1 if self.is_voter else 0)
        for barrier_id, barrier in list(leader.read_barriers.items()):
            if len(barrier.confirmed) >= needed:
                del leader.read_barriers[barrier_id]
                self._confirmed_read_barriers[barrier_id] = hw

    def forget_appended_below(self, offset: int) -> None:
        """Drop the in-memory copies of appended batches that end below ``offset``."""
        for base in [b for b, batch in self.appended.items() if batch.last_offset < offset]:
            del self.appended[base]

    def resign(self, epoch: int) -> None:
        """Ask the leader of ``epoch`` to resign at its next poll (Kafka's ``resign``)."""
        if epoch < 0:
            raise ValueError(f"invalid epoch {epoch}")
        if not self.is_voter:
            raise ValueError("an observer cannot resign")
        if epoch > self.quorum.role.epoch:
            raise ValueError(f"epoch {epoch} is newer than the current epoch {self.quorum.role.epoch}")
        if epoch < self.quorum.role.epoch:
            return
        leader = self.quorum.leader_state()
        if leader is not None:
            leader.resign_requested = True
        elif self.quorum.resigned_state() is None:
            raise ValueError(f"not the leader of epoch {epoch}")

    def begin_shutdown(self, now: int, timeout_ms: int) -> None:
        """Start a graceful shutdown: a leader resigns; done when someone else leads or at the timeout."""
        if self.ctx.shutdown is None:
            self.ctx.shutdown = Shutdown(now + timeout_ms)

    # ---------------------------------------------------------------- requests
    def _handle_request(self, event: InboundRequest, now: int) -> None:
        req = event.request
        handler = _REQUEST_HANDLERS.get(type(req))
        if handler is None:
            raise TypeError(f"unknown request {req!r}")
        if handler in _EVENT_HANDLERS:
            response = handler(self.ctx, event, now)
        elif handler is describe_quorum.handle_request:
            response = self.describe_quorum(req, now)
        else:
            response = handler(self.ctx, req, event.listener, now)
        if response is not None:
            self._emit(Respond(event.source_id, event.correlation_id, response))

    def describe_quorum(self, req: rpc.DescribeQuorumRequest, now: int) -> rpc.DescribeQuorumResponse:
        """Answer DescribeQuorum as Kafka 3.9.0's leader does (a non-leader: NOT_LEADER_OR_FOLLOWER).

        Observers that have not fetched for five minutes are forgotten first.
        """
        return describe_quorum.handle_request(self.ctx, req, now)

    # --------------------------------------------------------------- responses
    def _handle_inbound_response(self, event: InboundResponse, now: int) -> None:
        if not self.request_manager.is_response_expected(event.source_id, event.correlation_id):
            return
        response = event.response
        handler = _RESPONSE_HANDLERS.get(type(response))
        if handler is None:
            raise TypeError(f"unknown response {response!r}")
        success = handler(self.ctx, event.source_id, response, now)
        self.request_manager.on_response_result(event.source_id, event.correlation_id, success, now)
        self._note_refusal(event.source_id, response, success)

    def _note_refusal(self, source: int, response, success: bool) -> None:
        """Log the first of a series of error answers from ``source`` to one API (it backs off each)."""
        error = response.error_code or getattr(response, "partition_error", Errors.NONE)
        key = (source, response.api_key)
        if success or error in (Errors.NONE, Errors.BROKER_NOT_AVAILABLE):
            if error == Errors.NONE:
                self.refusals.pop(key, None)
            return
        if self.refusals.get(key) != error:
            self.refusals[key] = error
            self._emit(LogMessage(WARNING, (
                f"Node {source} answered our {rpc.API_NAMES.get(response.api_key, response.api_key)} with "
                f"{error_name(error)} in epoch {self.epoch}; backing off {self.config.retry_backoff_ms} ms "
                f"before each retry (logged once until it answers otherwise)")))

    # ---------------------------------------------------------------- sending
    def _maybe_send(self, destination: int, build, now: int) -> int:
        """Send ``build(ctx, destination)`` if the request manager allows; returns how long until it might."""
        return self._try_send(destination, build, now)[1]

    def _try_send(self, destination: int, build, now: int) -> tuple[bool, int]:
        """:meth:`_maybe_send`, also saying whether the request went out (Kafka's ``RequestSendResult``)."""
        rm = self.request_manager
        if rm.is_backing_off(destination, now):
            return False, rm.remaining_backoff_ms(destination, now)
        sent = rm.is_ready(destination, now)
        if sent:
            correlation_id = self._new_correlation_id()
            request = build(self.ctx, destination)
            address = self.voters.endpoints(destination).address(self.listener)
            follower = self.quorum.follower_state()
            if follower is not None and destination == follower.leader_id:
                address = follower.endpoints.address(self.listener) or address
            self._emit(Send(destination, correlation_id, request, address))
            rm.on_request_sent(destination, correlation_id, now)
        return sent, rm.remaining_request_time_ms(destination, now)

    def _send_to_all(self, destinations, build, now: int) -> Optional[int]:
        wait = None
        for destination in sorted(destinations):
            w = self._maybe_send(destination, build, now)
            wait = w if wait is None else min(wait, w)
        return wait

    # ----------------------------------------------------------------- polling
    def _maybe_complete_shutdown(self, now: int) -> bool:
        shutdown = self.ctx.shutdown
        if shutdown is None:
            return False
        if shutdown.finished:
            return True
        if now >= shutdown.deadline_ms:
            shutdown.finished = shutdown.timed_out = True
            return True
        only_voter = self.is_voter and len(self.voters) == 1
        remote_leader = self.leader_id() is not None and self.leader_id() != self.node_id
        if not self.is_voter or only_voter or remote_leader:
            shutdown.finished = True
            return True
        return False

    def _poll_role(self, now: int) -> Optional[int]:
        role = self.quorum.role
        return self._pollers[role.name](role, now)

    def _poll_any_follower(self, follower: Follower, now: int) -> Optional[int]:
        if self.is_voter:
            return self._poll_follower(follower, now)
        return self._poll_observer_follower(follower, now)

    def _poll_leader(self, leader: Leader, now: int) -> Optional[int]:
        check_quorum_expired = leader.check_quorum_deadline_ms is not None and now >= leader.check_quorum_deadline_ms
        if self.ctx.shutdown is not None or leader.resign_requested or check_quorum_expired:
            self.transitions.to_resigned(leader.non_leader_voters_by_descending_fetch_offset(), now)
            return 0
        waits = []
        drain_in = self.accumulator.time_until_drain_ms(now)
        if drain_in == 0:
            self.transitions.append_as_leader(self.accumulator.drain(), now)
        elif drain_in is not None:
            waits.append(drain_in)
        if self.behaviour == REFERENCE_REVISION:
            pending = self.voters.ids - leader.acknowledged - {self.node_id}
            w = self._send_to_all(pending, quorum_epoch.build_begin_quorum_epoch, now) if pending else None
            if w is not None:
                waits.append(w)
        elif now >= leader.begin_quorum_deadline_ms:
            others = self.voters.ids - {self.node_id}
            begin_timeout = self.config.fetch_timeout_ms // 2
            if vote.runs_pre_vote(self.ctx):
                # Kafka 4.2 (KAFKA-16926): only to voters that have not fetched within half the fetch timeout
                others = {i for i in others if now - leader.voters[i].last_fetch_ms >= begin_timeout}
            self._send_to_all(others, quorum_epoch.build_begin_quorum_epoch, now)
            leader.begin_quorum_deadline_ms = now + begin_timeout
        if len(self.voters) > 1 and self.behaviour != REFERENCE_REVISION:
            waits.append(max(0, leader.begin_quorum_deadline_ms - now))
        if leader.check_quorum_deadline_ms is not None:
            waits.append(max(0, leader.check_quorum_deadline_ms - now))
        if leader.voter_change is not None:
            change_wait = voter_change.expire(self.ctx, leader, now)
            if change_wait is not None:
                waits.append(change_wait)
        return min(waits) if waits else None

    def _stand(self, now: int) -> None:
        """A voter's timer ran out: ask for pre-votes (Kafka 4.x) or stand at once (3.9)."""
        if vote.runs_pre_vote(self.ctx):
            self.transitions.to_prospective(now)
        else:
            self.transitions.to_candidate(now)

    def _poll_prospective(self, prospective: Prospective, now: int) -> Optional[int]:
        if self.ctx.shutdown is not None:
            return self._send_votes(prospective, now)
        if now >= prospective.election_deadline_ms:
            self.transitions.after_lost_pre_vote(now)
            return 0
        wait = self._send_votes(prospective, now)
        remaining = prospective.election_deadline_ms - now
        return remaining if wait is None else min(wait, remaining)

    def _poll_candidate(self, candidate: Candidate, now: int) -> Optional[int]:
        if self.ctx.shutdown is not None:
            return self._send_votes(candidate, now)
        if vote.runs_pre_vote(self.ctx) and candidate.backoff_deadline_ms is None:
            # Kafka 4.x (KAFKA-18345): no backoff; a lost election waits out the election timeout,
            # then asks for pre-votes again under a new random timeout
            if now >= candidate.election_deadline_ms:
                self.transitions.to_prospective(now)
                return 0
            wait = self._send_votes(candidate, now)
            remaining = candidate.election_deadline_ms - now
            return remaining if wait is None else min(wait, remaining)
        if candidate.backoff_deadline_ms is not None:
            if now >= candidate.backoff_deadline_ms:
                self._stand(now)  # with 4.x peers (a fast-failover backoff) through a pre-vote round
                return 0
            return candidate.backoff_deadline_ms - now
        if now >= candidate.election_deadline_ms:
            backoff = q.binary_exponential_backoff_ms(candidate.retries, self.config.election_backoff_max_ms, self.rng)
            candidate.backoff_deadline_ms = now + backoff
            return backoff
        wait = self._send_votes(candidate, now)
        remaining = candidate.election_deadline_ms - now
        return remaining if wait is None else min(wait, remaining)

    def _send_votes(self, candidate: Candidate, now: int) -> Optional[int]:
        if candidate.is_vote_rejected():
            return None
        return self._send_to_all(candidate.unrecorded_voters(), vote.build_request, now)

    def _poll_follower(self, follower: Follower, now: int) -> Optional[int]:
        if self.ctx.shutdown is not None:
            return 0
        if now >= follower.fetch_deadline_ms:
            self._stand(now)
            return 0
        if vote.runs_pre_vote(self.ctx):
            # Kafka 4.x (pollFollowerAsVoter): UpdateRaftVoter when due (also at kraft.version 0 to a 4.x
            # leader, once); the timer starts again only if it went out, or when none was needed
            if not membership.update_due(self.ctx, follower, now):
                wait = self._maybe_send(follower.leader_id, _build_fetch_or_snapshot, now)
            elif membership.should_send_update(self.ctx, follower):
                sent, wait = self._try_send(follower.leader_id, membership.build_update, now)
                if sent:
                    membership.reset_timer(self.ctx, follower, now)
            else:
                membership.reset_timer(self.ctx, follower, now)
                wait = self._maybe_send(follower.leader_id, _build_fetch_or_snapshot, now)
            # Kafka 4.x waits on the fetch timer only (a timer not reset is retried at the next poll)
            return min(wait, follower.fetch_deadline_ms - now)
        if membership.update_due(self.ctx, follower, now):
            # Kafka 3.9 (pollFollowerAsVoter): one attempt, then the timer starts again either way
            build = membership.build_update if membership.voter_needs_update(self.ctx) else _build_fetch_or_snapshot
            wait = self._maybe_send(follower.leader_id, build, now)
            membership.reset_timer(self.ctx, follower, now)
        else:
            wait = self._maybe_send(follower.leader_id, _build_fetch_or_snapshot, now)
        return min(wait, follower.fetch_deadline_ms - now, follower.update_voter_deadline_ms - now)

    def _bootstrap_fetch(self, now: int, exclude: Optional[int] = None) -> int:
        rm = self.request_manager
        node = rm.find_ready_bootstrap_server(now, self.rng, exclude)
        if node is not None:
            return self._maybe_send(node, fetch.build_request, now)
        return rm.backoff_before_available_bootstrap_server(now, exclude)

    def _poll_observer_follower(self, follower: Follower, now: int) -> Optional[int]:
        rm = self.request_manager
        if now >= follower.fetch_deadline_ms:
            return self._bootstrap_fetch(now)
        if self.ctx.shutdown is not None:
            return 0
        if membership.should_join(self.ctx, self.config.auto_join) and membership.update_due(self.ctx, follower, now):
            wait = self._maybe_send(follower.leader_id, membership.build_join, now)
            membership.reset_timer(self.ctx, follower, now)
            return min(wait, follower.fetch_deadline_ms - now)
        leader = follower.leader_id
        if rm.has_request_timed_out(leader, now):
            rm.reset(leader)
            wait = self._bootstrap_fetch(now)
        elif rm.is_backing_off(leader, now):
            wait = self._bootstrap_fetch(now)
        elif not rm.has_any_inflight_request(now):
            wait = self._maybe_send(leader, _build_fetch_or_snapshot, now)
        else:
            wait = rm.backoff_before_available_bootstrap_server(now)
        return min(wait, follower.fetch_deadline_ms - now)

    def _poll_unattached(self, unattached: Unattached, now: int) -> Optional[int]:
        if not self.is_voter:
            return self._bootstrap_fetch(now)
        if self.ctx.shutdown is not None:
            return max(0, self.ctx.shutdown.deadline_ms - now)
        if now >= unattached.election_deadline_ms:
            self._stand(now)
            return 0
        if vote.runs_pre_vote(self.ctx):
            # Kafka 4.x (KAFKA-17030, KafkaRaftClient.pollUnattachedCommon): until its election timer runs
            # out, an unattached voter looks for the leader by fetching from a bootstrap server (the static
            # voters when none are configured), one request at a time with the retry backoff.  Deviation:
            # never from itself (Kafka's voter-derived list holds the local node and may pick it).
            wait = self._bootstrap_fetch(now, exclude=self.ctx.quorum.node_id)
            return min(wait, unattached.election_deadline_ms - now)
        return unattached.election_deadline_ms - now

    def _poll_resigned(self, resigned: Resigned, now: int) -> Optional[int]:
        wait = self._send_to_all(resigned.unacknowledged, quorum_epoch.build_end_quorum_epoch, now)
        if self.ctx.shutdown is not None:
            state_wait = max(0, self.ctx.shutdown.deadline_ms - now)
        elif now >= resigned.election_deadline_ms:
            if self.is_voter and not vote.runs_pre_vote(self.ctx):
                self.transitions.to_candidate(now)
            else:
                self.transitions.to_unattached(resigned.epoch + 1, now)
            state_wait = 0
        else:
            state_wait = resigned.election_deadline_ms - now
        return state_wait if wait is None else min(wait, state_wait)


def _build_fetch_or_snapshot(ctx: Context, destination: int):
    """What a follower sends its leader: FetchSnapshot while downloading a snapshot, else Fetch."""
    follower = ctx.quorum.follower_state()
    if follower is not None and follower.snapshot_id is not None:
        return fetch_snapshot.build_request(ctx, destination)
    return fetch.build_request(ctx, destination)


#: Each request type's handler: ``(ctx, request, listener, now)``, except Fetch (the whole event, to
#: park it) and DescribeQuorum (through the node's public ``describe_quorum``).
_REQUEST_HANDLERS = {
    rpc.VoteRequest: vote.handle_request,
    rpc.BeginQuorumEpochRequest: quorum_epoch.handle_begin_quorum_epoch_request,
    rpc.EndQuorumEpochRequest: quorum_epoch.handle_end_quorum_epoch_request,
    rpc.FetchRequest: fetch.handle_request,
    rpc.FetchSnapshotRequest: fetch_snapshot.handle_request,
    rpc.DescribeQuorumRequest: describe_quorum.handle_request,
    rpc.UpdateRaftVoterRequest: update_voter.handle_request,
    rpc.AddRaftVoterRequest: add_voter.handle_request,
    rpc.RemoveRaftVoterRequest: remove_voter.handle_request,
}

#: Handlers that take the whole inbound event (to park it, or to answer it later): ``(ctx, event, now)``.
_EVENT_HANDLERS = (fetch.handle_request, add_voter.handle_request, remove_voter.handle_request)

#: Each response type's handler: ``(ctx, source id, response, now)``, returning the request's success.
_RESPONSE_HANDLERS = {
    rpc.VoteResponse: vote.handle_response,
    rpc.BeginQuorumEpochResponse: quorum_epoch.handle_begin_quorum_epoch_response,
    rpc.EndQuorumEpochResponse: quorum_epoch.handle_end_quorum_epoch_response,
    rpc.FetchResponse: fetch.handle_response,
    rpc.FetchSnapshotResponse: fetch_snapshot.handle_response,
    rpc.UpdateRaftVoterResponse: membership.handle_update_response,
    rpc.AddRaftVoterResponse: membership.handle_join_response,
    rpc.RemoveRaftVoterResponse: membership.handle_join_response,
}
