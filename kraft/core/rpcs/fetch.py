"""Fetch: the leader answers (or parks) fetches and moves the high watermark; a follower appends what it fetched."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from kraft.core import quorum as q
from kraft.core import rpc, voter_change
from kraft.records.constants import KRAFT_MAX_BATCH_SIZE
from kraft.core.batches import scan_batches
from kraft.core.behaviour import REFERENCE_REVISION
from kraft.core.context import Context
from kraft.core.effects import (
    InboundRequest, Respond, StartSnapshotDownload,
)
from kraft.core.errors import FatalRaftError
from kraft.core.log import BOOTSTRAP_SNAPSHOT_ID, OffsetAndEpoch, ValidationKind, ValidOffsetAndEpoch
from kraft.core.roles import Leader, ReplicaProgress
from kraft.core.rpcs import common
from kraft.core.types import ReplicaKey
from kraft.errors import KraftError
from kraft.protocol.errors import Errors
from kraft.protocol.uuid import Uuid


@dataclass
class ParkedFetch:
    """A fetch the leader holds until new data arrives or ``deadline_ms`` passes."""
    source_id: int
    correlation_id: int
    request: rpc.FetchRequest
    listener: str
    deadline_ms: int
    expiry_response: rpc.FetchResponse


class ParkedFetches:
    """The fetches a leader holds, whether its appends may now serve some (``wake``), and whether
    its high watermark moved since they were parked (``high_watermark_moved``)."""

    __slots__ = ("fetches", "wake", "high_watermark_moved")

    def __init__(self):
        self.fetches: list[ParkedFetch] = []
        self.wake = False
        self.high_watermark_moved = False


# ---------------------------------------------------------------- follower side
def build_request(ctx: Context, destination: int) -> rpc.FetchRequest:
    """A Fetch from the local log end to ``destination``."""
    reference = ctx.identity.behaviour == REFERENCE_REVISION
    version = common.version(ctx, rpc.FETCH, destination)
    # HighWatermark is a v18 field: below v18 the request carries what the leader decodes when it is
    # absent, so an in-memory request is the one the wire would deliver
    hw = ctx.log_view.high_watermark
    if version < rpc.FETCH_HIGH_WATERMARK_MIN_VERSION:
        hw = rpc.HIGH_WATERMARK_NOT_SENT
    elif hw is None:
        hw = -1
    return rpc.FetchRequest(
        cluster_id=ctx.identity.cluster_id, replica_id=ctx.quorum.node_id, topic_id=ctx.identity.topic_id, partition=ctx.identity.partition,
        fetch_offset=ctx.log_view.end.offset, last_fetched_epoch=ctx.log_view.end.epoch,
        current_leader_epoch=ctx.quorum.role.epoch,
        replica_directory_id=Uuid.ZERO if reference else ctx.quorum.local_key.directory_or_zero,
        api_version=version, high_watermark=hw,
        max_bytes=rpc.MAX_FETCH_BYTES if reference else ctx.config.fetch_max_bytes,
    )


def handle_response(ctx: Context, source: int, response: rpc.FetchResponse, now: int) -> bool:
    """Truncate, start a snapshot download, or append and move the high watermark, as the leader says."""
    done, success = common.check_response(
        ctx, response, response.current_leader_id, response.current_leader_epoch, now)
    if done:
        return success
    role = ctx.quorum.follower_state()
    if role is None:
        return False
    if response.diverging_epoch is not None and response.diverging_epoch.epoch >= 0:
        _truncate(ctx, response.diverging_epoch)
    elif response.snapshot_id is not None and (
            response.snapshot_id.epoch >= 0 or response.snapshot_id.offset >= 0):
        if response.snapshot_id.epoch < 0 or response.snapshot_id.offset < 0:
            return False
        if role.snapshot_id is None and ctx.log.read_snapshot(response.snapshot_id) is None:
            ctx.outbox.emit(StartSnapshotDownload(response.snapshot_id))
            role.snapshot_id, role.snapshot_size = response.snapshot_id, 0
    else:
        records = response.records
        if records is not None and len(records) > 0:
            _append_as_follower(ctx, records)
        if response.high_watermark >= 0:
            _update_follower_high_watermark(ctx, response.high_watermark)
    role.fetch_deadline_ms = now + ctx.config.fetch_timeout_ms
    role.leader_unreachable = False
    role.has_fetched = True
    return True


def _truncate(ctx: Context, diverging: OffsetAndEpoch) -> None:
    hw = ctx.log_view.high_watermark
    if hw is not None and diverging.offset < hw:
        raise FatalRaftError(
            f"refusing to truncate committed records: the leader asked this follower to truncate to "
            f"offset {diverging.offset} (diverging epoch {diverging.epoch}), below its high watermark {hw}")
    if diverging.epoch == 0:
        new_end = min(diverging.offset, ctx.log_view.end.offset)
    else:
        local = ctx.log.end_offset_for_epoch(diverging.epoch)
        new_end = min(local.offset, diverging.offset) if local.epoch == diverging.epoch else local.offset
    if hw is not None and new_end < hw:
        raise FatalRaftError(
            f"refusing to truncate committed records: truncating to offset {new_end} (the leader's diverging "
            f"offset {diverging.offset} in epoch {diverging.epoch}) would go below the high watermark {hw}")
    ctx.log_view.truncate(diverging, new_end)


def _append_as_follower(ctx: Context, records) -> None:
    headers, span = scan_batches(records)
    if not headers:
        return
    end = ctx.log_view.end
    if headers[0].base_offset != end.offset:
        raise FatalRaftError(
            f"fetched batch at offset {headers[0].base_offset} does not continue the log end {end.offset}")
    last = headers[-1]
    view = memoryview(records)[:span] if span < len(records) else records
    ctx.log_view.append_as_follower(view, last.epoch, last.last_offset, headers)


def _update_follower_high_watermark(ctx: Context, leader_hw: int) -> None:
    new = min(ctx.log_view.end.offset, leader_hw)
    if ctx.log_view.high_watermark is None or new > ctx.log_view.high_watermark:
        ctx.log_view.set_high_watermark(new)
    elif new < ctx.log_view.high_watermark:
        raise FatalRaftError(f"the high watermark would go back from {ctx.log_view.high_watermark} to {new}")


# ------------------------------------------------------------------ leader side
def fetch_response(ctx: Context, req: rpc.FetchRequest, listener: str, error: int, *, hw: int,
                   records=b"", validation: Optional[ValidOffsetAndEpoch] = None) -> rpc.FetchResponse:
    """The leader's answer to ``req``: ``error``, ``records``, and a diverging epoch or snapshot id if validated so."""
    diverging = snapshot = None
    if validation is not None and validation.kind is ValidationKind.DIVERGING:
        diverging = validation.offset_and_epoch
    elif validation is not None and validation.kind is ValidationKind.SNAPSHOT:
        snapshot = validation.offset_and_epoch
    return rpc.FetchResponse(
        topic_id=ctx.identity.topic_id, partition=ctx.identity.partition, partition_error=int(error), high_watermark=hw,
        log_start_offset=ctx.log.start_offset, diverging_epoch=diverging,
        current_leader_id=ctx.quorum.leader_id_or_sentinel(), current_leader_epoch=ctx.quorum.role.epoch,
        snapshot_id=snapshot, records=records,
        node_endpoints=common.node_endpoints(ctx, rpc.FETCH, req.api_version, listener),
        api_version=req.api_version,
    )


def handle_request(ctx: Context, event: InboundRequest, now: int) -> Optional[rpc.FetchResponse]:
    """Answer a Fetch now, or park it (and return ``None``) until data arrives or its wait ends."""
    req: rpc.FetchRequest = event.request
    if not common.cluster_ok(ctx, req.cluster_id):
        return rpc.FetchResponse(error_code=Errors.INCONSISTENT_CLUSTER_ID, partition_count=0,
                                 api_version=req.api_version)
    if not (req.partition_count == 1 and req.topic_id == ctx.identity.topic_id and req.partition == ctx.identity.partition):
        return rpc.FetchResponse(error_code=Errors.INVALID_REQUEST, partition_count=0, api_version=req.api_version)
    if (req.max_wait_ms < 0 or req.fetch_offset < 0 or req.last_fetched_epoch < 0
            or req.last_fetched_epoch > req.current_leader_epoch):
        return fetch_response(ctx, req, event.listener, Errors.INVALID_REQUEST, hw=-1)
    _note_read_barrier_fetch(ctx, req)
    response = _try_complete(ctx, req, event.listener, now)
    if (response.partition_error != Errors.NONE or len(response.records) > 0 or req.max_wait_ms == 0
            or response.diverging_epoch is not None or response.snapshot_id is not None
            or _behind_high_watermark(req, response.high_watermark)):
        return response
    ctx.parked.fetches.append(ParkedFetch(event.source_id, event.correlation_id, req, event.listener,
                                    now + req.max_wait_ms, response))
    return None


def _behind_high_watermark(req: rpc.FetchRequest, high_watermark: int) -> bool:
    """Fetch v18 (KIP-1166, Kafka 4.1): the follower's high watermark is behind the leader's, so it is
    answered at once rather than parked (Kafka's ``KafkaRaftClient.isHighWatermarkUpdated``).  Older
    versions carry ``HIGH_WATERMARK_NOT_SENT`` (Long.MAX_VALUE), never behind: parked as before."""
    return req.high_watermark < high_watermark


def _try_complete(ctx: Context, req: rpc.FetchRequest, listener: str, now: int) -> rpc.FetchResponse:
    error = common.leader_only_error(ctx, req.current_leader_epoch)
    if error is not None:
        return fetch_response(ctx, req, listener, error, hw=-1)
    leader: Leader = ctx.quorum.role
    if req.replica_id == ctx.quorum.node_id:
        return fetch_response(ctx, req, listener, Errors.UNKNOWN_SERVER_ERROR, hw=-1)
    try:
        latest = ctx.log.latest_snapshot_id()
        if req.fetch_offset == 0 and latest is not None and latest != BOOTSTRAP_SNAPSHOT_ID:
            validation = ValidOffsetAndEpoch(ValidationKind.SNAPSHOT, latest)
        else:
            validation = ctx.log.validate_offset_and_epoch(req.fetch_offset, req.last_fetched_epoch)
        records = b""
        if validation.kind is ValidationKind.VALID and req.fetch_offset < ctx.log_view.end.offset:
            # Kafka 4.3 (KIP-1219): at most the follower's MaxBytes (at least one batch); 3.9's leader
            # read a fixed 8 MiB, which is what 3.9 followers ask for
            records = ctx.log.read(req.fetch_offset, min(KRAFT_MAX_BATCH_SIZE, req.max_bytes)).records
    except (KraftError, ValueError, OSError):
        # Kafka answers UNKNOWN_SERVER_ERROR when reading the log fails.
        return fetch_response(ctx, req, listener, Errors.UNKNOWN_SERVER_ERROR, hw=-1)
    if validation.kind is ValidationKind.VALID:
        _update_replica_state(ctx, leader, req.replica_key, req.fetch_offset, now)
    hw = leader.high_watermark
    return fetch_response(ctx, req, listener, Errors.NONE, hw=-1 if hw is None else hw,
                          records=records, validation=validation)


def _update_replica_state(ctx: Context, leader: Leader, key: ReplicaKey, fetch_offset: int, now: int) -> None:
    if key.id < 0:
        return
    is_voter = ctx.quorum.voters.is_voter(key)
    if is_voter:
        progress = leader.voters[key.id]
    else:
        progress = leader.observers.setdefault(key, ReplicaProgress(key))
    leader_end = ctx.log_view.end.offset
    if fetch_offset >= leader_end:
        progress.last_caught_up_ms = now
    elif progress.last_fetch_leader_end > 0 and fetch_offset >= progress.last_fetch_leader_end:
        progress.last_caught_up_ms = progress.last_fetch_ms
    progress.end_offset = fetch_offset
    progress.last_fetch_ms = now
    progress.last_fetch_leader_end = leader_end
    if is_voter:
        leader.acknowledged.add(key.id)
        common.record_voter_fetch(ctx, leader, key.id, now)
        maybe_update_leader_high_watermark(ctx, leader)


def note_leader_flushed(ctx: Context, leader: Leader) -> None:
    """Under ``leader_flush_async``: the leader's own position is what its log has flushed."""
    progress = leader.voters.get(ctx.quorum.node_id)
    if progress is None:
        return
    flushed = min(ctx.log.last_flushed_offset, ctx.log_view.end.offset)
    if progress.end_offset is None or flushed > progress.end_offset:
        progress.end_offset = flushed
        maybe_update_leader_high_watermark(ctx, leader)


def maybe_update_leader_high_watermark(ctx: Context, leader: Leader) -> None:
    """Move the leader's high watermark to what a majority of voters has, once past the epoch start."""
    candidate = q.high_watermark_candidate(leader.voter_end_offsets())
    if candidate is None or candidate <= leader.epoch_start_offset:
        return
    if leader.high_watermark is None or candidate > leader.high_watermark:
        leader.high_watermark = candidate
        ctx.log_view.set_high_watermark(candidate)
        ctx.parked.high_watermark_moved = True
        if leader.voter_change is not None:
            voter_change.high_watermark_updated(ctx, leader)


# -------------------------------------------------------------- parked fetches
def expire_parked(ctx: Context, now: int) -> None:
    """Answer the parked fetches whose wait is over with the empty response computed when they arrived."""
    parked = ctx.parked
    keep = []
    for p in parked.fetches:
        if now >= p.deadline_ms:
            ctx.outbox.emit(Respond(p.source_id, p.correlation_id, p.expiry_response))
        else:
            keep.append(p)
    parked.fetches = keep


def complete_woken_fetches(ctx: Context, now: int) -> None:
    """Answer parked fetches that the leader's last appends (now applied) can serve, and those of
    Fetch v18 followers whose high watermark is now behind."""
    parked = ctx.parked
    if not (parked.wake or parked.high_watermark_moved):
        return
    parked.wake = parked.high_watermark_moved = False
    leader = ctx.quorum.leader_state()
    hw = leader.high_watermark if leader is not None else None
    keep = []
    for p in parked.fetches:
        # new data to serve, or (Fetch v18) a high watermark the follower has not seen yet: Kafka 4.1+
        # completes the parked fetches whenever the leader's high watermark moves
        if (p.request.fetch_offset < ctx.log_view.end.offset
                or (hw is not None and _behind_high_watermark(p.request, hw))):
            ctx.outbox.emit(Respond(p.source_id, p.correlation_id, _try_complete(ctx, p.request, p.listener, now)))
        else:
            keep.append(p)
    parked.fetches = keep


def _note_read_barrier_fetch(ctx: Context, req: rpc.FetchRequest) -> None:
    """Count a voter's Fetch of the leader's epoch towards the pending read barriers."""
    role = ctx.quorum.leader_state()
    if (role is not None and role.read_barriers and req.current_leader_epoch == role.epoch
            and req.replica_id != ctx.quorum.node_id and ctx.quorum.voters.is_voter(req.replica_key)):
        for barrier in role.read_barriers.values():
            barrier.note_fetch(req.replica_id)


def flush_parked_for_read_barriers(ctx: Context, now: int) -> None:
    """Answer the parked fetches now that a read barrier was asked, so that the voters' next fetches
    (which confirm it) come at once instead of after their wait; their voters are primed."""
    role = ctx.quorum.leader_state()
    if role is None:
        return
    fresh = [b for b in role.read_barriers.values() if b.flush_parked]
    if not fresh:
        return
    for barrier in fresh:
        barrier.flush_parked = False
    parked = ctx.parked
    keep = []
    for p in parked.fetches:
        if ctx.quorum.voters.is_voter(p.request.replica_key) and p.request.replica_id != ctx.quorum.node_id:
            ctx.outbox.emit(Respond(p.source_id, p.correlation_id, _try_complete(ctx, p.request, p.listener, now)))
            for barrier in fresh:
                barrier.primed.add(p.request.replica_id)
        else:
            keep.append(p)
    parked.fetches = keep


def fail_parked(ctx: Context, error: int) -> None:
    """Answer every parked fetch with ``error`` (the node stopped leading)."""
    parked, ctx.parked.fetches = ctx.parked.fetches, []
    for p in parked:
        ctx.outbox.emit(Respond(p.source_id, p.correlation_id, fetch_response(ctx, p.request, p.listener, error, hw=-1)))
