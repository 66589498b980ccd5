"""The quorum state: the one owner of the local replica's role, its identity and the voter sets.

Kafka keeps these together in ``QuorumState`` (the role and its transitions) and
``VoterSetHistory`` (the voter sets the log has held, by offset).  Here:

* :class:`VoterSetHistory` holds the static configuration as its bootstrap entry and
  every voter set the log records at the offset of its record; it follows the log:
  entries are added on append, dropped from the end on truncation and replaced
  wholesale when a snapshot is installed.  The voter set *in force* is the latest
  entry, committed or not (Kafka's rule: a replica acts on a ``VotersRecord`` as soon
  as it is in its log).
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

from kraft.core.effects import PersistElection
from kraft.core.errors import FatalRaftError
from kraft.core.roles import (
    CANDIDATE, FOLLOWER, LEADER, PROSPECTIVE, RESIGNED, UNATTACHED, Candidate, Follower, Leader, Prospective,
    Resigned, Unattached,
    check_transition,
)
from kraft.core.types import EMPTY_ENDPOINTS, Endpoints, LeaderAndEpoch, ReplicaKey, VoterSet

__all__ = ["QuorumState", "VoterSetHistory"]


class VoterSetHistory:
    """The voter sets the log has held, by the offset of the record that set each one.

    ``bootstrap`` (the static ``controller.quorum.voters``, or the set the driver read
    from the log at start) is in force until the log records another.
    """

    __slots__ = ("bootstrap", "current", "_offsets", "_sets")

    def __init__(self, bootstrap: VoterSet):
        self.bootstrap = bootstrap
        #: the voter set in force (kept current on every change: the core reads it on every request)
        self.current = bootstrap
        self._offsets: list[int] = []
        self._sets: list[VoterSet] = []

    def latest(self) -> VoterSet:
        """The voter set in force: the last one recorded, committed or not, else the bootstrap set."""
        return self.current

    def _changed(self) -> None:
        self.current = self._sets[-1] if self._sets else self.bootstrap

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
        self._changed()

    def truncate_old_entries(self, start_offset: int) -> None:
        """The log starts at ``start_offset``: keep only the set in force there and those after it."""
        i = bisect_right(self._offsets, start_offset)
        if i > 1:
            del self._offsets[:i - 1], self._sets[:i - 1]

    def clear(self) -> None:
        """A snapshot replaced the log: only the bootstrap set (and what the snapshot records) remains."""
        self._offsets.clear()
        self._sets.clear()
        self._changed()


class QuorumState:
    """The current role, the local identity and the voter-set history of one replica."""

    __slots__ = ("local_key", "node_id", "endpoints", "history", "role", "kraft_version", "_emit")

    def __init__(self, local_key: ReplicaKey, voters: VoterSet, emit: Callable[[object], None],
                 endpoints: Endpoints = EMPTY_ENDPOINTS):
        self.local_key = local_key
        self.node_id = local_key.id
        #: the local replica's own listeners (the leader's endpoints when it leads)
        self.endpoints = endpoints
        self.history = VoterSetHistory(voters)
        #: the finalized kraft.version (1: the voters live in the log and may change, KIP-853)
        self.kraft_version = 0
        #: the current role (``None`` until :meth:`initialize`)
        self.role = None
        self._emit = emit

    @property
    def voters(self) -> VoterSet:
        """The voter set in force (the latest in the log, committed or not)."""
        return self.history.current

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
