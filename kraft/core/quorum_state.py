"""The quorum state: the one owner of the local replica's role, its identity and the voter sets.

Kafka keeps these together in ``QuorumState`` (the role and its transitions) and
``VoterSetHistory`` (the voter sets the log has held, by offset).  Here:

* :class:`VoterSetHistory` holds the static configuration as its bootstrap entry and
  every voter set the log records at the offset of its record, and the kraft.version
  likewise (0 where no ``KRaftVersionRecord`` says otherwise): Kafka's
  ``KRaftControlRecordStateMachine``.  It follows the log: it is loaded from the
  log at start (:meth:`~VoterSetHistory.load`: the records of the snapshot the log
  continues, at the snapshot's end offset - 1, then the log's control batches);
  entries are added on every append, leader's or follower's
  (:meth:`~VoterSetHistory.append_records`, :meth:`~VoterSetHistory.append_leader_batch`),
  dropped from the end on truncation and replaced when a snapshot is installed (the
  snapshot's own records).  The voter set *in force* is the latest entry, committed
  or not (Kafka's rule: a replica acts on a ``VotersRecord`` as soon as it is in its
  log), and so is the kraft.version.
* :class:`QuorumState` holds the current role and makes every role change, each one
  written durably first: the ``PersistElection`` effect goes out before the new role
  is swapped in, so a driver that applies effects in order has the election state
  on disk before anything the new role does.  The leader, the high-watermark rule and
  the vote tally ask it for the voter set in force.

Neither holds timers, the log or the request manager: what a role change means for
those (failing parked fetches, resetting requests, the leader's accumulator) stays
with the node, which calls :meth:`QuorumState.transition` and acts on the role it
returns.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import Callable, Optional

from kraft.core.batches import scan_batches
from kraft.core.effects import PersistElection
from kraft.core.errors import FatalRaftError
from kraft.core.roles import (
    CANDIDATE, FOLLOWER, LEADER, PROSPECTIVE, RESIGNED, UNATTACHED, Candidate, Follower, Leader, Prospective,
    Resigned, Unattached,
    check_transition,
)
from kraft.core.types import EMPTY_ENDPOINTS, Endpoint, Endpoints, LeaderAndEpoch, ReplicaKey, Voter, VoterSet
from kraft.errors import CorruptRecordError
from kraft.records import RecordBatch, decode_batches
from kraft.records.constants import KRAFT_MAX_BATCH_SIZE
from kraft.records.control import ControlRecordType, control_record_type, read_control_batch

__all__ = ["QuorumState", "VoterSetHistory", "voter_set_from_record"]

_TRACKED = (ControlRecordType.KRAFT_VERSION, ControlRecordType.KRAFT_VOTERS)


def voter_set_from_record(record) -> VoterSet:
    """The core's voter set from a ``VotersRecord``: keys with directory ids, and every
    listener of each voter."""
    return VoterSet(
        Voter(ReplicaKey.of(v.voter_id, v.voter_directory_id),
              Endpoints(Endpoint(e.name, e.host, e.port) for e in v.endpoints),
              (v.kraft_version_feature.min_supported_version, v.kraft_version_feature.max_supported_version))
        for v in record.voters)


class VoterSetHistory:
    """The voter sets the log has held, by the offset of the record that set each one.

    ``bootstrap`` (the static ``controller.quorum.voters``, or the set the driver read
    from the log at start) is in force until the log records another.
    """

    __slots__ = ("bootstrap", "bootstrap_kraft_version", "current", "kraft_version", "_offsets", "_sets",
                 "_kv_offsets", "_kv_values")

    def __init__(self, bootstrap: VoterSet):
        self.bootstrap = bootstrap
        #: the voter set in force (kept current on every change: the core reads it on every request)
        self.current = bootstrap
        #: the kraft.version in force when the log records none (what the node was started with)
        self.bootstrap_kraft_version = 0
        #: the kraft.version in force: the latest ``KRaftVersionRecord``'s, committed or not (else 0)
        self.kraft_version = 0
        self._offsets: list[int] = []
        self._sets: list[VoterSet] = []
        self._kv_offsets: list[int] = []
        self._kv_values: list[int] = []

    def latest(self) -> VoterSet:
        """The voter set in force: the last one recorded, committed or not, else the bootstrap set."""
        return self.current

    def _changed(self) -> None:
        self.current = self._sets[-1] if self._sets else self.bootstrap
        self.kraft_version = self._kv_values[-1] if self._kv_values else self.bootstrap_kraft_version

    def kraft_version_at(self, offset: int) -> int:
        """The kraft.version in force at ``offset``."""
        i = bisect_right(self._kv_offsets, offset)
        return self._kv_values[i - 1] if i else 0

    def add_kraft_version_at(self, offset: int, kraft_version: int) -> None:
        """A kraft.version recorded at ``offset`` (which must follow every recorded one)."""
        if self._kv_offsets and offset <= self._kv_offsets[-1]:
            raise FatalRaftError(f"kraft.version at offset {offset} does not follow the one at {self._kv_offsets[-1]}")
        self._kv_offsets.append(offset)
        self._kv_values.append(kraft_version)
        self._changed()

    def value_at_or_before(self, offset: int) -> VoterSet:
        """The voter set in force at ``offset``."""
        i = bisect_right(self._offsets, offset)
        return self._sets[i - 1] if i else self.bootstrap

    def last_offset(self) -> Optional[int]:
        """The offset of the latest recorded voter set (``None``: only the bootstrap set)."""
        return self._offsets[-1] if self._offsets else None

    def add_at(self, offset: int, voters: VoterSet) -> None:
        """A voter set recorded at ``offset`` (which must follow every recorded one)."""
        if self._offsets and offset <= self._offsets[-1]:
            raise FatalRaftError(f"voter set at offset {offset} does not follow the one at {self._offsets[-1]}")
        self._offsets.append(offset)
        self._sets.append(voters)
        self._changed()

    def truncate_new_entries(self, end_offset: int) -> None:
        """The log was truncated to ``end_offset``: forget the sets recorded at or after it."""
        i = bisect_right(self._offsets, end_offset - 1)
        del self._offsets[i:], self._sets[i:]
        i = bisect_right(self._kv_offsets, end_offset - 1)
        del self._kv_offsets[i:], self._kv_values[i:]
        self._changed()

    def truncate_old_entries(self, start_offset: int) -> None:
        """The log starts at ``start_offset``: keep only the set in force there and those after it."""
        i = bisect_right(self._offsets, start_offset)
        if i > 1:
            del self._offsets[:i - 1], self._sets[:i - 1]
        i = bisect_right(self._kv_offsets, start_offset)
        if i > 1:
            del self._kv_offsets[:i - 1], self._kv_values[:i - 1]

    def clear(self) -> None:
        """A snapshot replaced the log: only the bootstrap set (and what the snapshot records) remains."""
        self._offsets.clear()
        self._sets.clear()
        self._kv_offsets.clear()
        self._kv_values.clear()
        self._changed()

    # ------------------------------------------------------------ reading the log
    def _add_control(self, offset: int, record_type, message) -> None:
        if record_type is ControlRecordType.KRAFT_VOTERS:
            self.add_at(offset, voter_set_from_record(message))
        elif record_type is ControlRecordType.KRAFT_VERSION:
            self.add_kraft_version_at(offset, message.kraft_version)

    def _read_control_batch(self, batch, first_offset: Optional[int] = None) -> None:
        """Add what the control batch ``batch`` (a ``RecordBatch``) records; ``first_offset``
        puts every record there instead of at its own offset (a snapshot's records)."""
        try:
            records = read_control_batch(batch, _TRACKED)
        except (CorruptRecordError, ValueError) as exc:
            raise FatalRaftError(f"unreadable control batch at offset {batch.base_offset}: {exc}") from None
        for offset, record_type, message in records:
            if message is not None:
                self._add_control(offset if first_offset is None else first_offset, record_type, message)

    def append_records(self, records, headers=None) -> None:
        """Batches appended to the log (fetched by a follower): read their control records.
        ``headers``: :func:`~kraft.core.batches.scan_batches` of ``records``, if known."""
        if headers is None:
            headers, _ = scan_batches(records)
        view = None
        for h in headers:
            if h.is_control:
                if view is None:
                    view = memoryview(records)
                self._read_control_batch(RecordBatch(view[h.position:h.position + h.size]))

    def append_leader_batch(self, batch) -> None:
        """A batch the leader appends (a :class:`~kraft.core.effects.LeaderBatch`)."""
        for i, message in enumerate(batch.control_records, start=1 if batch.control is not None else 0):
            self._add_control(batch.base_offset + i, control_record_type(message), message)

    def load_snapshot(self, snapshot) -> None:
        """Start afresh from a snapshot (a ``RawSnapshotReader``): its header batch's records
        are in force from the snapshot's last contained offset (end offset - 1) on."""
        self.clear()
        if snapshot is None:
            return
        for batch in decode_batches(snapshot.read(0, KRAFT_MAX_BATCH_SIZE), check_crc=False):
            if batch.is_control:
                self._read_control_batch(batch, snapshot.snapshot_id.offset - 1)
            break   # only the first batch holds them

    def load(self, log) -> None:
        """Build the history from ``log`` (a ``ReplicatedLog``): the snapshot the log continues
        (the newest at its start offset; the latest if none is there), then its control batches."""
        start = log.start_offset
        ids = [i for i in (log.earliest_snapshot_id(), log.latest_snapshot_id()) if i is not None]
        at_start = [i for i in ids if i.offset == start]
        seed = max(at_start) if at_start else (None if start == 0 or not ids else max(ids))
        self.load_snapshot(None if seed is None else log.read_snapshot(seed))
        offset, end = start, log.end_offset
        while offset < end:
            records = log.read(offset, KRAFT_MAX_BATCH_SIZE).records
            headers, _ = scan_batches(records)
            if not headers:
                break
            self.append_records(records, headers)
            offset = headers[-1].last_offset + 1


class QuorumState:
    """The current role, the local identity and the voter-set history of one replica."""

    __slots__ = ("local_key", "node_id", "endpoints", "history", "role", "_emit")

    def __init__(self, local_key: ReplicaKey, voters: VoterSet, emit: Callable[[object], None],
                 endpoints: Endpoints = EMPTY_ENDPOINTS):
        self.local_key = local_key
        self.node_id = local_key.id
        #: the local replica's own listeners (the leader's endpoints when it leads)
        self.endpoints = endpoints
        self.history = VoterSetHistory(voters)
        #: the current role (``None`` until :meth:`initialize`)
        self.role = None
        self._emit = emit

    @property
    def voters(self) -> VoterSet:
        """The voter set in force (the latest in the log, committed or not)."""
        return self.history.current

    @property
    def kraft_version(self) -> int:
        """The kraft.version in force (the latest in the log, committed or not; 0 if none)."""
        return self.history.kraft_version

    @property
    def is_voter(self) -> bool:
        return self.history.current.is_voter(self.local_key)

    @property
    def epoch(self) -> int:
        return self.role.epoch

    def leader_id(self) -> Optional[int]:
        """The leader the current role knows of (the local id when it leads or resigns), else ``None``."""
        return self.role.current_leader(self.node_id)

    def leader_id_or_sentinel(self) -> int:
        leader = self.role.current_leader(self.node_id)
        return -1 if leader is None else leader

    def leader_and_epoch(self) -> LeaderAndEpoch:
        return LeaderAndEpoch(self.role.current_leader(self.node_id), self.role.epoch)

    def leader_endpoints(self) -> Endpoints:
        """The known leader's endpoints (the local ones when it leads or resigns)."""
        return self.role.current_leader_endpoints(self.endpoints)

    # The one place the core asks which role is current (Kafka's ``maybeLeaderState`` and kin):
    # each returns the current role when it is of that kind, else ``None``.
    def leader_state(self) -> Optional[Leader]:
        role = self.role
        return role if role.name is LEADER else None

    def follower_state(self) -> Optional[Follower]:
        role = self.role
        return role if role.name is FOLLOWER else None

    def candidate_state(self) -> Optional[Candidate]:
        role = self.role
        return role if role.name is CANDIDATE else None

    def unattached_state(self) -> Optional[Unattached]:
        role = self.role
        return role if role.name is UNATTACHED else None

    def prospective_state(self) -> Optional[Prospective]:
        role = self.role
        return role if role.name is PROSPECTIVE else None

    def resigned_state(self) -> Optional[Resigned]:
        role = self.role
        return role if role.name is RESIGNED else None

    def initialize(self, role) -> None:
        """The role chosen at start from the stored election state; written back durably."""
        if self.role is not None:
            raise FatalRaftError("the quorum state was already initialized")
        self.role = role
        self._emit(PersistElection(role.election()))

    def transition(self, new_role, *, durable: bool = True):
        """Make ``new_role`` current; returns the role left.

        ``durable``: the new election state is written (``PersistElection``) before the swap.
        Only a leader's resignation is not, as in Kafka (the epoch and leader do not change).
        """
        old = self.role
        if durable:
            check_transition(old.name, new_role.name, observer=not self.is_voter)
            self._emit(PersistElection(new_role.election()))
        else:
            check_transition(old.name, new_role.name)
        self.role = new_role
        return old
