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

import uuid
from dataclasses import dataclass
from typing import Optional, Sequence

from kraft.core import quorum as q
from kraft.core import rpc
from kraft.core.accumulator import MAX_BATCH_SIZE_BYTES, BatchAccumulator, control_batch_size
from kraft.core.behaviour import KAFKA_3_9, REFERENCE_REVISION
from kraft.core.config import QuorumConfig
from kraft.core.effects import (
    AbandonSnapshotDownload, CleanLog, Flush, InboundRequest, InboundResponse, InitializeLeaderEpoch,
    LeaderBatch, LeaderChangeMessage, Output, PeerApiVersions, PeerUnreachable, Respond, Send,
)
from kraft.core.errors import FatalRaftError, IllegalTransitionError, NotLeaderError, ShutdownError
from kraft.core.log import OffsetAndEpoch, ReplicatedLog, ValidationKind
from kraft.core.log_view import LogView, Outbox
from kraft.core.quorum_state import QuorumState
from kraft.core.request_manager import RequestManager
from kraft.core.roles import (
    CANDIDATE, FOLLOWER, LEADER, RESIGNED, UNATTACHED, Candidate, Follower, Leader, ReadBarrier, ReplicaProgress,
    Resigned, Unattached,
)
from kraft.core import voter_change
from kraft.core.effects import ApiVersionsResult
from kraft.core.rpcs import add_voter, describe_quorum, fetch, fetch_snapshot, quorum_epoch, remove_voter, update_voter, vote
from kraft.core.rpcs.describe_quorum import OBSERVER_SESSION_TIMEOUT_MS
from kraft.core.types import (
    EMPTY_ENDPOINTS, ElectionState, Endpoints, LeaderAndEpoch, ReplicaKey, VoterSet,
)
from kraft.protocol.errors import Errors

__all__ = [
    "KAFKA_3_9", "LOG_CLEAN_INTERVAL_MS", "METADATA_TOPIC", "METADATA_TOPIC_ID", "OBSERVER_SESSION_TIMEOUT_MS",
    "PERFORMANCE_TEST_TOPIC", "PERFORMANCE_TEST_TOPIC_ID", "REFERENCE_REVISION", "RaftNode",
]

#: Topic ids KRaft matches Fetch on (``AAAAAAAAAAAAAAAAAAAAAQ`` and ``...Ag``).
METADATA_TOPIC = "__cluster_metadata"
METADATA_TOPIC_ID = uuid.UUID(int=1)
PERFORMANCE_TEST_TOPIC = "__raft_performance_test"
PERFORMANCE_TEST_TOPIC_ID = uuid.UUID(int=2)

_NEVER = None
#: Kafka's raft client applies the log's retention limits once a minute.
LOG_CLEAN_INTERVAL_MS = 60_000


@dataclass
class _Shutdown:
    deadline_ms: int
    finished: bool = False
    timed_out: bool = False


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
        directory_id: Optional[uuid.UUID] = None,
        stored_election: Optional[ElectionState] = None,
        topic: str = METADATA_TOPIC,
        topic_id: uuid.UUID = METADATA_TOPIC_ID,
        partition: int = 0,
        listener: str = "CONTROLLER",
        endpoints: Endpoints = EMPTY_ENDPOINTS,
        behaviour: str = KAFKA_3_9,
        bootstrap_servers: Optional[Sequence[int]] = None,
        max_batch_size: int = MAX_BATCH_SIZE_BYTES,
        log_clean_interval_ms: int = LOG_CLEAN_INTERVAL_MS,
        kraft_version: int = 0,
        voters_offset: Optional[int] = None,
    ):
        if node_id < 0:
            raise ValueError(f"node id must be non-negative, got {node_id}")
        if behaviour not in (KAFKA_3_9, REFERENCE_REVISION):
            raise ValueError(f"unknown behaviour {behaviour!r}")
        self.node_id = node_id
        self.local_key = ReplicaKey.of(node_id, directory_id)
        #: the one owner of the role, the local identity and the voter sets
        self.outbox = Outbox()
        self._emit = self.outbox.emit
        self.quorum = QuorumState(self.local_key, voters, self._emit)
        if voters_offset is not None and voters_offset >= 0:
            # the set in force came from a Voters record of the log at that offset (committed or not)
            self.quorum.history.add_at(voters_offset, voters)
        #: the finalized kraft.version (1: the voters live in the log and may change, KIP-853)
        self.kraft_version = kraft_version
        #: the log as this node sees it within a call (end, high watermark, append, truncate)
        self.log_view = LogView(self.outbox, self.quorum.history)
        self.cluster_id = cluster_id
        self.log = log
        self.rng = rng
        self.config = config
        self.topic = topic
        self.topic_id = topic_id
        self.partition = partition
        self.listener = listener.upper()
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
        #: each peer's ApiVersions (``None``: it answered none), by node id
        self.peer_api_versions: dict[int, Optional[dict]] = {}
        self._next_correlation_id = 0
        #: the poll for each role, by role name (one dispatch instead of a chain of type tests)
        self._pollers = {
            LEADER: self._poll_leader, CANDIDATE: self._poll_candidate, FOLLOWER: self._poll_any_follower,
            UNATTACHED: self._poll_unattached, RESIGNED: self._poll_resigned,
        }
        #: fetches the leader holds until data arrives or their wait ends
        self.parked = fetch.ParkedFetches()
        self._shutdown: Optional[_Shutdown] = None
        self.accumulator: Optional[BatchAccumulator] = None
        #: batches appended in the current leader epoch, by base offset, until listeners are past them
        self.appended: dict[int, LeaderBatch] = {}
        self._next_read_barrier = 0
        #: read barriers confirmed by a majority: id -> the leader's high watermark then
        self._confirmed_read_barriers: dict[int, int] = {}

    # ------------------------------------------------------------------ basics
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
        return self.quorum.role.current_leader(self.node_id)

    def leader_and_epoch(self) -> LeaderAndEpoch:
        return LeaderAndEpoch(self.leader_id(), self.quorum.role.epoch)

    def leader_id_or_sentinel(self) -> int:
        leader = self.leader_id()
        return -1 if leader is None else leader

    def leader_endpoints(self) -> Endpoints:
        return self.quorum.role.current_leader_endpoints(self.endpoints)

    @property
    def is_shut_down(self) -> bool:
        return self._shutdown is not None and self._shutdown.finished

    @property
    def shutdown_timed_out(self) -> bool:
        return self._shutdown is not None and self._shutdown.timed_out

    @property
    def shutting_down(self) -> bool:
        """Whether a graceful shutdown has begun."""
        return self._shutdown is not None

    def _begin(self) -> Output:
        if self.quorum.role is None:
            raise FatalRaftError("the node was not started")
        out = self.outbox.begin()
        self.log_view.sync(self.log)
        return out

    def _finish(self, wait_ms: Optional[int], now: int) -> Output:
        if isinstance(self.quorum.role, Leader) and self.quorum.role.read_barriers:
            self._confirm_read_barriers(self.quorum.role)
        out = self.outbox.take()
        parked = self.parked.fetches
        if self.parked.wake and parked:
            wait_ms = 0
        if self._shutdown is not None and not self._shutdown.finished:
            remaining = max(0, self._shutdown.deadline_ms - now)
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
        stored = self._stored
        log_epoch = self.log_view.end.epoch
        deadline = now + self._random_election_timeout() if self.is_voter else _NEVER
        if stored.epoch < log_epoch:
            role = Unattached(log_epoch, deadline)
        elif stored.leader_id == self.node_id:
            role = Resigned(stored.epoch, self.node_id, now + self._random_election_timeout(),
                            set(self.voters.ids - {self.node_id}), (), self.endpoints)
        elif stored.voted_key is not None and stored.voted_key.id == self.node_id and (
                stored.voted_key.directory_id is None or stored.voted_key.directory_id == self.local_key.directory_id):
            role = Candidate(stored.epoch, self.local_key, self.voters.ids, 1, now + self._random_election_timeout())
        elif stored.voted_key is not None:
            role = Unattached(stored.epoch, deadline, voted_key=stored.voted_key)
        elif stored.has_leader:
            endpoints = self.voters.endpoints(stored.leader_id)
            if endpoints:
                role = Follower(stored.epoch, stored.leader_id, endpoints, now + self.config.fetch_timeout_ms)
            else:
                role = Unattached(stored.epoch, deadline, leader_id=stored.leader_id)
        else:
            role = Unattached(stored.epoch, deadline)
        self.quorum.initialize(role)
        if isinstance(role, Candidate):
            self._on_become_candidate(now)
        elif isinstance(role, Follower):
            self.request_manager.reset_all()
        if self.is_voter and len(self.voters) == 1 and isinstance(self.quorum.role, (Unattached, Resigned, Follower)):
            self.transition_to_candidate(now)
        return self._finish(0, now)

    # ------------------------------------------------------------- transitions
    def _durable_transition(self, new_role) -> None:
        self._left_role(self.quorum.transition(new_role))

    def _left_role(self, old) -> None:
        if isinstance(old, Leader):
            voter_change.leader_left(self, old)
            self.accumulator = None
            self.appended.clear()
        elif isinstance(old, Follower) and old.snapshot_id is not None:
            self._emit(AbandonSnapshotDownload(old.snapshot_id))

    def transition_to_unattached(self, epoch: int, now: int, leader_id: Optional[int] = None) -> None:
        """Enter ``epoch`` with no leader, or (``leader_id``) with a leader whose endpoints are unknown."""
        if epoch <= self.quorum.role.epoch:
            raise IllegalTransitionError(f"cannot become Unattached in epoch {epoch} from {self.quorum.role}")
        if not self.is_voter:
            deadline = _NEVER
        elif isinstance(self.quorum.role, (Candidate, Unattached)):
            deadline = self.quorum.role.election_deadline_ms
        else:
            deadline = now + self._random_election_timeout()
        was_leader_like = self.quorum.role.leader_like
        self._durable_transition(Unattached(epoch, deadline, leader_id=leader_id))
        if was_leader_like:
            fetch.fail_parked(self, Errors.NOT_LEADER_OR_FOLLOWER)
        self.request_manager.reset_all()

    def transition_to_voted(self, epoch: int, candidate: ReplicaKey, now: int) -> None:
        if candidate.id == self.node_id:
            raise IllegalTransitionError("cannot vote for the local node as another candidate")
        role = self.quorum.role
        if epoch < role.epoch or (epoch == role.epoch and not (
                isinstance(role, Unattached) and role.voted_key is None)):
            raise IllegalTransitionError(f"cannot vote in epoch {epoch} from {role}")
        self._durable_transition(Unattached(epoch, now + self._random_election_timeout(), voted_key=candidate))

    def transition_to_follower(self, epoch: int, leader_id: int, endpoints: Endpoints, now: int) -> None:
        role = self.quorum.role
        if not endpoints:
            raise FatalRaftError(f"leader {leader_id} of epoch {epoch} has no known endpoints")
        if leader_id == self.node_id:
            raise IllegalTransitionError(f"cannot follow the local node {leader_id}")
        if epoch < role.epoch:
            raise IllegalTransitionError(f"cannot follow {leader_id} in epoch {epoch} < {role.epoch}")
        if epoch == role.epoch:
            if isinstance(role, Follower) and len(role.endpoints) >= len(endpoints):
                raise IllegalTransitionError(f"already following {role.leader_id} in epoch {epoch}")
            if isinstance(role, Leader):
                raise IllegalTransitionError(f"cannot follow {leader_id} while leading epoch {epoch}")
        was_leader_like = role.leader_like
        self._durable_transition(Follower(epoch, leader_id, endpoints, now + self.config.fetch_timeout_ms))
        self.request_manager.reset_all()
        if was_leader_like:
            fetch.fail_parked(self, Errors.NOT_LEADER_OR_FOLLOWER)

    def transition_to_candidate(self, now: int) -> None:
        if not self.is_voter:
            raise IllegalTransitionError("an observer cannot become a candidate")
        if isinstance(self.quorum.role, Leader):
            raise IllegalTransitionError("a leader cannot become a candidate")
        retries = self.quorum.role.retries + 1 if isinstance(self.quorum.role, Candidate) else 1
        was_leader_like = self.quorum.role.leader_like  # a leader raised above: this is Resigned
        self._durable_transition(Candidate(self.quorum.role.epoch + 1, self.local_key, self.voters.ids, retries,
                                           now + self._random_election_timeout()))
        if was_leader_like:
            fetch.fail_parked(self, Errors.NOT_LEADER_OR_FOLLOWER)
        self._on_become_candidate(now)

    def _on_become_candidate(self, now: int) -> None:
        if not self.maybe_become_leader(now):
            self.request_manager.reset_all()

    def maybe_become_leader(self, now: int) -> bool:
        role = self.quorum.role
        if not (isinstance(role, Candidate) and role.is_vote_granted()):
            return False
        start = self.log_view.end.offset
        voters = {k.id: ReplicaProgress(k) for k in self.voters.keys()}
        single = len(self.voters) == 1
        leader = Leader(
            epoch=role.epoch, local_key=self.local_key, epoch_start_offset=start, voters=voters,
            granting_voters=frozenset(role.granted),
            check_quorum_deadline_ms=None if single else now + self.config.check_quorum_timeout_ms,
            begin_quorum_deadline_ms=now, endpoints=self.endpoints,
        )
        leader.acknowledged.add(self.node_id)
        self._durable_transition(leader)
        self._emit(InitializeLeaderEpoch(role.epoch))
        change = LeaderChangeMessage(self.node_id, tuple(sorted(self.voters.ids)), tuple(sorted(role.granted)))
        batches = [LeaderBatch(start, role.epoch, now, (), change, control_batch_size(change))]
        voters = voter_change.epoch_start_voters(self, start + 1, role.epoch, now)
        if voters is not None:  # Kafka writes these in the LeaderChange batch; here in the next one
            batches.append(voters)
        self.accumulator = BatchAccumulator(role.epoch, batches[-1].last_offset + 1, self.config.append_linger_ms,
                                            self.max_batch_size)
        self._append_as_leader(batches, now)
        self.request_manager.reset_all()
        return True

    def transition_to_resigned(self, successors: list[ReplicaKey], now: int) -> None:
        fetch.fail_parked(self, Errors.NOT_LEADER_OR_FOLLOWER)
        new_role = Resigned(self.quorum.role.epoch, self.node_id, now + self._random_election_timeout(),
                            set(self.voters.ids - {self.node_id}), tuple(successors), self.endpoints)
        self._left_role(self.quorum.transition(new_role, durable=False))
        self.request_manager.reset_all()

    def has_leader(self) -> bool:
        return self.leader_id() is not None

    def maybe_transition(self, leader_id: Optional[int], epoch: int, endpoints: Endpoints, now: int) -> None:
        local_leader = self.leader_id()
        if leader_id is not None and leader_id == self.node_id:
            consistent = isinstance(self.quorum.role, Leader)
        else:
            consistent = (epoch != self.quorum.role.epoch or leader_id is None or local_leader is None
                          or leader_id == local_leader)
        if not consistent:
            raise FatalRaftError(
                f"leader {leader_id} in epoch {epoch} is inconsistent with the local view "
                f"(leader {local_leader}, epoch {self.quorum.role.epoch})")
        if epoch > self.quorum.role.epoch:
            if leader_id is not None and endpoints:
                self.transition_to_follower(epoch, leader_id, endpoints, now)
            else:
                self.transition_to_unattached(epoch, now, leader_id)
        elif leader_id is not None and endpoints and (
                local_leader is None or len(endpoints) > len(self.leader_endpoints())):
            self.transition_to_follower(epoch, leader_id, endpoints, now)

    # ------------------------------------------------------------ public verbs
    def step(self, event, now: int) -> Output:
        """Handle one inbound request, response or ApiVersions update."""
        self._begin()
        if self.is_shut_down:
            return self._finish(None, now)
        fetch.complete_woken_fetches(self, now)
        fetch.flush_parked_for_read_barriers(self, now)
        if isinstance(event, InboundRequest):
            self._handle_request(event, now)
        elif isinstance(event, InboundResponse):
            self._handle_inbound_response(event, now)
        elif isinstance(event, PeerApiVersions):
            self.peer_api_versions[event.node_id] = event.versions
        elif isinstance(event, PeerUnreachable):
            self._handle_peer_unreachable(event.node_id, now)
        elif isinstance(event, ApiVersionsResult):
            add_voter.handle_api_versions(self, event, now)
        else:
            raise TypeError(f"unknown event {event!r}")
        # The driver polls again at once: the role may have changed, or a
        # response may let the next request go out.
        return self._finish(0, now)

    def poll(self, now: int) -> Output:
        """Run timers and send what is due; returns when to poll next."""
        self._begin()
        fetch.complete_woken_fetches(self, now)
        fetch.flush_parked_for_read_barriers(self, now)
        if self._maybe_complete_shutdown(now):
            return self._finish(None, now)
        fetch.expire_parked(self, now)
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

    def _handle_peer_unreachable(self, node_id: int, now: int) -> None:
        """Fast failover (``QuorumConfig.fast_failover``), a deliberate deviation from Kafka.

        Kafka's followers wait out the fetch timeout (2 s) after the leader dies; both survivors
        of a three-node quorum time out together and often split the vote.  Here a voter following
        ``node_id`` moves its fetch deadline to a *randomised* election timeout from now (never
        later than it was), so the survivors stand one after the other; and a candidate that can
        no longer reach a majority without ``node_id`` backs off now instead of at its election
        timeout.  Only timers change: votes, epochs and the log rules are untouched.
        """
        if not self.config.fast_failover or not self.is_voter:
            return
        role = self.quorum.role
        if isinstance(role, Follower) and role.leader_id == node_id:
            if not role.leader_unreachable:  # once: repeated draws would all drift towards the minimum
                role.leader_unreachable = True
                role.fetch_deadline_ms = min(role.fetch_deadline_ms, now + self._random_election_timeout())
        elif isinstance(role, Candidate) and node_id in role.voter_ids and node_id != self.node_id:
            role.unreachable.add(node_id)
            if role.backoff_deadline_ms is None and not role.is_vote_granted() and role.cannot_win_without(
                    role.unreachable):
                role.backoff_deadline_ms = now + q.binary_exponential_backoff_ms(
                    role.retries, self.config.election_backoff_max_ms, self.rng)

    def schedule_append(self, epoch: int, records: Sequence[bytes], now: int, *, atomic: bool = False,
                        required_base_offset: Optional[int] = None) -> int:
        """Queue records on the leader of ``epoch``; returns the offset of the last record."""
        if self._shutdown is not None:
            raise ShutdownError("the raft client is shutting down")
        if not isinstance(self.quorum.role, Leader) or self.accumulator is None or self.quorum.role.resign_requested:
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
        if self._shutdown is not None or not isinstance(role, Leader) or role.resign_requested:
            raise NotLeaderError(f"this node is not the leader (it is {role.name} in epoch {role.epoch})")
        self._next_read_barrier += 1
        role.read_barriers[self._next_read_barrier] = ReadBarrier()
        return self._next_read_barrier

    def read_barrier_result(self, barrier_id: int) -> tuple[bool, Optional[int]]:
        """``(True, high watermark)`` once the barrier is confirmed (then forgotten); ``(False,
        None)`` while it waits; ``NotLeaderError`` when it never will (the leadership was lost)."""
        hw = self._confirmed_read_barriers.pop(barrier_id, None)
        if hw is not None:
            return True, hw
        role = self.quorum.role
        if isinstance(role, Leader) and barrier_id in role.read_barriers:
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
        if isinstance(self.quorum.role, Leader):
            self.quorum.role.resign_requested = True
        elif not isinstance(self.quorum.role, Resigned):
            raise ValueError(f"not the leader of epoch {epoch}")

    def begin_shutdown(self, now: int, timeout_ms: int) -> None:
        """Start a graceful shutdown: a leader resigns; done when someone else leads or at the timeout."""
        if self._shutdown is None:
            self._shutdown = _Shutdown(now + timeout_ms)

    # ---------------------------------------------------------------- requests
    def _handle_request(self, event: InboundRequest, now: int) -> None:
        req = event.request
        handler = _REQUEST_HANDLERS.get(type(req))
        if handler is None:
            raise TypeError(f"unknown request {req!r}")
        if handler in _EVENT_HANDLERS:
            response = handler(self, event, now)
        elif handler is describe_quorum.handle_request:
            response = self.describe_quorum(req, now)
        else:
            response = handler(self, req, event.listener, now)
        if response is not None:
            self._emit(Respond(event.source_id, event.correlation_id, response))

    def describe_quorum(self, req: rpc.DescribeQuorumRequest, now: int) -> rpc.DescribeQuorumResponse:
        """Answer DescribeQuorum as Kafka 3.9.0's leader does (a non-leader: NOT_LEADER_OR_FOLLOWER).

        Observers that have not fetched for five minutes are forgotten first.
        """
        return describe_quorum.handle_request(self, req, now)

    # --------------------------------------------------------------- responses
    def _handle_inbound_response(self, event: InboundResponse, now: int) -> None:
        if not self.request_manager.is_response_expected(event.source_id, event.correlation_id):
            return
        response = event.response
        handler = _RESPONSE_HANDLERS.get(type(response))
        if handler is None:
            raise TypeError(f"unknown response {response!r}")
        success = handler(self, event.source_id, response, now)
        self.request_manager.on_response_result(event.source_id, event.correlation_id, success, now)

    # ---------------------------------------------------------------- sending
    def _maybe_send(self, destination: int, build, now: int) -> int:
        """Send ``build(node, destination)`` if the request manager allows; returns how long until it might."""
        rm = self.request_manager
        if rm.is_backing_off(destination, now):
            return rm.remaining_backoff_ms(destination, now)
        if rm.is_ready(destination, now):
            correlation_id = self._new_correlation_id()
            request = build(self, destination)
            address = self.voters.endpoints(destination).address(self.listener)
            if isinstance(self.quorum.role, Follower) and destination == self.quorum.role.leader_id:
                address = self.quorum.role.endpoints.address(self.listener) or address
            self._emit(Send(destination, correlation_id, request, address))
            rm.on_request_sent(destination, correlation_id, now)
        return rm.remaining_request_time_ms(destination, now)

    def _send_to_all(self, destinations, build, now: int) -> Optional[int]:
        wait = None
        for destination in sorted(destinations):
            w = self._maybe_send(destination, build, now)
            wait = w if wait is None else min(wait, w)
        return wait

    # ----------------------------------------------------------------- polling
    def _maybe_complete_shutdown(self, now: int) -> bool:
        shutdown = self._shutdown
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
        if self._shutdown is not None or leader.resign_requested or check_quorum_expired:
            self.transition_to_resigned(leader.non_leader_voters_by_descending_fetch_offset(), now)
            return 0
        waits = []
        drain_in = self.accumulator.time_until_drain_ms(now)
        if drain_in == 0:
            self._append_as_leader(self.accumulator.drain(), now)
        elif drain_in is not None:
            waits.append(drain_in)
        others = self.voters.ids - {self.node_id}
        if self.behaviour == REFERENCE_REVISION:
            pending = others - leader.acknowledged
            w = self._send_to_all(pending, quorum_epoch.build_begin_quorum_epoch, now) if pending else None
            if w is not None:
                waits.append(w)
        elif now >= leader.begin_quorum_deadline_ms:
            self._send_to_all(others, quorum_epoch.build_begin_quorum_epoch, now)
            leader.begin_quorum_deadline_ms = now + self.config.fetch_timeout_ms // 2
        if others and self.behaviour != REFERENCE_REVISION:
            waits.append(max(0, leader.begin_quorum_deadline_ms - now))
        if leader.check_quorum_deadline_ms is not None:
            waits.append(max(0, leader.check_quorum_deadline_ms - now))
        change_wait = voter_change.expire(self, leader, now)
        if change_wait is not None:
            waits.append(change_wait)
        return min(waits) if waits else None

    def _append_as_leader(self, batches: list[LeaderBatch], now: int) -> None:
        if not batches:
            return
        leader: Leader = self.quorum.role
        view = self.log_view
        for batch in batches:
            if batch.base_offset != view.end.offset:
                raise FatalRaftError(f"batch at {batch.base_offset} does not continue the log end {view.end.offset}")
            view.append_as_leader(batch, leader.epoch)
            self.appended[batch.base_offset] = batch
            if batch.control is not None:
                voter_change.on_leader_batch(self, leader, batch)
        self._emit(Flush())
        local = leader.voters.get(self.node_id)
        if local is None or not local.key.matches(self.local_key):  # a leader that removed itself
            local = leader.observers.setdefault(self.local_key, ReplicaProgress(self.local_key))
        local.end_offset = view.end.offset
        self.parked.wake = True
        fetch.maybe_update_leader_high_watermark(self, leader)

    def _poll_candidate(self, candidate: Candidate, now: int) -> Optional[int]:
        if self._shutdown is not None:
            return self._send_votes(candidate, now)
        if candidate.backoff_deadline_ms is not None:
            if now >= candidate.backoff_deadline_ms:
                self.transition_to_candidate(now)
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
        if self._shutdown is not None:
            return 0
        if now >= follower.fetch_deadline_ms:
            self.transition_to_candidate(now)
            return 0
        wait = self._maybe_send(follower.leader_id, _build_fetch_or_snapshot, now)
        return min(wait, follower.fetch_deadline_ms - now)

    def _bootstrap_fetch(self, now: int) -> int:
        rm = self.request_manager
        node = rm.find_ready_bootstrap_server(now, self.rng)
        if node is not None:
            return self._maybe_send(node, fetch.build_request, now)
        return rm.backoff_before_available_bootstrap_server(now)

    def _poll_observer_follower(self, follower: Follower, now: int) -> Optional[int]:
        rm = self.request_manager
        if now >= follower.fetch_deadline_ms:
            return self._bootstrap_fetch(now)
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
        if self._shutdown is not None:
            return max(0, self._shutdown.deadline_ms - now)
        if now >= unattached.election_deadline_ms:
            self.transition_to_candidate(now)
            return 0
        return unattached.election_deadline_ms - now

    def _poll_resigned(self, resigned: Resigned, now: int) -> Optional[int]:
        wait = self._send_to_all(resigned.unacknowledged, quorum_epoch.build_end_quorum_epoch, now)
        if self._shutdown is not None:
            state_wait = max(0, self._shutdown.deadline_ms - now)
        elif now >= resigned.election_deadline_ms:
            if self.is_voter:
                self.transition_to_candidate(now)
            else:
                self.transition_to_unattached(resigned.epoch + 1, now)
            state_wait = 0
        else:
            state_wait = resigned.election_deadline_ms - now
        return state_wait if wait is None else min(wait, state_wait)


def _build_fetch_or_snapshot(node: RaftNode, destination: int):
    """What a follower sends its leader: FetchSnapshot while downloading a snapshot, else Fetch."""
    if isinstance(node.role, Follower) and node.role.snapshot_id is not None:
        return fetch_snapshot.build_request(node, destination)
    return fetch.build_request(node, destination)


#: Each request type's handler: ``(node, request, listener, now)``, except Fetch (the whole event, to
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

#: Handlers that take the whole inbound event (to park it, or to answer it later): ``(node, event, now)``.
_EVENT_HANDLERS = (fetch.handle_request, add_voter.handle_request, remove_voter.handle_request)

#: Each response type's handler: ``(node, source id, response, now)``, returning the request's success.
_RESPONSE_HANDLERS = {
    rpc.VoteResponse: vote.handle_response,
    rpc.BeginQuorumEpochResponse: quorum_epoch.handle_begin_quorum_epoch_response,
    rpc.EndQuorumEpochResponse: quorum_epoch.handle_end_quorum_epoch_response,
    rpc.FetchResponse: fetch.handle_response,
    rpc.FetchSnapshotResponse: fetch_snapshot.handle_response,
}
