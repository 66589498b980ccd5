"""CRC-32C: Kafka's vectors, the hardware path against the tables, and the
pure-Python twin against both."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kraft
from kraft import checksum
from conftest import load_jsonl

from kraft._native import crc32c as native  # must load: a missing extension is a failure

SRC = Path(__file__).resolve().parents[2] / "kraft" / "_native" / "src"

IMPLEMENTATIONS = {
    "native": native.crc32c,
    "portable": native.crc32c_portable,
    "sse42": native.crc32c_sse42,
    "vpclmul": native.crc32c_vpclmul,
    "pure": checksum.crc32c_pure,
}
FAST_PATHS = {name: IMPLEMENTATIONS[name] for name in ("native", "sse42", "vpclmul")}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def crc(request):
    return IMPLEMENTATIONS[request.param]


def crc_vectors():
    return [v for v in load_jsonl("records.jsonl") if v["type"] == "crc32c"]


def test_public_name_is_the_selected_implementation():
    assert kraft.crc32c is checksum.crc32c
    if os.environ.get("KRAFT_NO_EXTENSIONS") == "1":
        assert checksum.IMPLEMENTATION == "pure"
        assert kraft.crc32c is checksum.crc32c_pure
    else:
        assert checksum.IMPLEMENTATION == "native"
        assert kraft.crc32c is native.crc32c


def test_kafka_vectors(crc):
    vectors = crc_vectors()
    assert len(vectors) >= 5
    for vector in vectors:
        assert crc(bytes.fromhex(vector["input_hex"])) == vector["crc"], vector["input_hex"][:32]


def test_batch_vectors_crc_covers_attributes_to_end(crc):
    for vector in load_jsonl("records.jsonl"):
        if vector["type"] != "batch":
            continue
        batch = bytes.fromhex(vector["hex"])
        assert crc(batch[21:]) == vector["crc"] == int.from_bytes(batch[17:21], "big"), vector["name"]


def test_check_values(crc):
    assert crc(b"123456789") == 0xE3069283
    assert crc(b"\x00\x00\x00\x00") == 0x48674BC7
    assert crc(b"") == 0
    assert crc(b"", 0x12345678) == 0x12345678


def test_hardware_paths_are_used_where_the_cpu_has_them():
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    assert native.hardware_available() == bool(re.search(r"\bsse4_2\b", flags))
    has_vpclmul = bool(re.search(r"\bavx512f\b", flags) and re.search(r"\bvpclmulqdq\b", flags))
    assert native.vpclmul_available() == (has_vpclmul and native.hardware_available())


# Lengths that reach every branch of the C code: the byte prologue, the
# 8-byte loop, the three-way 256-byte and 8192-byte blocks and their tails,
# and the 256-byte folding blocks (from 256 bytes; from 512 in crc32c).
EDGE_LENGTHS = sorted(
    {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 256, 257, 263, 511, 512, 513, 767, 768, 769, 1024, 1535,
     1536, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 1, 3 * 8192 + 3 * 256 + 7, 6 * 8192 + 100}
)


def test_fast_paths_equal_tables_at_every_alignment_and_branch():
    data = np.random.default_rng(1234).integers(0, 256, 6 * 8192 + 200, dtype=np.uint8).tobytes()
    view = memoryview(data)
    for length in EDGE_LENGTHS:
        for align in range(0, 72, 5):
            chunk = view[align : align + length]
            expected = native.crc32c_portable(chunk, length)
            for name, function in FAST_PATHS.items():
                assert function(chunk, length) == expected, (name, length, align)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=5000), align=st.integers(0, 63), seed=st.integers(0, 2**32 - 1))
def test_fast_paths_equal_tables_on_random_buffers(data, align, seed):
    padded = bytes(align) + data
    chunk = memoryview(padded)[align:]
    expected = native.crc32c_portable(chunk, seed)
    for function in FAST_PATHS.values():
        assert function(chunk, seed) == expected


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600), seed=st.integers(0, 2**32 - 1))
def test_pure_twin_equals_native(data, seed):
    assert checksum.crc32c_pure(data, seed) == native.crc32c(data, seed)


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=2000), cut=st.integers(0, 2000))
def test_continues_in_pieces(name, data, cut):
    crc = IMPLEMENTATIONS[name]
    cut = min(cut, len(data))
    assert crc(data[cut:], crc(data[:cut])) == crc(data)


def test_large_buffer_in_pieces_matches_whole():
    data = np.random.default_rng(7).integers(0, 256, 3 << 20, dtype=np.uint8)
    whole = native.crc32c(data)
    value = 0
    for start in range(0, len(data), 100_003):
        value = native.crc32c(data[start : start + 100_003], value)
    assert value == whole
    assert native.crc32c_portable(data) == whole
    assert native.crc32c_sse42(data) == native.crc32c_vpclmul(data) == whole


def test_accepts_any_contiguous_buffer(crc):
    raw = bytes(range(256)) * 3
    expected = crc(raw)
    assert crc(bytearray(raw)) == expected
    assert crc(memoryview(raw)) == expected
    assert crc(np.frombuffer(raw, dtype=np.uint8)) == expected
    assert crc(np.frombuffer(raw, dtype=np.uint32).reshape(16, 12)) == expected
    assert crc(memoryview(raw)[10:500]) == crc(raw[10:500])


@pytest.mark.parametrize(
    "make",
    [lambda: np.arange(100, dtype=np.uint8)[::2], lambda: memoryview(bytes(100))[::3],
     lambda: np.zeros((8, 8), dtype=np.uint8).T],
    ids=["numpy-strided", "memoryview-strided", "numpy-fortran"],
)
def test_non_contiguous_buffer_is_a_type_error(crc, make):
    with pytest.raises(TypeError, match="contiguous"):
        crc(make())


@pytest.mark.parametrize("value", ["text", 5, None, [1, 2]])
def test_non_buffer_is_a_type_error(crc, value):
    with pytest.raises(TypeError, match="bytes-like"):
        crc(value)


@pytest.mark.parametrize("value", [-1, 2**32])
def test_start_value_out_of_range(crc, value):
    with pytest.raises(OverflowError):
        crc(b"abc", value)


def test_largest_start_value_is_not_mistaken_for_an_error(crc):
    assert crc(b"", 0xFFFFFFFF) == 0xFFFFFFFF


def test_fold_constants_match_the_c_source():
    sys.path.insert(0, str(SRC))
    try:
        import crc32c_tables
    finally:
        sys.path.remove(str(SRC))
    source = (SRC / "crc32c.c").read_text()
    high, low = crc32c_tables.fold_constants(256)
    assert f"#define KRAFT_CRC32C_FOLD_HI {high:#018x}ULL" in source
    assert f"#define KRAFT_CRC32C_FOLD_LO {low:#018x}ULL" in source


def test_generated_tables_match_the_c_source():
    out = subprocess.run(
        [sys.executable, str(SRC / "crc32c_tables.py"), "8192", "256"],
        check=True, capture_output=True, text=True,
    ).stdout
    source = (SRC / "crc32c.c").read_text()
    generated = source.split("/* BEGIN GENERATED TABLES */\n", 1)[1].split("\n/* END GENERATED TABLES */", 1)[0]
    assert generated.strip() == out.strip()
