"""The leader's batches as Kafka record batches on disk, and committed batches for listeners.

:func:`encode_leader_batch` writes a :class:`kraft.core.effects.LeaderBatch`
as Kafka's raft layer does: magic 2, no compression, CreateTime stamped with
the append time, no producer; data records have a null key and the payload as
value; a LeaderChange control record has key ``(version 0, type 2)`` and the
``LeaderChangeMessage`` (version 0) as value.  :func:`read_committed_batches`
is the ``BatchReader`` of :class:`kraft.client.RaftClient` for a log on disk.
"""
from __future__ import annotations

import struct

from kraft.core.effects import LeaderBatch, LeaderChangeMessage
from kraft.core.log import ReplicatedLog
from kraft.core.voters_record import VotersControl, encode_voters_batch
from kraft.core.committed import Batch
from kraft.protocol import messages
from kraft.records import Record, decode_batches, encode_batch

#: Kafka's control record key: int16 version 0, int16 type (2 = LeaderChange).
LEADER_CHANGE_KEY = struct.pack(">hh", 0, 2)
_READ_BYTES = 8 * 1024 * 1024
_NONE_TYPE = type(None)


def encode_leader_change(change: LeaderChangeMessage) -> bytes:
    voter = messages.LeaderChangeMessage.Voter
    return messages.LeaderChangeMessage(
        version=change.version, leader_id=change.leader_id,
        voters=[voter(voter_id=v) for v in change.voters],
        granting_voters=[voter(voter_id=v) for v in change.granting_voters]).encode(0)


def encode_leader_batch(batch: LeaderBatch) -> bytes:
    """The record batch bytes of a leader batch (offsets from ``batch.base_offset``)."""
    if isinstance(batch.control, VotersControl):
        return encode_voters_batch(batch.control, batch.base_offset, batch.epoch, batch.append_time_ms)
    if batch.control is not None:
        records = [Record(encode_leader_change(batch.control), key=LEADER_CHANGE_KEY)]
        return encode_batch(records, base_offset=batch.base_offset, partition_leader_epoch=batch.epoch,
                            timestamp=batch.append_time_ms, is_control=True)
    return encode_batch(batch.records, base_offset=batch.base_offset, partition_leader_epoch=batch.epoch,
                        timestamp=batch.append_time_ms)


def read_committed_batches(log: ReplicatedLog, start_offset: int, end_offset: int) -> list[Batch]:
    """The batches of ``log`` from the one holding ``start_offset`` up to ``end_offset`` (excluded).

    Control batches come with no records; data batches with their record values
    (read-only bytes-like views into one copy of what was read; a null value is ``b""``).
    Every batch carries its size on disk as ``size_in_bytes``.
    """
    out: list[Batch] = []
    offset = start_offset
    while offset < end_offset:
        data = log.read(offset, _READ_BYTES).records
        # The log checked every batch's CRC when it was appended: no need to again.
        size = 0
        for batch in decode_batches(data, check_crc=False):
            if batch.base_offset >= end_offset:
                break
            size += batch.size_in_bytes
        if not size:
            break
        # One copy of the committed part only, so the values handed out do not pin the log's mappings.
        for batch in decode_batches(bytes(data[:size]), check_crc=False):
            if batch.is_control:
                out.append(Batch(batch.base_offset, batch.last_offset, batch.partition_leader_epoch,
                                 batch.max_timestamp, size_in_bytes=batch.size_in_bytes))
            else:
                values = batch.values()
                if _NONE_TYPE in set(map(type, values)):
                    values = [b"" if v is None else v for v in values]
                out.append(Batch(batch.base_offset, batch.last_offset, batch.partition_leader_epoch,
                                 batch.max_timestamp, tuple(values), size_in_bytes=batch.size_in_bytes))
            offset = batch.last_offset + 1
    return out
