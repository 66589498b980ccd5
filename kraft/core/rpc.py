"""The Raft RPCs as the core sees them: one flat, version-independent type each.

Every type carries every field any version of the Kafka message has (absent
ones at their Kafka default: ``None`` cluster id, zero UUID directory ids,
empty endpoint lists, -1 ids) plus ``api_version``: the version a request or
response was received at, or the version the core wants it sent at.  The
adapters in ``kraft.handlers`` convert Kafka protocol messages to and from
these, dropping fields the version does not have.

The single topic/partition of the raft log is flattened: ``topic`` (or
``topic_id`` for Fetch) and ``partition`` describe the first entry and
``partition_count`` how many topic/partition entries the message held in all
(a well-formed KRaft message has exactly one).  Top-level-only error
responses have ``partition_count == 0``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Union

from kraft.records.constants import KRAFT_MAX_BATCH_SIZE
from kraft.core.log import Buffer, OffsetAndEpoch
from kraft.core.types import EMPTY_ENDPOINTS, Endpoints, NodeEndpoint, ReplicaKey
from kraft.protocol.api_keys import (
    ADD_RAFT_VOTER, BEGIN_QUORUM_EPOCH, DESCRIBE_QUORUM, END_QUORUM_EPOCH, FETCH, FETCH_SNAPSHOT, REMOVE_RAFT_VOTER,
    UPDATE_RAFT_VOTER, VOTE,
)
from kraft.protocol.errors import Errors
from kraft.protocol.uuid import Uuid

API_NAMES = {
    FETCH: "Fetch",
    VOTE: "Vote",
    BEGIN_QUORUM_EPOCH: "BeginQuorumEpoch",
    END_QUORUM_EPOCH: "EndQuorumEpoch",
    FETCH_SNAPSHOT: "FetchSnapshot",
    DESCRIBE_QUORUM: "DescribeQuorum",
    ADD_RAFT_VOTER: "AddRaftVoter",
    REMOVE_RAFT_VOTER: "RemoveRaftVoter",
    UPDATE_RAFT_VOTER: "UpdateRaftVoter",
}

#: The versions this core can send and understand.  Fetch below 13 has no
#: topic id, which KRaft matches on, so 13 is the floor.
SUPPORTED_VERSIONS: Mapping[int, tuple[int, int]] = {
    FETCH: (13, 18),
    VOTE: (0, 2),
    BEGIN_QUORUM_EPOCH: (0, 1),
    END_QUORUM_EPOCH: (0, 1),
    FETCH_SNAPSHOT: (0, 1),
    DESCRIBE_QUORUM: (0, 2),
    ADD_RAFT_VOTER: (0, 0),
    UPDATE_RAFT_VOTER: (0, 0),
}

#: Fetch v18's HighWatermark default (Long.MAX_VALUE): "the follower does not send it".
HIGH_WATERMARK_NOT_SENT = 2**63 - 1
#: The first Fetch version that carries the follower's HighWatermark.
FETCH_HIGH_WATERMARK_MIN_VERSION = 18

#: Kafka's Fetch MaxWaitMs and MaxBytes as KRaft followers send them.
FETCH_MAX_WAIT_MS = 500
MAX_FETCH_BYTES = KRAFT_MAX_BATCH_SIZE


def choose_version(api_key: int, advertised: Optional[Mapping[int, tuple[int, int]]]) -> int:
    """The version to send ``api_key`` at to a peer that advertised ``advertised``.

    The newest version both sides support; a peer whose ApiVersions are not
    known (``None``) or that does not list the API gets the oldest version
    this core can use (v0, or v13 for Fetch).  Raises ``ValueError`` when the
    ranges do not meet.
    """
    low, high = SUPPORTED_VERSIONS[api_key]
    if not advertised or api_key not in advertised:
        return low
    peer_low, peer_high = advertised[api_key]
    version = min(high, peer_high)
    if version < max(low, peer_low):
        raise ValueError(
            f"no common version for {API_NAMES[api_key]}: ours {low}-{high}, peer {peer_low}-{peer_high}"
        )
    return version


# --------------------------------------------------------------------------- Vote
@dataclass(frozen=True)
class VoteRequest:
    cluster_id: Optional[str]
    topic: str
    partition: int
    candidate_epoch: int
    candidate_id: int
    last_offset_epoch: int
    last_offset: int
    candidate_directory_id: Uuid = Uuid.ZERO
    voter_id: int = -1
    voter_directory_id: Uuid = Uuid.ZERO
    partition_count: int = 1
    api_version: int = 1
    #: Vote v2 (KIP-996): a pre-vote from a prospective node, which changes no state
    pre_vote: bool = False

    api_key = VOTE


@dataclass(frozen=True)
class VoteResponse:
    error_code: int = Errors.NONE
    topic: str = ""
    partition: int = 0
    partition_error: int = Errors.NONE
    leader_id: int = -1
    leader_epoch: int = -1
    vote_granted: bool = False
    node_endpoints: tuple[NodeEndpoint, ...] = ()
    partition_count: int = 1
    api_version: int = 1

    api_key = VOTE


# ------------------------------------------------------------- BeginQuorumEpoch
@dataclass(frozen=True)
class BeginQuorumEpochRequest:
    cluster_id: Optional[str]
    topic: str
    partition: int
    leader_id: int
    leader_epoch: int
    voter_id: int = -1
    voter_directory_id: Uuid = Uuid.ZERO
    leader_endpoints: Endpoints = EMPTY_ENDPOINTS
    partition_count: int = 1
    api_version: int = 1

    api_key = BEGIN_QUORUM_EPOCH


@dataclass(frozen=True)
class EpochResponse:
    """The answer to Begin- and EndQuorumEpoch: one partition's view of the leader."""

    error_code: int = Errors.NONE
    topic: str = ""
    partition: int = 0
    partition_error: int = Errors.NONE
    leader_id: int = -1
    leader_epoch: int = -1
    node_endpoints: tuple[NodeEndpoint, ...] = ()
    partition_count: int = 1
    api_version: int = 1


class BeginQuorumEpochResponse(EpochResponse):
    api_key = BEGIN_QUORUM_EPOCH


# --------------------------------------------------------------- EndQuorumEpoch
@dataclass(frozen=True)
class EndQuorumEpochRequest:
    cluster_id: Optional[str]
    topic: str
    partition: int
    leader_id: int
    leader_epoch: int
    preferred_successors: tuple[int, ...] = ()
    preferred_candidates: tuple[ReplicaKey, ...] = ()
    leader_endpoints: Endpoints = EMPTY_ENDPOINTS
    partition_count: int = 1
    api_version: int = 1

    api_key = END_QUORUM_EPOCH

    def candidates(self) -> tuple[ReplicaKey, ...]:
        """``PreferredCandidates`` when given, else ``PreferredSuccessors`` without directories."""
        if self.preferred_candidates:
            return self.preferred_candidates
        return tuple(ReplicaKey(i) for i in self.preferred_successors)


class EndQuorumEpochResponse(EpochResponse):
    api_key = END_QUORUM_EPOCH


# ------------------------------------------------------------------------ Fetch
@dataclass(frozen=True)
class FetchRequest:
    cluster_id: Optional[str]
    replica_id: int
    topic_id: Uuid
    partition: int
    fetch_offset: int
    last_fetched_epoch: int
    current_leader_epoch: int
    max_wait_ms: int = FETCH_MAX_WAIT_MS
    max_bytes: int = MAX_FETCH_BYTES
    replica_directory_id: Uuid = Uuid.ZERO
    partition_count: int = 1
    api_version: int = 17
    #: Fetch v18 (KIP-1166): the follower's high watermark, -1 when it knows none;
    #: ``HIGH_WATERMARK_NOT_SENT`` from a follower older than v18
    high_watermark: int = HIGH_WATERMARK_NOT_SENT

    api_key = FETCH

    @property
    def replica_key(self) -> ReplicaKey:
        return ReplicaKey.of(self.replica_id, self.replica_directory_id)


@dataclass(frozen=True)
class FetchResponse:
    error_code: int = Errors.NONE
    topic_id: Uuid = Uuid.ZERO
    partition: int = 0
    partition_error: int = Errors.NONE
    high_watermark: int = -1
    log_start_offset: int = -1
    diverging_epoch: Optional[OffsetAndEpoch] = None
    current_leader_id: int = -1
    current_leader_epoch: int = -1
    snapshot_id: Optional[OffsetAndEpoch] = None
    records: Buffer = b""
    node_endpoints: tuple[NodeEndpoint, ...] = ()
    partition_count: int = 1
    api_version: int = 17

    api_key = FETCH


# ---------------------------------------------------------------- FetchSnapshot
@dataclass(frozen=True)
class FetchSnapshotRequest:
    cluster_id: Optional[str]
    replica_id: int
    topic: str
    partition: int
    current_leader_epoch: int
    snapshot_id: OffsetAndEpoch
    position: int
    max_bytes: int = MAX_FETCH_BYTES
    replica_directory_id: Uuid = Uuid.ZERO
    partition_count: int = 1
    api_version: int = 1
    #: the request's shape as Kafka's leader checks it: how many topics, and how
    #: many partitions the first topic has
    topic_count: int = 1
    first_topic_partition_count: int = 1
    #: the partition entries after the first, in request order, each as
    #: (topic, partition, current_leader_epoch, snapshot_id, position, replica_directory_id)
    other_partitions: tuple[tuple[str, int, int, OffsetAndEpoch, int, Uuid], ...] = ()

    api_key = FETCH_SNAPSHOT

    #: the names of the fields one ``other_partitions`` entry holds, in order
    PARTITION_FIELDS = ("topic", "partition", "current_leader_epoch", "snapshot_id", "position",
                        "replica_directory_id")


@dataclass(frozen=True)
class FetchSnapshotResponse:
    error_code: int = Errors.NONE
    topic: str = ""
    partition: int = 0
    partition_error: int = Errors.NONE
    snapshot_id: OffsetAndEpoch = OffsetAndEpoch(-1, -1)
    current_leader_id: int = -1
    current_leader_epoch: int = -1
    size: int = 0
    position: int = 0
    unaligned_records: Buffer = b""
    node_endpoints: tuple[NodeEndpoint, ...] = ()
    partition_count: int = 1
    api_version: int = 1
    #: the response's shape as Kafka's follower checks it: how many topics, and how many
    #: partitions the first topic has
    topic_count: int = 1
    first_topic_partition_count: int = 1
    #: the same response read at each later partition entry, in order (the follower takes the
    #: first that names its own topic and partition)
    other_partitions: tuple["FetchSnapshotResponse", ...] = ()

    api_key = FETCH_SNAPSHOT


# --------------------------------------------------------------- DescribeQuorum
@dataclass(frozen=True)
class DescribeQuorumRequest:
    """An operator's question to the leader (no cluster id, no epoch: only the partition)."""

    topic: str
    partition: int
    partition_count: int = 1
    api_version: int = 2
    #: every (topic, partition indexes) asked about, in order (echoed when the partition is unknown)
    requested: tuple[tuple[str, tuple[int, ...]], ...] = ()

    api_key = DESCRIBE_QUORUM


@dataclass(frozen=True)
class ReplicaState:
    """One voter's or observer's progress as the leader sees it (timestamps -1 when unknown)."""

    replica_id: int
    log_end_offset: int = -1
    last_fetch_timestamp: int = -1
    last_caught_up_timestamp: int = -1
    replica_directory_id: Uuid = Uuid.ZERO


@dataclass(frozen=True)
class DescribeQuorumResponse:
    """The leader's view of the quorum; ``nodes`` (v2) maps voter ids to their listeners."""

    error_code: int = Errors.NONE
    error_message: Optional[str] = None
    topic: str = ""
    partition: int = 0
    partition_error: int = Errors.NONE
    partition_error_message: Optional[str] = None
    leader_id: int = -1
    leader_epoch: int = -1
    high_watermark: int = -1
    current_voters: tuple[ReplicaState, ...] = ()
    observers: tuple[ReplicaState, ...] = ()
    nodes: tuple[tuple[int, Endpoints], ...] = ()
    partition_count: int = 1
    api_version: int = 2
    #: when set, every (topic, partition indexes) of the request answered alike with
    #: ``partition_error``/``partition_error_message`` (Kafka's answer for an unknown partition)
    echo: tuple[tuple[str, tuple[int, ...]], ...] = ()

    api_key = DESCRIBE_QUORUM


# --------------------------------------------------------------------------- UpdateRaftVoter
@dataclass(frozen=True)
class UpdateRaftVoterRequest:
    """A voter telling the leader its endpoints and supported kraft.version range (answered, never sent).

    Kafka 4.1+ followers send it to every new leader, even at kraft.version 0.
    """

    cluster_id: Optional[str]
    current_leader_epoch: int
    voter_id: int
    voter_directory_id: Uuid = Uuid.ZERO
    listeners: Endpoints = EMPTY_ENDPOINTS
    min_kraft_version: int = 0
    max_kraft_version: int = 0
    api_version: int = 0

    api_key = UPDATE_RAFT_VOTER


@dataclass(frozen=True)
class UpdateRaftVoterResponse:
    """The answer, with the current leader as the receiver knows it (host empty and port 0 when unknown)."""

    error_code: int = Errors.NONE
    leader_id: int = -1
    leader_epoch: int = -1
    leader_host: str = ""
    leader_port: int = 0
    partition_count: int = 0  # no partitions in this RPC: kept for the shared error-response shape
    api_version: int = 0

    api_key = UPDATE_RAFT_VOTER


# ---------------------------------------------------------- AddRaftVoter / RemoveRaftVoter
@dataclass(frozen=True)
class AddRaftVoterRequest:
    """Add ``voter_id``/``voter_directory_id`` with ``listeners`` to the voters (KIP-853).

    ``ack_when_committed`` (v1, Kafka 4.1+; always true at v0) asks the leader to answer once the
    new voter set is committed rather than once it is written.  ``timeout_ms`` is carried as sent:
    Kafka's leader does not use it."""

    cluster_id: Optional[str]
    timeout_ms: int
    voter_id: int
    voter_directory_id: Uuid = Uuid.ZERO
    listeners: Endpoints = EMPTY_ENDPOINTS
    ack_when_committed: bool = True
    api_version: int = 0

    api_key = ADD_RAFT_VOTER


@dataclass(frozen=True)
class AddRaftVoterResponse:
    error_code: int = Errors.NONE
    error_message: Optional[str] = None
    partition_count: int = 0  # no partitions in this RPC: kept for the shared error-response shape
    api_version: int = 0

    api_key = ADD_RAFT_VOTER


@dataclass(frozen=True)
class RemoveRaftVoterRequest:
    """Remove the voter ``voter_id``/``voter_directory_id`` (both must match the voter set)."""

    cluster_id: Optional[str]
    voter_id: int
    voter_directory_id: Uuid = Uuid.ZERO
    api_version: int = 0

    api_key = REMOVE_RAFT_VOTER


@dataclass(frozen=True)
class RemoveRaftVoterResponse:
    error_code: int = Errors.NONE
    error_message: Optional[str] = None
    partition_count: int = 0
    api_version: int = 0

    api_key = REMOVE_RAFT_VOTER


Request = Union[VoteRequest, BeginQuorumEpochRequest, EndQuorumEpochRequest, FetchRequest, FetchSnapshotRequest,
                DescribeQuorumRequest, UpdateRaftVoterRequest, AddRaftVoterRequest, RemoveRaftVoterRequest]
Response = Union[VoteResponse, BeginQuorumEpochResponse, EndQuorumEpochResponse, FetchResponse, FetchSnapshotResponse,
                 DescribeQuorumResponse, UpdateRaftVoterResponse, AddRaftVoterResponse, RemoveRaftVoterResponse]

_RESPONSE_TYPES = {
    VOTE: VoteResponse,
    BEGIN_QUORUM_EPOCH: BeginQuorumEpochResponse,
    END_QUORUM_EPOCH: EndQuorumEpochResponse,
    FETCH: FetchResponse,
    FETCH_SNAPSHOT: FetchSnapshotResponse,
    DESCRIBE_QUORUM: DescribeQuorumResponse,
    UPDATE_RAFT_VOTER: UpdateRaftVoterResponse,
    ADD_RAFT_VOTER: AddRaftVoterResponse,
    REMOVE_RAFT_VOTER: RemoveRaftVoterResponse,
}


def error_response(api_key: int, error: int, api_version: int = 0) -> Response:
    """A top-level-only error response, as a driver synthesises for a lost
    connection or timeout (BROKER_NOT_AVAILABLE) or an unsupported version."""
    return _RESPONSE_TYPES[api_key](error_code=int(error), partition_count=0, api_version=api_version)
