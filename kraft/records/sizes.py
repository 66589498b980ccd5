"""The size of a record in a batch (magic 2) before it is encoded.

A writer that cuts batches at a byte limit must know what the next record
will add, as Kafka's ``DefaultRecord.sizeInBytes`` tells its ``BatchBuilder``.
KRaft writes data records with a null key, a timestamp delta of 0 and no
headers; :func:`record_size` is the size of such a record, and the one place
this arithmetic lives (the leader's accumulator and the snapshot writer use
it; the codec in :mod:`kraft.records` encodes what it predicts).
"""
from __future__ import annotations

__all__ = ["record_size", "varint_size"]


def varint_size(value: int) -> int:
    """Bytes of ``value`` as a zig-zag varint (Kafka's ``ByteUtils.sizeOfVarint``)."""
    zigzag = (value << 1) ^ (value >> 63)
    return (zigzag.bit_length() + 6) // 7 or 1


def _small_varint_size(value: int) -> int:
    """:func:`varint_size` for 0 <= value < 2**31, by comparisons (the leader's hot path)."""
    if value < 64:
        return 1
    if value < 8192:
        return 2
    if value < 1048576:
        return 3
    if value < 134217728:
        return 4
    return 5


def record_size(offset_delta: int, value_length: int) -> int:
    """Bytes of one record with a null key, timestamp delta 0, no headers and a value of
    ``value_length`` bytes, at ``offset_delta`` from its batch's base offset (length prefix included)."""
    # attributes, timestamp delta, offset delta, key length (-1), value length, value, header count
    body = 4 + _small_varint_size(offset_delta) + _small_varint_size(value_length) + value_length
    return body + _small_varint_size(body)


def _native_record_size():
    """The extension's :func:`record_size` (the same arithmetic in C), or None
    (not built, or ``KRAFT_NO_EXTENSIONS=1``: the same choice as the record codec's)."""
    from kraft.records import _native
    module = _native()
    return None if module is None else module.record_size


python_record_size = record_size
record_size = _native_record_size() or python_record_size
