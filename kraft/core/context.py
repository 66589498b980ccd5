"""What the RPC modules and the role transitions work with: small, typed collaborators.

:class:`Identity` is the fixed description of the partition this replica serves and
how it speaks (cluster id, topic, partition, listener, its own endpoints, the
behaviour it follows).  :class:`Context` bundles the collaborators an RPC handler
may use: the quorum state (role, local key, voter sets), the log view (end, high
watermark, append, truncate), the outbox for effects, read access to the log, the
request manager, the peers' ApiVersions, the parked fetches, the role transitions
and the shutdown state.  The node owns one and passes it; no RPC module sees the node.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from kraft.core.config import QuorumConfig
from kraft.core.log import ReplicatedLog
from kraft.core.log_view import LogView, Outbox
from kraft.core.quorum_state import QuorumState
from kraft.core.request_manager import RequestManager
from kraft.core.types import Endpoints
from kraft.protocol.uuid import Uuid

if TYPE_CHECKING:  # pragma: no cover
    from kraft.core.rpcs.fetch import ParkedFetches
    from kraft.core.transitions import Transitions

__all__ = ["Context", "Identity", "Shutdown"]


@dataclass(frozen=True)
class Identity:
    """The partition this replica serves and how it speaks for it."""

    cluster_id: str
    topic: str
    topic_id: Uuid
    partition: int
    #: the listener the quorum talks on (upper case)
    listener: str
    #: this replica's own listeners (what it announces as leader)
    endpoints: Endpoints
    #: ``KAFKA_3_9`` or ``REFERENCE_REVISION``
    behaviour: str


@dataclass
class Shutdown:
    """A graceful shutdown under way: done when someone else leads, or at the deadline."""

    deadline_ms: int
    finished: bool = False
    timed_out: bool = False


class Context:
    """The collaborators of the RPC modules and the transitions (see the module docstring)."""

    __slots__ = ("identity", "config", "quorum", "log_view", "outbox", "log", "rng", "request_manager",
                 "peer_api_versions", "api_versions_generation", "pre_vote_memo", "parked", "transitions",
                 "shutdown")

    def __init__(self, *, identity: Identity, config: QuorumConfig, quorum: QuorumState, log_view: LogView,
                 outbox: Outbox, log: ReplicatedLog, rng, request_manager: RequestManager,
                 parked: "ParkedFetches"):
        self.identity = identity
        self.config = config
        self.quorum = quorum
        self.log_view = log_view
        self.outbox = outbox
        #: read access only: every change of the log goes through ``log_view``
        self.log = log
        self.rng = rng
        self.request_manager = request_manager
        #: each peer's ApiVersions (``None``: it answered none), by node id
        self.peer_api_versions: dict[int, Optional[dict]] = {}
        #: counts the changes of ``peer_api_versions`` (see ``set_peer_api_versions``)
        self.api_versions_generation = 0
        #: ``(voter set, generation, answer)`` of the last ``vote.runs_pre_vote``
        self.pre_vote_memo: Optional[tuple] = None
        #: fetches the leader holds until data arrives or their wait ends
        self.parked = parked
        #: the role transitions (set by the node once built)
        self.transitions: "Transitions" = None
        #: the graceful shutdown, once begun
        self.shutdown: Optional[Shutdown] = None

    def set_peer_api_versions(self, node_id: int, versions: Optional[dict]) -> None:
        self.peer_api_versions[node_id] = versions
        self.api_versions_generation += 1

    @property
    def shutting_down(self) -> bool:
        return self.shutdown is not None
