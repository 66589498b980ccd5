"""Test helper: build uncompressed v2 record batches as Kafka's KRaft writer does.

Only for tests of the storage layer (the product's codec is ``kraft.records``);
checked against Kafka's bytes in ``test_batchgen_matches_kafka``.
"""
from __future__ import annotations

import struct
from typing import Iterable, List, Optional

from kraft.checksum import crc32c


def zigzag_varint(value: int) -> bytes:
    raw = (value << 1) ^ (value >> 63)
    raw &= (1 << 64) - 1
    out = bytearray()
    while raw >= 0x80:
        out.append((raw & 0x7F) | 0x80)
        raw >>= 7
    out.append(raw)
    return bytes(out)


def _record(offset_delta: int, key: Optional[bytes], value: Optional[bytes]) -> bytes:
    body = bytearray(b"\x00")                      # attributes
    body += zigzag_varint(0)                        # timestamp delta
    body += zigzag_varint(offset_delta)
    for part in (key, value):
        if part is None:
            body += zigzag_varint(-1)
        else:
            body += zigzag_varint(len(part)) + part
    body += zigzag_varint(0)                        # headers
    return zigzag_varint(len(body)) + bytes(body)


def build_batch(values: Iterable[Optional[bytes]], base_offset: int = 0, epoch: int = 0,
                timestamp: int = 1700000000000, control_type: Optional[int] = None) -> bytes:
    """One batch; with ``control_type`` every record gets the 4-byte control key."""
    values = list(values)
    key = None if control_type is None else struct.pack(">hh", 0, control_type)
    records = b"".join(_record(i, key, v) for i, v in enumerate(values))
    attributes = 0x20 if control_type is not None else 0
    after_crc = struct.pack(">hiqqqhii", attributes, len(values) - 1, timestamp, timestamp,
                            -1, -1, -1, len(values)) + records
    crc = crc32c(after_crc)
    length = 4 + 1 + 4 + len(after_crc)
    return struct.pack(">qiibI", base_offset, length, epoch, 2, crc) + after_crc


def snapshot_header(last_contained_timestamp: int = 0, epoch: int = 0, timestamp: int = 1700000000000) -> bytes:
    value = struct.pack(">hq", 0, last_contained_timestamp) + b"\x00"
    return build_batch([value], 0, epoch, timestamp, control_type=3)


def snapshot_footer(base_offset: int, epoch: int = 0, timestamp: int = 1700000000000) -> bytes:
    return build_batch([b"\x00\x00\x00"], base_offset, epoch, timestamp, control_type=4)


def snapshot_bytes(groups: List[List[bytes]], epoch: int = 1) -> bytes:
    """A complete snapshot: header batch, one data batch per group, footer batch."""
    out = [snapshot_header(epoch=epoch)]
    offset = 1
    for values in groups:
        out.append(build_batch(values, offset, epoch))
        offset += len(values)
    out.append(snapshot_footer(offset, epoch))
    return b"".join(out)


def batches(count: int, records_per_batch: int = 2, value_size: int = 8, epoch: int = 0,
            base_offset: int = 0, timestamp: int = 1700000000000) -> List[bytes]:
    """``count`` data batches with contiguous offsets from ``base_offset``."""
    out = []
    offset = base_offset
    for i in range(count):
        values = [bytes([65 + (i + j) % 26]) * value_size for j in range(records_per_batch)]
        out.append(build_batch(values, offset, epoch, timestamp + i))
        offset += records_per_batch
    return out
