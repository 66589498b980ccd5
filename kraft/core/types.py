"""Small value types shared by the core: replica keys, endpoints, election state."""
from __future__ import annotations

from dataclasses import dataclass
from typing import FrozenSet, Iterable, Optional

from kraft.protocol.uuid import Uuid


@dataclass(frozen=True)
class ReplicaKey:
    """A replica: node id plus, since KIP-853, its log directory id (``None`` if unknown).

    "No directory id" is ``None`` here and ``Uuid.ZERO`` on the wire and on disk (as in Kafka:
    ``Optional<Uuid>`` in ``ReplicaKey``, ``Uuid.ZERO_UUID`` in messages and records).

    Orders by id, then directory id (an absent directory sorts as the zero UUID),
    as Kafka's ``ReplicaKey.compareTo`` does.
    """

    id: int
    directory_id: Optional[Uuid] = None

    @classmethod
    def of(cls, node_id: int, directory_id: Optional[Uuid]) -> "ReplicaKey":
        """Build a key, mapping the zero UUID to "no directory id"."""
        if directory_id == Uuid.ZERO:
            directory_id = None
        return cls(node_id, directory_id)

    @property
    def directory_or_zero(self) -> Uuid:
        return self.directory_id if self.directory_id is not None else Uuid.ZERO

    def matches(self, other: "ReplicaKey") -> bool:
        """Voter-set matching: same id, and same directory when this key has one."""
        return self.id == other.id and (self.directory_id is None or self.directory_id == other.directory_id)

    def __lt__(self, other: "ReplicaKey") -> bool:  # explicit: None directory sorts as zero
        return (self.id, self.directory_or_zero.bytes) < (other.id, other.directory_or_zero.bytes)

    def __str__(self) -> str:
        return f"ReplicaKey(id={self.id}, directory_id={self.directory_id})"


@dataclass(frozen=True)
class Endpoint:
    """One listener of a node: listener name (upper case, as Kafka normalises it), host, port."""

    name: str
    host: str
    port: int


class Endpoints(tuple):
    """A node's listeners, at most one per listener name, in a stable order."""

    def __new__(cls, endpoints: Iterable[Endpoint] = ()):
        by_name = {}
        for e in endpoints:
            by_name[e.name.upper()] = Endpoint(e.name.upper(), e.host, e.port)
        return super().__new__(cls, sorted(by_name.values(), key=lambda e: e.name))

    def address(self, listener: str) -> Optional[Endpoint]:
        listener = listener.upper()
        for e in self:
            if e.name == listener:
                return e
        return None


EMPTY_ENDPOINTS = Endpoints()


@dataclass(frozen=True)
class NodeEndpoint:
    """A ``NodeEndpoints`` entry of a response: the leader's address for the request's listener."""

    node_id: int
    host: str
    port: int


@dataclass(frozen=True)
class Voter:
    """A member of the voter set: its key, its listeners and the kraft.version range it supports
    (``(0, 0)`` for a static voter, as Kafka assumes; a ``VotersRecord`` carries each voter's)."""

    key: ReplicaKey
    endpoints: Endpoints = EMPTY_ENDPOINTS
    kraft_versions: tuple = (0, 0)


class VoterSet:
    """The voters, by id (static configuration or the log's latest ``VotersRecord``).

    Empty for an observer that knows only bootstrap servers (Kafka 3.9.0 allows
    ``controller.quorum.voters`` to be empty then); such a node never votes.
    """

    def __init__(self, voters: Iterable[Voter]):
        self._voters = {v.key.id: v for v in voters}

    @property
    def ids(self) -> frozenset[int]:
        return frozenset(self._voters)

    def keys(self) -> list[ReplicaKey]:
        return [self._voters[i].key for i in sorted(self._voters)]

    def __len__(self) -> int:
        return len(self._voters)

    def __contains__(self, node_id: int) -> bool:
        return node_id in self._voters

    def is_voter(self, key: ReplicaKey) -> bool:
        voter = self._voters.get(key.id)
        return voter is not None and voter.key.matches(key)

    def key_of(self, node_id: int) -> Optional[ReplicaKey]:
        voter = self._voters.get(node_id)
        return voter.key if voter else None

    def endpoints(self, node_id: int) -> Endpoints:
        voter = self._voters.get(node_id)
        return voter.endpoints if voter else EMPTY_ENDPOINTS

    @property
    def majority(self) -> int:
        return len(self._voters) // 2 + 1

    def voters(self) -> list[Voter]:
        """The voters in id order."""
        return [self._voters[i] for i in sorted(self._voters)]

    def get(self, node_id: int) -> Optional[Voter]:
        return self._voters.get(node_id)

    # The three changes KIP-853 makes, each returning a new set or ``None`` (Kafka's VoterSet).
    def with_voter_added(self, voter: Voter) -> Optional["VoterSet"]:
        """The set with ``voter`` added; ``None`` when its id is already a voter."""
        if voter.key.id in self._voters:
            return None
        return VoterSet([*self._voters.values(), voter])

    def with_voter_removed(self, key: ReplicaKey) -> Optional["VoterSet"]:
        """The set without ``key`` (id and directory id must both match); ``None`` when it is not a
        voter or is the last one."""
        voter = self._voters.get(key.id)
        if voter is None or voter.key != key or len(self._voters) == 1:
            return None
        return VoterSet(v for i, v in self._voters.items() if i != key.id)

    def with_voter_updated(self, voter: Voter) -> Optional["VoterSet"]:
        """The set with ``voter``'s entry replaced; ``None`` unless it is a voter (by key)."""
        old = self._voters.get(voter.key.id)
        if old is None or not old.key.matches(voter.key):
            return None
        return VoterSet(voter if i == voter.key.id else v for i, v in self._voters.items())

    def same_as(self, other: "VoterSet") -> bool:
        """Whether both hold the same voters, listeners and kraft.version ranges."""
        return self._voters == other._voters

    def __repr__(self) -> str:
        return f"VoterSet({sorted(self._voters)})"


@dataclass(frozen=True)
class LeaderAndEpoch:
    """What a node knows about the leader: ``leader_id`` is ``None`` when unknown."""

    leader_id: Optional[int]
    epoch: int


@dataclass(frozen=True)
class ElectionState:
    """Kafka's ``ElectionState``: what the ``quorum-state`` file records, and what a role persists.

    ``leader_id`` is ``None`` when no leader is known (``-1`` only in the file); ``voted_key`` is
    ``None`` when no vote was cast (its directory is ``None`` when unknown).  Both may be set:
    Kafka 4.x keeps its vote after it learns the leader of the epoch and writes both (kraft, as
    Kafka 3.9, writes one), and Kafka reads such a file without complaint.  ``voters`` is only
    stored by data_version 0 (it reads back empty from version 1).  The file format itself is
    :mod:`kraft.storage.quorum_state`'s.
    """

    epoch: int
    leader_id: Optional[int] = None
    voted_key: Optional[ReplicaKey] = None
    voters: FrozenSet[int] = frozenset()

    def __post_init__(self):
        if self.epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {self.epoch}")
        if self.leader_id is not None and self.leader_id < 0:
            raise ValueError(f"no leader is None, not {self.leader_id}")
        if not isinstance(self.voters, frozenset):
            object.__setattr__(self, "voters", frozenset(self.voters))

    @property
    def has_leader(self) -> bool:
        return self.leader_id is not None

    @property
    def voted_id(self) -> Optional[int]:
        return None if self.voted_key is None else self.voted_key.id

    @property
    def voted_directory_id(self) -> Optional[Uuid]:
        return None if self.voted_key is None else self.voted_key.directory_id
