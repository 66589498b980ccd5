"""CRC-32C (Castagnoli), the checksum of Kafka record batches.

``crc32c(data, value=0)`` returns the value Kafka stores in a batch header
and continues from ``value``, so ``crc32c(b, crc32c(a)) == crc32c(a + b)``.
It reads any contiguous buffer in place.  The native implementation (SSE4.2
when the CPU has it) is used unless it is missing or ``KRAFT_NO_EXTENSIONS=1``;
``IMPLEMENTATION`` says which one is active and ``crc32c_pure`` is always the
pure-Python one.
"""
from __future__ import annotations

import os

__all__ = ["IMPLEMENTATION", "crc32c", "crc32c_pure"]

_POLYNOMIAL = 0x82F63B78  # Castagnoli, bit-reversed


def _byte_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (_POLYNOMIAL if crc & 1 else 0)
        table.append(crc)
    return table


_TABLE = _byte_table()


def crc32c_pure(data, value: int = 0) -> int:
    """CRC-32C of ``data`` continuing from ``value``, one byte at a time."""
    if not 0 <= value <= 0xFFFFFFFF:
        raise OverflowError(f"crc32c value must fit in 32 unsigned bits, not {value}")
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(f"crc32c needs a bytes-like object, not {type(data).__name__}") from None
    if not view.c_contiguous:
        raise TypeError(f"crc32c needs a contiguous buffer; this {type(data).__name__} is not contiguous")
    table = _TABLE
    crc = value ^ 0xFFFFFFFF
    for byte in view.cast("B"):
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


if os.environ.get("KRAFT_NO_EXTENSIONS") == "1":
    crc32c = crc32c_pure
    IMPLEMENTATION = "pure"
else:
    try:
        from kraft._native.crc32c import crc32c
    except ImportError:
        crc32c = crc32c_pure
        IMPLEMENTATION = "pure"
    else:
        IMPLEMENTATION = "native"
