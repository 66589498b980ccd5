"""Reading record batch v2 headers, without decoding records.

The core needs, for fetched data, each batch's base offset, last offset and
partition leader epoch, and must cut a trailing partial batch (a leader may
slice its log by bytes).  Layout (records-and-files.md): baseOffset int64,
batchLength int32 (bytes after this field), partitionLeaderEpoch int32,
magic int8, crc uint32, attributes int16, lastOffsetDelta int32, ...
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from kraft.core.log import Buffer
from kraft.errors import CorruptRecordError
from kraft.records.constants import CONTROL_MASK as _CONTROL_FLAG
from kraft.records.constants import LOG_OVERHEAD as _LOG_OVERHEAD
from kraft.records.constants import RECORD_BATCH_OVERHEAD

_HEADER = struct.Struct(">qiibIhi")
#: Bytes of a v2 batch header (the smallest possible batch); the format's own constant.
BATCH_HEADER_SIZE = RECORD_BATCH_OVERHEAD
#: Kafka's maximum raft batch size (8 MiB): what a leader writes in one batch and a fetch asks for.
MAX_BATCH_SIZE_BYTES = 8 * 1024 * 1024


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
        if length < BATCH_HEADER_SIZE - _LOG_OVERHEAD:
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
