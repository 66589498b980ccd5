"""The core's record batches (v2), in Kafka's format.

* :func:`scan_batches` reads batch headers without decoding records: the core
  needs, for fetched data, each batch's base offset, last offset and partition
  leader epoch, and must cut a trailing partial batch (a leader may slice its
  log by bytes).  Layout (records-and-files.md): baseOffset int64, batchLength
  int32 (bytes after this field), partitionLeaderEpoch int32, magic int8, crc
  uint32, attributes int16, lastOffsetDelta int32, ...
* :func:`encode_leader_batch` writes a leader's batch as Kafka's raft layer
  does, with the native codec; :func:`decode_committed` reads batches back as
  the :class:`~kraft.core.committed.Batch` values listeners get.  Every log
  (the in-memory one included) holds these bytes.
"""
from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass

from kraft.core.committed import Batch
from kraft.core.effects import LeaderBatch, LeaderChangeMessage
from kraft.core.log import Buffer
from kraft.errors import CorruptRecordError
from kraft.protocol import messages
from kraft.records import decode_batches, encode_batch
from kraft.records.constants import CONTROL_MASK as _CONTROL_FLAG
from kraft.records.constants import LOG_OVERHEAD as _LOG_OVERHEAD
from kraft.records.constants import RECORD_BATCH_OVERHEAD
from kraft.records.control import ControlRecordType, encode_control_record, read_control_batch

_HEADER = struct.Struct(">qiibIhi")
_NONE_TYPE = type(None)
_LEADER_CHANGE = (ControlRecordType.LEADER_CHANGE,)


@dataclass(frozen=True)
class BatchHeader:
    base_offset: int
    last_offset: int
    epoch: int
    is_control: bool
    position: int
    size: int


def scan_batches(records: Buffer) -> tuple[list[BatchHeader], int]:
    """Headers of the complete batches in ``records`` and the byte length they span.

    Stops at a trailing partial batch.  Raises :class:`CorruptRecordError` on
    a batch that is not magic 2, is shorter than a header, or whose offsets
    go backwards.
    """
    view = memoryview(records)
    headers: list[BatchHeader] = []
    position = 0
    total = len(view)
    previous_end = None
    while total - position >= _LOG_OVERHEAD:
        base_offset, length = struct.unpack_from(">qi", view, position)
        size = _LOG_OVERHEAD + length
        if length < RECORD_BATCH_OVERHEAD - _LOG_OVERHEAD:
            raise CorruptRecordError(f"batch length {length} is smaller than a batch header",
                                     base_offset=base_offset, position=position)
        if total - position < size:
            break
        _, _, epoch, magic, _, attributes, last_delta = _HEADER.unpack_from(view, position)
        if magic != 2:
            raise CorruptRecordError(f"unsupported magic {magic}", base_offset=base_offset, position=position)
        if last_delta < 0 or base_offset < 0 or (previous_end is not None and base_offset < previous_end):
            raise CorruptRecordError("batch offsets are not increasing", base_offset=base_offset, position=position)
        headers.append(BatchHeader(base_offset, base_offset + last_delta, epoch,
                                   bool(attributes & _CONTROL_FLAG), position, size))
        previous_end = base_offset + last_delta + 1
        position += size
    return headers, position


# ------------------------------------------------------------------ writing and reading batches
def encode_leader_change(change: LeaderChangeMessage) -> messages.LeaderChangeMessage:
    """The LeaderChange control message (version 0) as the wire schema has it."""
    voter = messages.LeaderChangeMessage.Voter
    return messages.LeaderChangeMessage(
        version=change.version, leader_id=change.leader_id,
        voters=[voter(voter_id=v) for v in change.voters],
        granting_voters=[voter(voter_id=v) for v in change.granting_voters])


def encode_leader_batch(batch: LeaderBatch) -> bytes:
    """The record batch a leader writes for ``batch`` (offsets from ``batch.base_offset``):
    magic 2, no compression, CreateTime stamped with the append time, no producer;
    data records have a null key and the payload as value; a control batch holds
    its control records (key ``(0, type)``, the message at version 0 as value)."""
    if batch.is_control:
        records = [encode_control_record(encode_leader_change(batch.control))] if batch.control is not None else []
        records += [encode_control_record(message) for message in batch.control_records]
        return encode_batch(records, base_offset=batch.base_offset, partition_leader_epoch=batch.epoch,
                            timestamp=batch.append_time_ms, is_control=True)
    return encode_batch(batch.records, base_offset=batch.base_offset, partition_leader_epoch=batch.epoch,
                        timestamp=batch.append_time_ms)


def encoded_control_batch(batch: LeaderBatch) -> LeaderBatch:
    """``batch`` (a control batch) with ``size_in_bytes`` set to the length of its encoding."""
    return dataclasses.replace(batch, size_in_bytes=len(encode_leader_batch(batch)))


def _leader_change(change: messages.LeaderChangeMessage) -> LeaderChangeMessage:
    return LeaderChangeMessage(change.leader_id, tuple(v.voter_id for v in change.voters),
                               tuple(v.voter_id for v in change.granting_voters), change.version)


def decode_committed(records: Buffer, end_offset: int = -1, *, check_crc: bool = False) -> list[Batch]:
    """The batches of ``records`` (whole batches, as a log holds them) that start below
    ``end_offset`` (-1: all), as listeners get them: a data batch with its record values
    (read-only bytes-like views; a null value is ``b""``), a control batch with its
    LeaderChange (if it holds one); each with its size in bytes."""
    out: list[Batch] = []
    for batch in decode_batches(records, check_crc=check_crc):
        if 0 <= end_offset <= batch.base_offset:
            break
        if batch.is_control:
            change = None
            for _, record_type, message in read_control_batch(batch, _LEADER_CHANGE):
                if message is not None:
                    change = _leader_change(message)
            out.append(Batch(batch.base_offset, batch.last_offset, batch.partition_leader_epoch,
                             batch.max_timestamp, (), change, size_in_bytes=batch.size_in_bytes))
        else:
            values = batch.values()
            if _NONE_TYPE in set(map(type, values)):
                values = [b"" if v is None else v for v in values]
            out.append(Batch(batch.base_offset, batch.last_offset, batch.partition_leader_epoch,
                             batch.max_timestamp, tuple(values), size_in_bytes=batch.size_in_bytes))
    return out
