"""Kafka's variable-length integers.

Unsigned varints are LEB128 (7 bits per byte, least significant group first,
high bit set on every byte but the last); an int uses at most 5 bytes, a long
at most 10.  Signed varints and varlongs are zig-zag encoded first, so small
negative numbers stay short.  Readers take ``(buf, pos)`` and return
``(value, new_pos)``; writers append to a ``bytearray``.
"""
from __future__ import annotations

from kraft.protocol.exceptions import InvalidVarintError

_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF


def _read_unsigned(buf, pos: int, max_bytes: int, kind: str) -> tuple[int, int]:
    result = 0
    shift = 0
    for _ in range(max_bytes):
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
    raise InvalidVarintError(f"{kind} is too long")


def read_uvarint(buf, pos: int) -> tuple[int, int]:
    """An unsigned varint of at most 5 bytes (value < 2**32)."""
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    value, pos = _read_unsigned(buf, pos, 5, "varint")
    if value > _U32:
        raise InvalidVarintError("varint is too long")
    return value, pos


def read_uvarlong(buf, pos: int) -> tuple[int, int]:
    """An unsigned varlong of at most 10 bytes (value < 2**64)."""
    value, pos = _read_unsigned(buf, pos, 10, "varlong")
    if value > _U64:
        raise InvalidVarintError("varlong is too long")
    return value, pos


def read_varint(buf, pos: int) -> tuple[int, int]:
    """A zig-zag signed varint (a 32-bit int)."""
    value, pos = read_uvarint(buf, pos)
    return (value >> 1) ^ -(value & 1), pos


def read_varlong(buf, pos: int) -> tuple[int, int]:
    """A zig-zag signed varlong (a 64-bit long)."""
    value, pos = read_uvarlong(buf, pos)
    return (value >> 1) ^ -(value & 1), pos


def write_uvarint(value: int, out: bytearray) -> None:
    """Append ``value`` (0 <= value < 2**32) as an unsigned varint."""
    if value < 0x80:
        out.append(value)
        return
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def write_uvarlong(value: int, out: bytearray) -> None:
    """Append ``value`` (0 <= value < 2**64) as an unsigned varlong."""
    write_uvarint(value, out)


def write_varint(value: int, out: bytearray) -> None:
    """Append a signed 32-bit ``value`` zig-zag encoded."""
    if not -(1 << 31) <= value < (1 << 31):
        raise ValueError(f"{value} is not a 32-bit int")
    write_uvarint(((value << 1) ^ (value >> 31)) & _U32, out)


def write_varlong(value: int, out: bytearray) -> None:
    """Append a signed 64-bit ``value`` zig-zag encoded."""
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(f"{value} is not a 64-bit long")
    write_uvarint(((value << 1) ^ (value >> 63)) & _U64, out)


def uvarint_size(value: int) -> int:
    """How many bytes the unsigned varint of ``value`` takes."""
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size


def varint_size(value: int) -> int:
    """How many bytes the zig-zag varint of a 32-bit ``value`` takes."""
    return uvarint_size(((value << 1) ^ (value >> 31)) & _U32)


def varlong_size(value: int) -> int:
    """How many bytes the zig-zag varlong of a 64-bit ``value`` takes."""
    return uvarint_size(((value << 1) ^ (value >> 63)) & _U64)
