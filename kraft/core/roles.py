"""One class per role, each holding only its own data and timers, and the
transition table as data.

Kafka's roles: Unattached (optionally having voted for a candidate, or
knowing a leader whose endpoints are unknown — the reference revision's
separate Voted state is folded in here), Prospective (Kafka 4.0, KIP-996: asks
for pre-votes in its current epoch before standing), Candidate, Leader,
Follower and Resigned.  A node runs Kafka 4.x's election (through Prospective)
when a peer speaks Vote v2, else Kafka 3.9's (straight to Candidate); see
``kraft.core.rpcs.vote.runs_pre_vote``.

Timers are absolute deadlines in ms on the driver's clock.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from kraft.core.errors import IllegalTransitionError
from kraft.core.types import EMPTY_ENDPOINTS, ElectionState, Endpoints, ReplicaKey

UNATTACHED = "Unattached"
CANDIDATE = "Candidate"
LEADER = "Leader"
FOLLOWER = "Follower"
RESIGNED = "Resigned"
PROSPECTIVE = "Prospective"

#: Allowed transitions: role -> roles it may become.  Kafka 4.3's ``QuorumState`` table
#: (Prospective between a timeout and Candidate; Prospective -> Prospective is granting a
#: vote while prospective) joined with 3.9's (Unattached, Follower, Candidate and Resigned
#: -> Candidate directly), which a node follows while no peer speaks Vote v2.
#: Unattached -> Unattached covers both a higher epoch and granting a vote.
#: Preconditions on epochs and identities are checked by the transitions.
TRANSITIONS: dict[str, frozenset[str]] = {
    UNATTACHED: frozenset({UNATTACHED, PROSPECTIVE, CANDIDATE, FOLLOWER}),
    PROSPECTIVE: frozenset({UNATTACHED, PROSPECTIVE, CANDIDATE, FOLLOWER}),
    CANDIDATE: frozenset({UNATTACHED, PROSPECTIVE, CANDIDATE, LEADER, FOLLOWER}),
    LEADER: frozenset({UNATTACHED, RESIGNED, FOLLOWER}),
    FOLLOWER: frozenset({UNATTACHED, PROSPECTIVE, CANDIDATE, FOLLOWER}),
    RESIGNED: frozenset({UNATTACHED, PROSPECTIVE, CANDIDATE, FOLLOWER}),
}

#: Roles a replica that is not in the voter set (an observer) may hold.
OBSERVER_ROLES = frozenset({UNATTACHED, FOLLOWER})


def check_transition(source: str, target: str, *, observer: bool = False) -> None:
    """Raise :class:`IllegalTransitionError` unless ``source -> target`` is in the table."""
    if target not in TRANSITIONS[source]:
        raise IllegalTransitionError(f"transition {source} -> {target} is not allowed")
    if observer and target not in OBSERVER_ROLES:
        raise IllegalTransitionError(f"an observer cannot become {target}")


@dataclass
class Unattached:
    epoch: int
    election_deadline_ms: Optional[int]  # None: never (observers)
    voted_key: Optional[ReplicaKey] = None
    leader_id: Optional[int] = None

    name = UNATTACHED
    #: whether the local node leads (or led and is resigning) in this epoch
    leader_like = False

    def current_leader(self, local_id: int) -> Optional[int]:
        """The leader this role knows of (``local_id`` when it is the local node)."""
        return self.leader_id

    def current_leader_endpoints(self, local_endpoints: Endpoints) -> Endpoints:
        """The known leader's endpoints (``local_endpoints`` when it is the local node)."""
        return EMPTY_ENDPOINTS

    @property
    def may_vote(self) -> bool:
        """Whether this role may still grant its vote in the current epoch (it has not voted)."""
        return self.voted_key is None

    def election(self) -> ElectionState:
        return ElectionState(self.epoch, self.leader_id, self.voted_key)

    def can_grant_vote(self, candidate: ReplicaKey, log_up_to_date: bool, pre_vote: bool = False) -> bool:
        return _unattached_or_prospective_grants(self.voted_key, self.leader_id, candidate, log_up_to_date, pre_vote)


def _unattached_or_prospective_grants(voted_key: Optional[ReplicaKey], leader_id: Optional[int],
                                      candidate: ReplicaKey, log_up_to_date: bool, pre_vote: bool) -> bool:
    """Kafka 4.x's rule for Unattached and Prospective: a pre-vote only needs an up-to-date log;
    a vote goes to the replica already voted for, else to none while a leader is known."""
    if pre_vote:
        return log_up_to_date
    if voted_key is not None:
        return voted_key.id == candidate.id and (
            voted_key.directory_id is None or voted_key.directory_id == candidate.directory_id)
    if leader_id is not None:
        return False
    return log_up_to_date


class _VoteTally:
    """The count of a (pre-)vote round, shared by Prospective and Candidate: ``voter_ids``,
    ``granted`` and ``rejected`` are the role's own fields."""

    @property
    def majority(self) -> int:
        return len(self.voter_ids) // 2 + 1

    def is_vote_granted(self) -> bool:
        return len(self.granted) >= self.majority

    def is_vote_rejected(self) -> bool:
        """True once a majority can no longer be reached."""
        return len(self.voter_ids) - len(self.rejected) < self.majority

    def unrecorded_voters(self) -> list[int]:
        return sorted(self.voter_ids - self.granted - self.rejected)


@dataclass
class Prospective(_VoteTally):
    """A voter whose fetch or election timer ran out, asking for pre-votes in its current epoch.

    Nothing is persisted on entry: the epoch, the leader it knew and its vote stay as they were.
    A majority of pre-votes makes it a candidate; a majority refused, or the election timeout,
    sends it back to following the leader it knew (or to Unattached in the same epoch).
    """

    epoch: int
    local_key: ReplicaKey
    voter_ids: frozenset
    election_deadline_ms: int
    leader_id: Optional[int] = None
    leader_endpoints: Endpoints = EMPTY_ENDPOINTS
    voted_key: Optional[ReplicaKey] = None
    granted: set = field(default_factory=set)
    rejected: set = field(default_factory=set)
    unreachable: set = field(default_factory=set)

    name = PROSPECTIVE
    #: whether the local node leads (or led and is resigning) in this epoch
    leader_like = False

    def __post_init__(self):
        self.granted.add(self.local_key.id)

    @property
    def may_vote(self) -> bool:
        """Whether this role may still grant its vote in the current epoch (it has not voted)."""
        return self.voted_key is None

    def current_leader(self, local_id: int) -> Optional[int]:
        """The leader this role knows of (``local_id`` when it is the local node)."""
        return self.leader_id

    def current_leader_endpoints(self, local_endpoints: Endpoints) -> Endpoints:
        """The known leader's endpoints (``local_endpoints`` when it is the local node)."""
        return self.leader_endpoints

    def election(self) -> ElectionState:
        return ElectionState(self.epoch, self.leader_id, self.voted_key)

    def record_vote(self, voter_id: int, granted: bool) -> None:
        """Kafka's ``EpochElection``: a pre-vote answer may replace an earlier one from the same voter."""
        if voter_id not in self.voter_ids:
            raise IllegalTransitionError(f"pre-vote from {voter_id}, which is not a voter")
        if granted:
            self.rejected.discard(voter_id)
            self.granted.add(voter_id)
        else:
            if voter_id == self.local_key.id:
                raise IllegalTransitionError("the local node cannot refuse its own pre-vote")
            self.granted.discard(voter_id)
            self.rejected.add(voter_id)

    def can_grant_vote(self, candidate: ReplicaKey, log_up_to_date: bool, pre_vote: bool = False) -> bool:
        return _unattached_or_prospective_grants(self.voted_key, self.leader_id, candidate, log_up_to_date, pre_vote)


@dataclass
class Candidate(_VoteTally):
    epoch: int
    local_key: ReplicaKey
    voter_ids: frozenset
    retries: int
    election_deadline_ms: int
    granted: set = field(default_factory=set)
    rejected: set = field(default_factory=set)
    backoff_deadline_ms: Optional[int] = None
    unreachable: set = field(default_factory=set)  # voters the driver reported unreachable (fast failover)

    name = CANDIDATE
    #: whether the local node leads (or led and is resigning) in this epoch
    leader_like = False
    #: whether this role may still grant its vote in the current epoch
    may_vote = False

    def __post_init__(self):
        self.granted.add(self.local_key.id)

    def current_leader(self, local_id: int) -> Optional[int]:
        """The leader this role knows of (``local_id`` when it is the local node)."""
        return None

    def current_leader_endpoints(self, local_endpoints: Endpoints) -> Endpoints:
        """The known leader's endpoints (``local_endpoints`` when it is the local node)."""
        return EMPTY_ENDPOINTS

    def election(self) -> ElectionState:
        return ElectionState(self.epoch, None, self.local_key)

    def cannot_win_without(self, unreachable: set) -> bool:
        """True when the granted votes plus the voters still reachable and undecided are no majority."""
        return len(self.granted) + len(set(self.unrecorded_voters()) - unreachable) < self.majority

    def record_vote(self, voter_id: int, granted: bool) -> None:
        if voter_id not in self.voter_ids:
            raise IllegalTransitionError(f"vote from {voter_id}, which is not a voter")
        if (granted and voter_id in self.rejected) or (not granted and voter_id in self.granted):
            raise IllegalTransitionError(f"voter {voter_id} changed its vote in epoch {self.epoch}")
        (self.granted if granted else self.rejected).add(voter_id)

    def can_grant_vote(self, candidate: ReplicaKey, log_up_to_date: bool, pre_vote: bool = False) -> bool:
        return pre_vote and log_up_to_date


@dataclass
class ReplicaProgress:
    """What the leader knows of one replica's log."""

    key: ReplicaKey
    end_offset: Optional[int] = None
    last_fetch_ms: int = -1
    last_caught_up_ms: int = -1
    last_fetch_leader_end: int = -1


@dataclass
class ReadBarrier:
    """A linearizable read the leader confirms with a round of fetches from a majority.

    A voter is *primed* by the first Fetch the leader receives from it after the
    barrier was asked (or by the leader answering its parked Fetch then): the
    answer leaves after the barrier.  The voter's next Fetch, sent once it had
    that answer, shows it still followed this leader after the barrier: the voter
    is then *confirmed*.  With the leader, a majority of confirmed voters means no
    other leader could have been elected before the barrier.  This relies on a
    voter's fetches reaching the leader in the order it sent them (one TCP
    connection at a time); a fetch held up beyond the voter's request timeout and
    delivered after its retry could in principle be counted late.
    """

    primed: set = field(default_factory=set)
    confirmed: set = field(default_factory=set)
    #: parked fetches are still to be answered (done at the node's next step or poll)
    flush_parked: bool = True

    def note_fetch(self, voter_id: int) -> None:
        (self.confirmed if voter_id in self.primed else self.primed).add(voter_id)


class _LocalLeader:
    """What Leader and Resigned share: the local node leads, or led and is resigning, in this epoch."""

    #: whether the local node leads (or led and is resigning) in this epoch
    leader_like = True
    #: whether this role may still grant its vote in the current epoch
    may_vote = False

    def current_leader(self, local_id: int) -> Optional[int]:
        """The leader this role knows of (``local_id`` when it is the local node)."""
        return local_id

    def current_leader_endpoints(self, local_endpoints: Endpoints) -> Endpoints:
        """The known leader's endpoints (``local_endpoints`` when it is the local node)."""
        return local_endpoints


@dataclass
class Leader(_LocalLeader):
    epoch: int
    local_key: ReplicaKey
    epoch_start_offset: int
    voters: dict  # id -> ReplicaProgress
    granting_voters: frozenset
    check_quorum_deadline_ms: Optional[int]
    begin_quorum_deadline_ms: int
    endpoints: Endpoints = EMPTY_ENDPOINTS
    high_watermark: Optional[int] = None
    observers: dict = field(default_factory=dict)  # ReplicaKey -> ReplicaProgress
    fetched_voters: set = field(default_factory=set)
    acknowledged: set = field(default_factory=set)
    resign_requested: bool = False
    #: read barriers waiting for a majority, by id
    read_barriers: dict = field(default_factory=dict)
    #: the AddRaftVoter / RemoveRaftVoter in progress (``kraft.core.voter_change``)
    voter_change: Optional[object] = None

    name = LEADER

    def election(self) -> ElectionState:
        return ElectionState(self.epoch, self.local_key.id, None)

    def can_grant_vote(self, candidate: ReplicaKey, log_up_to_date: bool, pre_vote: bool = False) -> bool:
        return False

    def voter_end_offsets(self) -> dict:
        return {p.key: p.end_offset for p in self.voters.values()}

    def non_leader_voters_by_descending_fetch_offset(self) -> list[ReplicaKey]:
        others = [p for i, p in self.voters.items() if i != self.local_key.id]
        others.sort(key=lambda p: (p.end_offset is None, -(p.end_offset or 0), p.key.id))
        return [p.key for p in others]


@dataclass
class Follower:
    epoch: int
    leader_id: int
    endpoints: Endpoints
    fetch_deadline_ms: int
    #: the snapshot being downloaded from the leader and the bytes written so far
    snapshot_id: Optional[object] = None
    snapshot_size: int = 0
    #: the driver reported the leader unreachable (fast failover moves the deadline once)
    leader_unreachable: bool = False
    #: when a voter next checks its Voters entry, or an observer may auto-join (KIP-853; set at first poll)
    update_voter_deadline_ms: Optional[int] = None
    #: a Fetch or FetchSnapshot from the leader succeeded in this role (Kafka 4.x refuses pre-votes then)
    has_fetched: bool = False
    #: the leader answered this replica's UpdateRaftVoter with NONE or UNSUPPORTED_VERSION (Kafka 4.x
    #: sends one to every new leader at kraft.version 0 until then)
    has_updated_leader: bool = False
    #: the vote this replica gave in this epoch before it learnt the leader (Kafka 4.x keeps it)
    voted_key: Optional[ReplicaKey] = None

    name = FOLLOWER
    #: whether the local node leads (or led and is resigning) in this epoch
    leader_like = False
    #: whether this role may still grant its vote in the current epoch
    may_vote = False

    def current_leader(self, local_id: int) -> Optional[int]:
        """The leader this role knows of (``local_id`` when it is the local node)."""
        return self.leader_id

    def current_leader_endpoints(self, local_endpoints: Endpoints) -> Endpoints:
        """The known leader's endpoints (``local_endpoints`` when it is the local node)."""
        return self.endpoints

    def election(self) -> ElectionState:
        return ElectionState(self.epoch, self.leader_id, self.voted_key)

    def can_grant_vote(self, candidate: ReplicaKey, log_up_to_date: bool, pre_vote: bool = False) -> bool:
        # Kafka 4.x: a pre-vote only while this follower has not fetched from its leader
        return pre_vote and not self.has_fetched and log_up_to_date


@dataclass
class Resigned(_LocalLeader):
    epoch: int
    local_id: int
    election_deadline_ms: int
    unacknowledged: set
    preferred_successors: tuple
    endpoints: Endpoints = EMPTY_ENDPOINTS

    name = RESIGNED

    def election(self) -> ElectionState:
        return ElectionState(self.epoch, self.local_id, None)

    def can_grant_vote(self, candidate: ReplicaKey, log_up_to_date: bool, pre_vote: bool = False) -> bool:
        return pre_vote and log_up_to_date


#: Kafka 4.x's ``current-state`` metric values (``KafkaRaftMetrics``), the one place they are named.
#: 4.0 renamed 3.9's ``voted`` to ``unattached-voted`` and added the two prospective ones; a
#: resigned leader reads ``unattached``, as in Kafka.
CURRENT_STATE_NAMES = ("leader", "prospective", "prospective-voted", "candidate", "unattached-voted",
                       "follower", "observer", "unattached")


def current_state_name(role, is_voter: bool) -> str:
    """The ``current-state`` metric value for ``role`` (Kafka 4.x's names)."""
    name = role.name
    if name == LEADER:
        return "leader"
    if name == PROSPECTIVE:
        return "prospective-voted" if role.voted_key is not None else "prospective"
    if name == CANDIDATE:
        return "candidate"
    if name == UNATTACHED and role.voted_key is not None:
        return "unattached-voted"
    if name == FOLLOWER:
        return "follower" if is_voter else "observer"
    return "unattached"
