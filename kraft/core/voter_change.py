"""The leader's voter change in progress (KIP-853): at most one AddRaftVoter or RemoveRaftVoter.

Kafka keeps this in ``LeaderState`` (``addVoterHandlerState`` / ``removeVoterHandlerState``):
each holds the request's pending answer, a timer, and, once the Voters record is written, its
offset.  The answer goes out when the change is committed (the high watermark passes the
record), when the timer runs out (REQUEST_TIMED_OUT), when the leader stops leading
(NOT_LEADER_OR_FOLLOWER), or (AddRaftVoter v1 without ``AckWhenCommitted``) as soon as the
record is written.  Here the pending answer is the request's source and correlation id: a
``Respond`` effect is emitted when it is due.

This module also keeps the leader's replica progress in step with the voter set in force: a
Voters record the leader appends takes effect at once (Kafka's
``LeaderState.updateVoterAndObserverStates``), for the high watermark and for check-quorum.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from kraft.core import rpc
from kraft.core.batches import encoded_control_batch
from kraft.core.effects import LeaderBatch, Respond
from kraft.core.roles import Leader, ReplicaProgress
from kraft.core.types import Endpoints, ReplicaKey, Voter, VoterSet
from kraft.core.voters_record import kraft_version_record, voters_record
from kraft.protocol.errors import Errors

__all__ = ["PendingAdd", "PendingRemove", "Reply", "append_voters", "expire", "high_watermark_updated",
           "is_pending", "leader_left", "refusal", "reset", "set_voters_in_force"]

#: Kafka's ``LeaderState.isReplicaCaughtUp``: an observer that fetched in the last hour and has
#: been caught up once counts as caught up for AddRaftVoter.
CAUGHT_UP_FETCH_WINDOW_MS = 60 * 60 * 1000


@dataclass(frozen=True)
class Reply:
    """Where the answer to a voter-change request goes."""

    source_id: int
    correlation_id: int
    api_version: int


@dataclass
class PendingAdd:
    """An AddRaftVoter being worked on: first the ApiVersions check, then the uncommitted record."""

    key: ReplicaKey
    endpoints: Endpoints
    ack_when_committed: bool
    deadline_ms: int
    reply: Reply
    last_offset: Optional[int] = None
    answered: bool = False

    def expecting_api_versions_from(self, node_id: int) -> bool:
        return self.last_offset is None and node_id == self.key.id


@dataclass
class PendingRemove:
    """A RemoveRaftVoter whose Voters record (at ``last_offset``) is not committed yet."""

    last_offset: int
    deadline_ms: int
    reply: Reply
    answered: bool = False


Pending = Union[PendingAdd, PendingRemove]


def _answer(ctx, pending: Pending, error: int, message: Optional[str]) -> None:
    if pending.answered:
        return
    pending.answered = True
    cls = rpc.AddRaftVoterResponse if isinstance(pending, PendingAdd) else rpc.RemoveRaftVoterResponse
    ctx.outbox.emit(Respond(pending.reply.source_id, pending.reply.correlation_id,
                             cls(error_code=int(error), error_message=message,
                                 api_version=pending.reply.api_version)))


def reset(ctx, leader: Leader, error: int, message: Optional[str] = None,
          new: Optional[Pending] = None) -> None:
    """Answer the change in progress (if not answered yet) with ``error``; ``new`` takes its place."""
    if leader.voter_change is not None:
        _answer(ctx, leader.voter_change, error, message)
    leader.voter_change = new


def answer_now(ctx, pending: Pending, error: int, message: Optional[str] = None) -> None:
    """Answer without ending the change (AddRaftVoter v1 with ``AckWhenCommitted`` false)."""
    _answer(ctx, pending, error, message)


def expire(ctx, leader: Leader, now: int) -> Optional[int]:
    """Time the change in progress out (REQUEST_TIMED_OUT); returns how long it still has."""
    pending = leader.voter_change
    if pending is None:
        return None
    if now >= pending.deadline_ms:
        reset(ctx, leader, Errors.REQUEST_TIMED_OUT)
        return None
    return pending.deadline_ms - now


def is_pending(ctx, leader: Leader, now: int) -> bool:
    expire(ctx, leader, now)
    return leader.voter_change is not None


def leader_left(ctx, leader: Leader) -> None:
    """The leader stopped leading: the change in progress is answered NOT_LEADER_OR_FOLLOWER."""
    reset(ctx, leader, Errors.NOT_LEADER_OR_FOLLOWER)


def high_watermark_updated(ctx, leader: Leader) -> None:
    """The high watermark moved: a change whose record it passed is committed and answered NONE;
    a leader that removed itself asks to resign (Kafka's ``RemoveVoterHandler.highWatermarkUpdated``)."""
    pending = leader.voter_change
    hw = leader.high_watermark
    if pending is None or hw is None or pending.last_offset is None or hw <= pending.last_offset:
        return
    reset(ctx, leader, Errors.NONE)
    if isinstance(pending, PendingRemove) and not ctx.quorum.voters.is_voter(ctx.quorum.local_key):
        leader.resign_requested = True


def append_voters(ctx, leader: Leader, voters: VoterSet, now: int) -> int:
    """Queue a Voters record holding ``voters`` after any data already queued, to be written at the
    leader's next poll (at once: its drain is due now); returns its offset."""
    records = (voters_record(voters),)
    size = encoded_control_batch(LeaderBatch(0, leader.epoch, now, control_records=records)).size_in_bytes
    return ctx.transitions.accumulator.append_control(leader.epoch, records, size, now)


#: The kraft.version levels this implementation supports (what a voter reports of itself).
SUPPORTED_KRAFT_VERSIONS = (0, 1)


def epoch_start_records(ctx) -> tuple:
    """The KRaftVersion and Voters records a new leader writes after its LeaderChange record, as
    Kafka's ``LeaderState.appendStartOfEpochControlRecords`` does at kraft.version 1: when the log
    holds no Voters record yet (the set came from the bootstrap checkpoint or the configuration) or
    the leader's own entry differs from its listeners and kraft.version range."""
    if ctx.quorum.kraft_version < 1:
        return ()
    voters = ctx.quorum.voters
    local = Voter(ctx.quorum.local_key, ctx.quorum.endpoints, SUPPORTED_KRAFT_VERSIONS)
    current = voters.get(ctx.quorum.node_id)
    if current is None or not current.key.matches(ctx.quorum.local_key):
        return ()
    last = ctx.quorum.history.last_offset()
    if last is not None and last >= 0 and current == local:  # -1: the bootstrap checkpoint's record
        return ()
    return (kraft_version_record(ctx.quorum.kraft_version), voters_record(voters.with_voter_updated(local)))


def set_voters_in_force(ctx, leader: Leader, voters: VoterSet) -> None:
    """The leader's replica progress follows ``voters``: new voters keep what the leader knew of
    them as observers, removed ones become observers."""
    old = dict(leader.voters)
    progress = {}
    for key in voters.keys():
        p = old.pop(key.id, None)
        if p is None or p.key != key:
            if p is not None:
                leader.observers.setdefault(p.key, p)
            p = leader.observers.pop(key, None) or ReplicaProgress(key)
        progress[key.id] = p
    for p in old.values():
        leader.observers.setdefault(p.key, p)
    leader.voters = progress


def local_progress(ctx, leader: Leader) -> ReplicaProgress:
    """The leader's own progress: among the voters, or among the observers once it removed itself."""
    local_key = ctx.quorum.local_key
    local = leader.voters.get(local_key.id)
    if local is None or not local.key.matches(local_key):
        local = leader.observers.setdefault(local_key, ReplicaProgress(local_key))
    return local


def on_leader_batch(ctx, leader: Leader, batch: LeaderBatch) -> None:
    """A control batch the leader appended (its records already read into the history): the
    leader's replica progress follows the voter set now in force."""
    if batch.control_records:
        set_voters_in_force(ctx, leader, ctx.quorum.voters)


def replica_caught_up(leader: Leader, key: ReplicaKey, now: int) -> bool:
    """Kafka's ``isReplicaCaughtUp``: an observer that was caught up once and fetched in the last hour."""
    p = leader.observers.get(key)
    return (p is not None and p.last_caught_up_ms > 0 and p.last_fetch_ms > 0
            and p.last_fetch_ms > now - CAUGHT_UP_FETCH_WINDOW_MS)


def uncommitted_voters_error(ctx, leader: Leader) -> Optional[str]:
    """Why no change may start now, for the checks every voter change shares, or ``None``."""
    hw = leader.high_watermark
    last = ctx.quorum.history.last_offset()
    # ``None``: the set in force is the one the node started with (the bootstrap checkpoint's, or
    # the latest the log held then, which the driver passes with its offset when it has one)
    if last is not None and last >= hw:
        return (f"Request timed out waiting for voters to commit the latest voter change at "
                f"{last} with HWM {hw}")
    return None


def refusal(ctx, leader: Leader, now: int, doing: str) -> Optional[tuple]:
    """Why the leader cannot start a change ``doing`` ("adding", "removing") now, in Kafka's order
    (a change pending, no high watermark in this epoch, kraft.version 0, a Voters record not yet
    committed): ``(error, message)``, or ``None`` when it can."""
    if is_pending(ctx, leader, now):
        return Errors.REQUEST_TIMED_OUT, "Request timed out waiting for leader to handle previous voter change request"
    if leader.high_watermark is None:
        return (Errors.REQUEST_TIMED_OUT,
                "Request timed out waiting for leader to establish HWM and fence previous voter changes")
    if ctx.quorum.kraft_version < 1:
        return (Errors.UNSUPPORTED_VERSION,
                f"Cluster doesn't support {doing} voter because the kraft.version feature is "
                f"{ctx.quorum.kraft_version}")
    why = uncommitted_voters_error(ctx, leader)
    if why is not None:
        return Errors.REQUEST_TIMED_OUT, why
    return None
