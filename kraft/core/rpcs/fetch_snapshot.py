"""FetchSnapshot: the leader serves a snapshot in chunks; a follower downloads and installs it."""
from __future__ import annotations

import dataclasses

from kraft.core import rpc
from kraft.core.behaviour import REFERENCE_REVISION
from kraft.core.context import Context
from kraft.core.effects import AbandonSnapshotDownload, AppendSnapshotChunk
from kraft.core.errors import FatalRaftError
from kraft.core.log import BOOTSTRAP_SNAPSHOT_ID
from kraft.core.roles import Follower, Leader
from kraft.core.rpcs import common
from kraft.core.types import ReplicaKey
from kraft.protocol.errors import Errors
from kraft.protocol.uuid import Uuid


def build_request(ctx: Context, destination: int) -> rpc.FetchSnapshotRequest:
    """The follower's request for the next chunk of the snapshot it is downloading."""
    role: Follower = ctx.quorum.role
    reference = ctx.identity.behaviour == REFERENCE_REVISION
    return rpc.FetchSnapshotRequest(
        cluster_id=ctx.identity.cluster_id, replica_id=ctx.quorum.node_id, topic=ctx.identity.topic, partition=ctx.identity.partition,
        current_leader_epoch=role.epoch, snapshot_id=role.snapshot_id, position=role.snapshot_size,
        max_bytes=2**31 - 1 if reference else ctx.config.fetch_snapshot_max_bytes,
        replica_directory_id=Uuid.ZERO if reference else ctx.quorum.local_key.directory_or_zero,
        api_version=common.version(ctx, rpc.FETCH_SNAPSHOT, destination),
    )


def _our_partition(ctx: Context, req: rpc.FetchSnapshotRequest):
    """``req`` narrowed to the first entry (in request order) naming our topic and partition, or ``None``."""
    if req.topic == ctx.identity.topic and req.partition == ctx.identity.partition:
        return req
    for entry in req.other_partitions:
        if entry[0] == ctx.identity.topic and entry[1] == ctx.identity.partition:
            return dataclasses.replace(req, **dict(zip(rpc.FetchSnapshotRequest.PARTITION_FIELDS, entry)))
    return None


def handle_request(ctx: Context, req: rpc.FetchSnapshotRequest, listener: str, now: int) -> rpc.FetchSnapshotResponse:
    """Serve a chunk of the requested snapshot (leader only)."""
    cls = rpc.FetchSnapshotResponse
    if not common.cluster_ok(ctx, req.cluster_id):
        return cls(error_code=Errors.INCONSISTENT_CLUSTER_ID, partition_count=0, api_version=req.api_version)
    # Kafka 3.9.0 rejects the shape only when there is not exactly one topic AND the first topic does not
    # have exactly one partition; any other shape is searched for our partition.  Deviation: a request with
    # no partition entry at all (no topics, or one topic with none) makes Kafka's lookup of the first entry
    # throw out of its poll loop, a fatal fault for the leader; we answer INVALID_REQUEST instead.
    if (req.topic_count != 1 and req.first_topic_partition_count != 1) or req.partition_count == 0:
        return cls(error_code=Errors.INVALID_REQUEST, partition_count=0, api_version=req.api_version)
    ours = _our_partition(ctx, req)
    if ours is None:
        # named after the first entry, with no leader
        return cls(topic=req.topic, partition=req.partition, partition_error=Errors.UNKNOWN_TOPIC_OR_PARTITION,
                   node_endpoints=common.node_endpoints(ctx, rpc.FETCH_SNAPSHOT, req.api_version, listener),
                   api_version=req.api_version)
    req = ours

    def answer(error, **fields):
        return cls(topic=ctx.identity.topic, partition=ctx.identity.partition, partition_error=int(error),
                   current_leader_id=ctx.quorum.leader_id_or_sentinel(), current_leader_epoch=ctx.quorum.role.epoch,
                   node_endpoints=common.node_endpoints(ctx, rpc.FETCH_SNAPSHOT, req.api_version, listener),
                   api_version=req.api_version, **fields)

    error = common.leader_only_error(ctx, req.current_leader_epoch)
    if error is not None:
        return answer(error)
    # The bootstrap checkpoint is never replicated: the first leader's log carries what it holds.
    reader = None if req.snapshot_id == BOOTSTRAP_SNAPSHOT_ID else ctx.log.read_snapshot(req.snapshot_id)
    if reader is None:
        return answer(Errors.SNAPSHOT_NOT_FOUND)
    size = reader.size_in_bytes()
    if req.position < 0 or req.position >= size:
        return answer(Errors.POSITION_OUT_OF_RANGE)
    data = reader.read(req.position, min(req.max_bytes, size))
    key = ReplicaKey.of(req.replica_id, req.replica_directory_id)
    leader: Leader = ctx.quorum.role
    if ctx.quorum.voters.is_voter(key) and key.id != ctx.quorum.node_id:
        common.record_voter_fetch(ctx, leader, key.id, now)
    return answer(Errors.NONE, snapshot_id=req.snapshot_id, size=size, position=req.position,
                  unaligned_records=data)


def handle_response(ctx: Context, source: int, response: rpc.FetchSnapshotResponse, now: int) -> bool:
    """Append the chunk; install the snapshot once complete; start over if the leader lost it."""
    if response.error_code != Errors.NONE:
        return common.top_level_error(response.error_code)
    # Kafka 3.9.0's follower checks the shape as its leader does (not one topic AND not one partition
    # in the first), then looks for its partition among every entry.
    if response.topic_count != 1 and response.first_topic_partition_count != 1:
        return False
    candidates = (response, *response.other_partitions) if response.partition_count else ()
    response = next((r for r in candidates if r.topic == ctx.identity.topic and r.partition == ctx.identity.partition), None)
    if response is None:
        return False
    leader_id = response.current_leader_id if response.current_leader_id >= 0 else None
    endpoints = common.response_endpoints(ctx, leader_id, response.node_endpoints)
    handled = common.handle_leader_view(ctx, response.partition_error, leader_id,
                                        response.current_leader_epoch, endpoints, now)
    if handled is not None:
        return handled
    role = ctx.quorum.follower_state()
    if role is None:
        return False
    sid = response.snapshot_id
    if response.partition_error == Errors.SNAPSHOT_NOT_FOUND or sid.offset < 0 or sid.epoch < 0:
        # The leader no longer has it: start over from the next Fetch.
        if role.snapshot_id is not None:
            ctx.outbox.emit(AbandonSnapshotDownload(role.snapshot_id))
        role.snapshot_id, role.snapshot_size = None, 0
        role.fetch_deadline_ms = now + ctx.config.fetch_timeout_ms
        role.leader_unreachable = False
        role.has_fetched = True
        return True
    if response.partition_error != Errors.NONE:
        return False
    if role.snapshot_id is None or role.snapshot_id != sid or role.snapshot_size != response.position:
        raise FatalRaftError(
            f"unexpected FetchSnapshot response for {sid} at position {response.position}; downloading "
            f"{role.snapshot_id} with {role.snapshot_size} bytes")
    data = response.unaligned_records or b""
    ctx.outbox.emit(AppendSnapshotChunk(sid, data))
    role.snapshot_size += len(data)
    if role.snapshot_size == response.size:
        end = ctx.log_view.end
        if not (sid.epoch > end.epoch or (sid.epoch == end.epoch and sid.offset > end.offset)):
            raise FatalRaftError(f"snapshot {sid} does not lie beyond the log end {end}")
        ctx.log_view.install_snapshot(sid)
        role.snapshot_id, role.snapshot_size = None, 0
        if ctx.log_view.high_watermark is None or sid.offset > ctx.log_view.high_watermark:
            ctx.log_view.set_high_watermark(sid.offset)
    role.fetch_deadline_ms = now + ctx.config.fetch_timeout_ms
    role.leader_unreachable = False
    role.has_fetched = True
    return True
