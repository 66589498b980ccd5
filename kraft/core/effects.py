"""What the core asks its driver to do, and the events the driver hands in.

The core returns an :class:`Output` from every ``step``/``poll``: an ordered
list of effects and the time by which it wants to be polled again.  The driver
applies the effects *in order* before handing in the next event; election
state is persisted, and appended data flushed, before any effect that relies
on it (a send that acknowledges it, a high-watermark move that commits it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

from kraft.core.log import Buffer, OffsetAndEpoch
from kraft.core.rpc import Request, Response
from kraft.core.types import ElectionState, Endpoint


# ---------------------------------------------------------------- events (in)
@dataclass(frozen=True)
class InboundRequest:
    """A request from ``source_id`` that arrived on listener ``listener``."""

    source_id: int
    correlation_id: int
    request: Request
    listener: str = "CONTROLLER"


@dataclass(frozen=True)
class InboundResponse:
    """A response (or a synthesised error response) to a request we sent to ``source_id``."""

    source_id: int
    correlation_id: int
    response: Response


@dataclass(frozen=True)
class PeerApiVersions:
    """The ApiVersions a peer advertised: api key -> (min, max), or ``None`` if unknown."""

    node_id: int
    versions: Optional[dict]


@dataclass(frozen=True)
class PeerUnreachable:
    """The driver could not reach ``node_id``: its connection was refused or reset and a
    reconnect failed.  With ``QuorumConfig.fast_failover`` a follower of that leader stops
    waiting out the whole fetch timeout (see ``RaftNode``); otherwise it is ignored.
    ``refused``: the connection was refused (no process listens at the peer's address)."""

    node_id: int
    refused: bool = False


@dataclass(frozen=True)
class ApiVersionsResult:
    """The answer to :class:`CheckApiVersions`: the peer's ApiVersions error (BROKER_NOT_AVAILABLE when
    it could not be reached in time) and the ``kraft.version`` range of its SupportedFeatures
    (``None`` when it lists none)."""

    node_id: int
    error_code: int
    kraft_versions: Optional[tuple] = None


Event = Union[InboundRequest, InboundResponse, PeerApiVersions, PeerUnreachable, ApiVersionsResult]


# ------------------------------------------------------------ batches to write
@dataclass(frozen=True)
class LeaderChangeMessage:
    """The LeaderChange control record (version 0) a leader writes at the start of its epoch."""

    leader_id: int
    voters: tuple[int, ...]
    granting_voters: tuple[int, ...]
    version: int = 0


@dataclass(frozen=True)
class LeaderBatch:
    """A batch the leader appends: data records, or control records.

    A control batch holds ``control`` (the LeaderChange) and, after it,
    ``control_records``: further control messages as the wire schema has them
    (``KRaftVersionRecord``, ``VotersRecord``), as Kafka's leader writes its
    start-of-epoch batch at kraft.version 1; or ``control_records`` alone (a
    voter change's ``VotersRecord``, KIP-853).

    Offsets are assigned by the core (``base_offset`` is the log end offset
    the core expects when the batch is appended); the driver encodes it as a
    record batch v2 and calls ``ReplicatedLog.append_as_leader``.
    """

    base_offset: int
    epoch: int
    append_time_ms: int
    records: tuple = ()
    control: Optional[LeaderChangeMessage] = None
    size_in_bytes: int = 0
    control_records: tuple = ()

    @property
    def record_count(self) -> int:
        if self.is_control:
            return (self.control is not None) + len(self.control_records)
        return len(self.records)

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.record_count - 1

    @property
    def is_control(self) -> bool:
        return self.control is not None or bool(self.control_records)


# ---------------------------------------------------------------- effects (out)
@dataclass(frozen=True)
class PersistElection:
    """Write the quorum-state file (durably) before anything that follows."""

    election: ElectionState


@dataclass(frozen=True)
class AppendAsLeader:
    batch: LeaderBatch


@dataclass(frozen=True)
class AppendAsFollower:
    """Append fetched batches (whole batches only; a trailing partial batch was cut)."""

    records: Buffer
    epoch: int
    last_offset: int


@dataclass(frozen=True)
class TruncateToEndOffset:
    """Follower truncation after a DivergingEpoch answer; ``new_end_offset`` is what the core computed.

    ``reason`` and ``high_watermark`` (the high watermark the node knew, ``None`` if none) are
    for the driver's log line: every truncation is logged with where from, where to and why."""

    diverging: OffsetAndEpoch
    new_end_offset: int
    reason: str = "diverging epoch from the leader"
    high_watermark: Optional[int] = None


@dataclass(frozen=True)
class InitializeLeaderEpoch:
    epoch: int


@dataclass(frozen=True)
class UpdateHighWatermark:
    offset: int


@dataclass(frozen=True)
class Flush:
    """fsync what was appended.  ``background``: the leader's flush under
    ``QuorumConfig.leader_flush_async``; the driver may run it off its loop and answer fetches
    meanwhile, since the leader counts its own position only up to ``log.last_flushed_offset``."""

    background: bool = False


@dataclass(frozen=True)
class StartSnapshotDownload:
    """Create the ``.part`` file for a snapshot fetched from the leader (``create_new_snapshot``)."""

    snapshot_id: OffsetAndEpoch


@dataclass(frozen=True)
class AppendSnapshotChunk:
    """Append downloaded bytes (not batch aligned) to the snapshot being fetched."""

    snapshot_id: OffsetAndEpoch
    data: Buffer


@dataclass(frozen=True)
class AbandonSnapshotDownload:
    """Close the unfinished snapshot (deleting its ``.part`` file)."""

    snapshot_id: OffsetAndEpoch


@dataclass(frozen=True)
class InstallSnapshot:
    """Freeze the downloaded snapshot, then truncate the log fully to start at its end offset."""

    snapshot_id: OffsetAndEpoch


@dataclass(frozen=True)
class CleanLog:
    """Apply the log's retention limits (``ReplicatedLog.maybe_clean``): snapshots
    replaced by newer ones, and the log before them, may be deleted.  Emitted at
    most once per ``RaftNode.log_clean_interval_ms`` (Kafka: once a minute)."""


@dataclass(frozen=True)
class Send:
    """Send ``request`` to node ``destination`` (at ``endpoint`` when known)."""

    destination: int
    correlation_id: int
    request: Request
    endpoint: Optional[Endpoint] = None


@dataclass(frozen=True)
class Respond:
    """Answer the request ``correlation_id`` from ``destination``."""

    destination: int
    correlation_id: int
    response: Response


@dataclass(frozen=True)
class CheckApiVersions:
    """Send ApiVersions to ``node_id`` at ``endpoint`` (a voter being added, KIP-853) and hand in
    an :class:`ApiVersionsResult`; the core times the check out itself."""

    node_id: int
    endpoint: Endpoint


#: :mod:`logging`'s WARNING, for :class:`LogMessage`
WARNING = 30


@dataclass(frozen=True)
class LogMessage:
    """A line for the node's log (the core has no logger): ``level`` is a :mod:`logging` level number."""

    level: int
    message: str


Effect = Union[
    PersistElection, AppendAsLeader, AppendAsFollower, TruncateToEndOffset, InitializeLeaderEpoch,
    UpdateHighWatermark, Flush, Send, Respond, StartSnapshotDownload, AppendSnapshotChunk,
    AbandonSnapshotDownload, InstallSnapshot, CleanLog, CheckApiVersions, LogMessage,
]


@dataclass
class Output:
    """Effects to apply in order, and when to poll next (absolute ms; ``None`` = only on events)."""

    effects: list = field(default_factory=list)
    next_deadline_ms: Optional[int] = None
