"""DescribeQuorum: the leader reports every voter's and observer's progress."""
from __future__ import annotations

from kraft.core import rpc
from kraft.core.context import Context
from kraft.core.roles import ReplicaProgress
from kraft.core.rpcs import common
from kraft.protocol.errors import Errors
from kraft.protocol.uuid import Uuid

#: Kafka's LeaderState: an observer that has not fetched for this long is dropped from DescribeQuorum.
OBSERVER_SESSION_TIMEOUT_MS = 300_000
_NOT_LEADER_OR_FOLLOWER_MESSAGE = (
    "For requests intended only for the leader, this error indicates that the broker is not the current leader. "
    "For requests intended for any replica, this error indicates that the broker is not a replica of the topic "
    "partition.")
_UNKNOWN_TOPIC_OR_PARTITION_MESSAGE = "This server does not host this topic-partition."


def handle_request(ctx: Context, req: rpc.DescribeQuorumRequest, now: int) -> rpc.DescribeQuorumResponse:
    """Answer DescribeQuorum as Kafka 3.9.0's leader does (a non-leader: NOT_LEADER_OR_FOLLOWER).

    Observers that have not fetched for five minutes are forgotten first.
    """
    cls = rpc.DescribeQuorumResponse
    # Error answers leave every other field at the schema's defaults (0, and "" for the top-level
    # message), as Kafka's do; only the leader's answer carries -1 for what it does not know.
    if not common.shape_ok(ctx, req):
        return cls(error_message="", topic=req.topic, partition=req.partition,
                   partition_error=Errors.UNKNOWN_TOPIC_OR_PARTITION,
                   partition_error_message=_UNKNOWN_TOPIC_OR_PARTITION_MESSAGE, leader_id=0, leader_epoch=0,
                   high_watermark=0, partition_count=req.partition_count, api_version=req.api_version,
                   echo=req.requested)
    role = ctx.quorum.leader_state()
    if role is None:
        return cls(error_message="", topic=ctx.identity.topic, partition=ctx.identity.partition,
                   partition_error=Errors.NOT_LEADER_OR_FOLLOWER, partition_error_message=_NOT_LEADER_OR_FOLLOWER_MESSAGE,
                   leader_id=0, leader_epoch=0, high_watermark=0, api_version=req.api_version)
    for key in [k for k, p in role.observers.items() if now - p.last_fetch_ms >= OBSERVER_SESSION_TIMEOUT_MS]:
        del role.observers[key]
    v2 = req.api_version >= 2

    def state(progress: ReplicaProgress) -> rpc.ReplicaState:
        local = progress.key.id == ctx.quorum.node_id
        # the leader's own: its log end, as Kafka's (under leader_flush_async its progress is the flushed end)
        end = ctx.log_view.end.offset if local else progress.end_offset
        return rpc.ReplicaState(
            replica_id=progress.key.id,
            log_end_offset=-1 if end is None else end,
            last_fetch_timestamp=now if local else progress.last_fetch_ms,
            last_caught_up_timestamp=now if local else progress.last_caught_up_ms,
            replica_directory_id=progress.key.directory_or_zero if v2 else Uuid.ZERO)

    voters = [role.voters[i] for i in sorted(role.voters)]
    nodes = tuple((p.key.id, ctx.quorum.voters.endpoints(p.key.id)) for p in voters) if v2 else ()
    return cls(error_message="", topic=ctx.identity.topic, partition=ctx.identity.partition, partition_error_message="",
               leader_id=ctx.quorum.node_id, leader_epoch=role.epoch,
               high_watermark=-1 if role.high_watermark is None else role.high_watermark,
               current_voters=tuple(state(p) for p in voters),
               observers=tuple(state(role.observers[k]) for k in sorted(role.observers)),
               nodes=nodes, api_version=req.api_version)
