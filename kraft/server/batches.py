"""The leader's batches as Kafka record batches on disk, and committed batches for listeners.

Both are the core's (:mod:`kraft.core.batches`): :func:`encode_leader_batch`
writes a :class:`kraft.core.effects.LeaderBatch` as Kafka's raft layer does;
:func:`read_committed_batches` is the ``BatchReader`` of
:class:`kraft.client.RaftClient` for any ``ReplicatedLog``.
"""
from __future__ import annotations

from kraft.core.batches import decode_committed, encode_leader_batch, encode_leader_change
from kraft.core.committed import Batch
from kraft.core.log import ReplicatedLog
from kraft.records import decode_batches
from kraft.records.constants import KRAFT_MAX_BATCH_SIZE

__all__ = ["encode_leader_batch", "encode_leader_change", "read_committed_batches"]


def read_committed_batches(log: ReplicatedLog, start_offset: int, end_offset: int) -> list[Batch]:
    """The batches of ``log`` from the one holding ``start_offset`` up to ``end_offset`` (excluded).

    Control batches come with no records (and their LeaderChange, if any); data batches with
    their record values (read-only bytes-like views into one copy of what was read; a null
    value is ``b""``).  Every batch carries its size in the log as ``size_in_bytes``.
    """
    out: list[Batch] = []
    offset = start_offset
    while offset < end_offset:
        data = log.read(offset, KRAFT_MAX_BATCH_SIZE).records
        # The log checked every batch's CRC when it was appended: no need to again.
        size = 0
        for batch in decode_batches(data, check_crc=False):
            if batch.base_offset >= end_offset:
                break
            size += batch.size_in_bytes
        if not size:
            break
        # One copy of the committed part only, so the values handed out do not pin the log's mappings.
        batches = decode_committed(bytes(data[:size]))
        out.extend(batches)
        offset = batches[-1].last_offset + 1
    return out
