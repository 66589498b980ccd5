"""Varints against the table of Kafka's own encodings (spec test-vectors.md section 1)."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kraft.protocol import InvalidVarintError
from kraft.protocol.varint import (
    read_uvarint,
    read_uvarlong,
    read_varint,
    read_varlong,
    uvarint_size,
    varint_size,
    varlong_size,
    write_uvarint,
    write_uvarlong,
    write_varint,
    write_varlong,
)

# value, zig-zag varint, unsigned varint (of the value as unsigned 32-bit), zig-zag varlong
KAFKA_TABLE = [
    (0, "00", "00", "00"),
    (1, "02", "01", "02"),
    (-1, "01", "ffffffff0f", "01"),
    (2, "04", "02", "04"),
    (-2, "03", "feffffff0f", "03"),
    (63, "7e", "3f", "7e"),
    (-64, "7f", "c0ffffff0f", "7f"),
    (64, "8001", "40", "8001"),
    (127, "fe01", "7f", "fe01"),
    (128, "8002", "8001", "8002"),
    (300, "d804", "ac02", "d804"),
    (16383, "feff01", "ff7f", "feff01"),
    (16384, "808002", "808001", "808002"),
    (2147483647, "feffffff0f", "ffffffff07", "feffffff0f"),
    (-2147483648, "ffffffff0f", "8080808008", "ffffffff0f"),
]


def _written(writer, value):
    out = bytearray()
    writer(value, out)
    return out.hex()


@pytest.mark.parametrize("value,varint,uvarint,varlong", KAFKA_TABLE)
def test_kafka_table(value, varint, uvarint, varlong):
    assert _written(write_varint, value) == varint
    assert _written(write_uvarint, value & 0xFFFFFFFF) == uvarint
    assert _written(write_varlong, value) == varlong
    assert read_varint(bytes.fromhex(varint), 0) == (value, len(varint) // 2)
    assert read_uvarint(bytes.fromhex(uvarint), 0) == (value & 0xFFFFFFFF, len(uvarint) // 2)
    assert read_varlong(bytes.fromhex(varlong), 0) == (value, len(varlong) // 2)
    assert varint_size(value) == len(varint) // 2 and varlong_size(value) == len(varlong) // 2
    assert uvarint_size(value & 0xFFFFFFFF) == len(uvarint) // 2


def test_varlong_extremes():
    assert _written(write_varlong, (1 << 63) - 1) == "feffffffffffffffff01"
    assert _written(write_varlong, -(1 << 63)) == "ffffffffffffffffff01"
    assert read_varlong(bytes.fromhex("ffffffffffffffffff01"), 0) == (-(1 << 63), 10)


def test_too_long():
    with pytest.raises(InvalidVarintError):
        read_uvarint(bytes.fromhex("8080808080"), 0)
    with pytest.raises(InvalidVarintError):
        read_uvarint(bytes.fromhex("ffffffff1f"), 0)  # 5 bytes but over 32 bits
    with pytest.raises(InvalidVarintError):
        read_uvarlong(bytes.fromhex("80" * 10 + "01"), 0)
    with pytest.raises(ValueError):
        write_varint(1 << 31, bytearray())
    with pytest.raises(ValueError):
        write_varlong(-(1 << 63) - 1, bytearray())


@given(st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1), st.binary(max_size=3))
def test_round_trips(value, tail):
    out = bytearray()
    write_varlong(value, out)
    assert read_varlong(bytes(out) + tail, 0) == (value, len(out))
    unsigned = value & 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    write_uvarlong(unsigned, out)
    assert read_uvarlong(bytes(out) + tail, 0) == (unsigned, len(out))
    small = value >> 32
    out = bytearray()
    write_varint(small, out)
    assert read_varint(bytes(out), 0) == (small, len(out)) and len(out) == varint_size(small)
