"""Committed batches for listener tests, with sizes taken from the bytes Kafka's format gives them."""
from __future__ import annotations

from kraft.core.effects import LeaderBatch, LeaderChangeMessage
from kraft.core.committed import Batch
from kraft.server.batches import encode_leader_batch


def committed_batch(base_offset: int, epoch: int, records=(), *, append_time_ms: int = 0) -> Batch:
    """A data batch of ``records``, or with none a LeaderChange control batch (leader 1, voters 1-3)."""
    control = None if records else LeaderChangeMessage(1, (1, 2, 3), (1, 2))
    leader_batch = LeaderBatch(base_offset, epoch, append_time_ms, tuple(records), control)
    size = len(encode_leader_batch(leader_batch))
    return Batch(base_offset, leader_batch.last_offset, epoch, append_time_ms, tuple(records), control,
                 size_in_bytes=size)
