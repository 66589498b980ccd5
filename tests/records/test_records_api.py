"""The public API of kraft.records beyond the wire format: argument checks,
buffers, zero-copy values, defaults, optional codecs, implementation choice."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import kraft.records
from kraft.errors import MissingDependencyError
from kraft.records import compression
from record_codecs import codec, load_codec  # noqa: F401  (fixture)


def test_public_names_are_the_selected_codec():
    module = load_codec(kraft.records.IMPLEMENTATION)
    for name in ("Record", "RecordBatch", "BatchIterator", "encode_batch", "decode_batches"):
        assert getattr(kraft.records, name) is getattr(module, name)


@pytest.mark.parametrize("setting, expected", [("1", "pure"), ("0", "native")])
def test_kraft_no_extensions_selects_the_pure_codec(setting, expected):
    code = "import kraft.records, kraft.checksum; print(kraft.records.IMPLEMENTATION, kraft.checksum.IMPLEMENTATION)"
    env = dict(os.environ, KRAFT_NO_EXTENSIONS=setting)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [expected, expected]


def test_native_module_imports_on_its_own():
    code = "import kraft._native.records as r; print(len(r.encode_batch([b'x'], timestamp=0)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "69"  # 61-byte header + an 8-byte record


# -- encoding arguments --------------------------------------------------------------


def test_empty_batch_is_refused(codec):
    with pytest.raises(ValueError, match="at least one record"):
        codec.encode_batch([])


@pytest.mark.parametrize(
    "argument, value, error",
    [
        ("base_offset", 2**63, OverflowError),
        ("partition_leader_epoch", 2**31, OverflowError),
        ("producer_id", -(2**63) - 1, OverflowError),
        ("producer_epoch", 2**15, OverflowError),
        ("base_sequence", -(2**31) - 1, OverflowError),
        ("timestamp", 2**63, OverflowError),
        ("base_offset", "0", TypeError),
        ("compression", "brotli", ValueError),
        ("compression", 9, ValueError),
    ],
)
def test_bad_batch_arguments(codec, argument, value, error):
    with pytest.raises(error):
        codec.encode_batch([b"x"], **{argument: value})


@pytest.mark.parametrize(
    "record, error",
    [
        ("text", TypeError),
        (12, TypeError),
        ({"value": b"x"}, TypeError),
    ],
)
def test_bad_records(codec, record, error):
    with pytest.raises(error):
        codec.encode_batch([record])


def test_bad_record_fields(codec):
    with pytest.raises(TypeError, match="key"):
        codec.encode_batch([codec.Record(b"v", key="text")])
    with pytest.raises(TypeError, match="header keys"):
        codec.encode_batch([codec.Record(b"v", headers=[(b"bytes-key", b"v")])])
    with pytest.raises(TypeError, match="header value"):
        codec.encode_batch([codec.Record(b"v", headers=[("k", 5)])])
    with pytest.raises(ValueError):
        codec.encode_batch([codec.Record(b"v", headers=[("k",)])])
    with pytest.raises(TypeError, match="contiguous"):
        codec.encode_batch([np.arange(10, dtype=np.uint8)[::2]])


def test_offsets_must_increase(codec):
    with pytest.raises(ValueError, match="increase"):
        codec.encode_batch([codec.Record(b"a", offset=5), codec.Record(b"b", offset=5)], base_offset=5)
    with pytest.raises(ValueError, match="increase"):
        codec.encode_batch([codec.Record(b"a", offset=4)], base_offset=5)
    with pytest.raises(OverflowError):
        codec.encode_batch([codec.Record(b"a", offset=2**31)], base_offset=0)


def test_gaps_in_offsets_are_kept(codec):
    records = [codec.Record(b"a", offset=10), codec.Record(b"b"), codec.Record(b"c", offset=20)]
    (batch,) = codec.decode_batches(codec.encode_batch(records, base_offset=10, timestamp=0))
    assert [r.offset for r in batch] == [10, 11, 20]
    assert batch.last_offset == 20


def test_timestamp_defaults_to_now(codec):
    before = int(time.time() * 1000)
    (batch,) = codec.decode_batches(codec.encode_batch([b"x", codec.Record(b"y", timestamp=5)]))
    after = int(time.time() * 1000)
    assert before <= batch.base_timestamp <= after
    assert batch.max_timestamp == batch.base_timestamp
    assert [r.timestamp for r in batch][1] == 5


def test_any_buffer_is_a_value(codec):
    values = [b"bytes", bytearray(b"bytearray"), memoryview(b"xxmemoryview")[2:], np.frombuffer(b"numpy", np.uint8),
              np.arange(3, dtype=np.uint16)]
    (batch,) = codec.decode_batches(codec.encode_batch(values, timestamp=0))
    assert [bytes(v) for v in batch.values()] == [bytes(memoryview(v).cast("B")) for v in values]


def test_null_key_value_and_header_value(codec):
    record = codec.Record(None, key=None, headers=[("k", None)], timestamp=1)
    (batch,) = codec.decode_batches(codec.encode_batch([record], timestamp=1))
    (decoded,) = batch
    assert decoded.value is None and decoded.key is None
    assert decoded.headers == (("k", None),)
    assert batch.values() == [None]


def test_unicode_header_keys(codec):
    record = codec.Record(b"v", headers=[("ключ-键-🔑", b"\x00")], timestamp=1)
    (batch,) = codec.decode_batches(codec.encode_batch([record]))
    assert next(iter(batch)).headers == (("ключ-键-🔑", b"\x00"),)


# -- decoding buffers ----------------------------------------------------------------


def test_values_are_views_of_the_buffer_not_copies(codec):
    buffer = bytearray(codec.encode_batch([b"abcdef"], timestamp=0))
    (batch,) = codec.decode_batches(buffer)
    (record,) = batch
    assert isinstance(record.value, memoryview)
    index = bytes(buffer).index(b"abcdef")
    buffer[index] = ord("Z")  # the view sees writes to the buffer
    assert bytes(record.value) == b"Zbcdef"
    assert bytes(batch.values()[0]) == b"Zbcdef"
    assert isinstance(batch.buffer, memoryview) and bytes(batch.buffer) == bytes(buffer)


def test_values_keep_the_buffer_alive(codec):
    buffer = bytearray(codec.encode_batch([b"survivor"] * 3, timestamp=0))
    (batch,) = codec.decode_batches(buffer)
    values = batch.values()
    records = list(batch)
    del batch, buffer
    gc.collect()
    assert [bytes(v) for v in values] == [b"survivor"] * 3
    assert [bytes(r.value) for r in records] == [b"survivor"] * 3


def test_views_pin_a_bytearray(codec):
    buffer = bytearray(codec.encode_batch([b"pinned"], timestamp=0))
    values = list(codec.decode_batches(buffer))[0].values()
    with pytest.raises(BufferError):
        buffer.extend(b"more")
    del values


def test_decode_from_memoryview_numpy_and_offset_slices(codec):
    one = codec.encode_batch([b"1"], base_offset=1, timestamp=0)
    two = codec.encode_batch([b"2"], base_offset=2, timestamp=0)
    data = b"junk" + one + two
    for buffer in (memoryview(data)[4:], np.frombuffer(data, np.uint8)[4:], bytearray(data[4:])):
        batches = list(codec.decode_batches(buffer))
        assert [b.base_offset for b in batches] == [1, 2]
        assert [bytes(v) for b in batches for v in b.values()] == [b"1", b"2"]
        assert [b.position for b in batches] == [0, len(one)]


def test_non_contiguous_buffer_is_refused(codec):
    with pytest.raises(TypeError):
        codec.decode_batches(np.zeros(200, np.uint8)[::2])


def test_record_batch_from_one_batch(codec):
    raw = codec.encode_batch([b"a", b"b"], base_offset=40, timestamp=3)
    batch = codec.RecordBatch(raw, position=700)
    assert batch.position == 700 and batch.base_offset == 40 and len(batch) == 2
    assert [r.offset for r in batch] == [40, 41]
    assert "base_offset=40" in repr(batch)


def test_log_append_time_batches_read_the_append_time(codec):
    records = [codec.Record(b"a", timestamp=1), codec.Record(b"b", timestamp=9)]
    (batch,) = codec.decode_batches(codec.encode_batch(records, log_append_time=500))
    assert batch.timestamp_type == "LogAppendTime"
    assert batch.base_timestamp == 1 and batch.max_timestamp == 500
    assert [r.timestamp for r in batch] == [500, 500]


def test_record_equality_and_repr(codec):
    record = codec.Record(b"v", key=b"k", headers=[("h", None)], timestamp=3, offset=4)
    assert record == codec.Record(b"v", key=b"k", headers=(("h", None),), timestamp=3, offset=4)
    assert record != codec.Record(b"w", key=b"k", headers=(("h", None),), timestamp=3, offset=4)
    assert record != codec.Record(b"v", key=b"k", headers=(("h", None),), timestamp=3)
    assert (record == "text") is False
    assert repr(record) == "Record(offset=4, timestamp=3, key=b'k', value=b'v', headers=(('h', None),))"
    with pytest.raises(TypeError):
        hash(record)


def test_records_are_read_only(codec):
    record = codec.Record(b"v", timestamp=1)
    for name in ("value", "key", "headers", "timestamp", "offset"):
        with pytest.raises(AttributeError):
            setattr(record, name, None)
    assert record.value == b"v" and record.timestamp == 1


def test_iteration_can_be_repeated(codec):
    (batch,) = codec.decode_batches(codec.encode_batch([b"a", b"b"], compression="lz4", timestamp=0))
    assert [bytes(r.value) for r in batch] == [bytes(r.value) for r in batch] == [b"a", b"b"]


# -- optional codecs ------------------------------------------------------------------


@pytest.mark.parametrize("name, module, extra", [("snappy", "cramjam", "kraft[snappy]"),
                                                 ("zstd", "zstandard", "kraft[zstd]")])
def test_missing_optional_library_names_the_extra(codec, monkeypatch, name, module, extra):
    encoded = codec.encode_batch([b"x"], compression=name, timestamp=0)
    monkeypatch.setitem(sys.modules, module, None)  # makes "import module" fail
    with pytest.raises(MissingDependencyError, match=extra.replace("[", r"\[").replace("]", r"\]")):
        codec.encode_batch([b"x"], compression=name)
    (batch,) = codec.decode_batches(encoded)
    with pytest.raises(MissingDependencyError, match="pip install"):
        list(batch)


def test_codec_names_and_ids():
    assert compression.CODEC_NAMES == ("none", "gzip", "snappy", "lz4", "zstd")
    assert [compression.codec_id(name) for name in compression.CODEC_NAMES] == [0, 1, 2, 3, 4]
    assert compression.codec_id("LZ4") == 3 and compression.codec_id(4) == 4


def test_lz4_frames_are_written_as_kafka_writes_them():
    frame = compression.compress(3, b"record bytes" * 100)
    assert frame[:4] == bytes.fromhex("04224d18")
    assert frame[4] == 0x60 and frame[5] == 0x40  # independent blocks, no checksums; 64 KiB blocks
    assert frame[-4:] == b"\x00\x00\x00\x00"  # end mark, no content checksum


def test_snappy_uses_snappy_java_framing():
    stream = compression.compress(2, b"a" * 100_000)
    assert stream[:16] == bytes.fromhex("82534e41505059000000000100000001")
    assert compression.decompress(2, stream) == b"a" * 100_000
    # snappy-java reads a stream without its header as one raw block
    import cramjam

    raw = bytes(cramjam.snappy.compress_raw(b"raw block"))
    assert compression.decompress(2, raw) == b"raw block"


def test_gzip_reads_concatenated_members():
    import gzip

    assert compression.decompress(1, gzip.compress(b"one") + gzip.compress(b"two")) == b"onetwo"


def test_the_native_record_size_is_the_python_one_and_the_encoders():
    from kraft.records import encode_batch
    from kraft.records.constants import RECORD_BATCH_OVERHEAD
    from kraft.records.sizes import python_record_size, record_size, varint_size

    if kraft.records.IMPLEMENTATION == "native":
        from kraft._native.records import record_size as native
        assert record_size is native
    edges = sorted({v + d for v in (0, 63, 64, 8191, 8192, 1048575, 1048576, 134217727, 134217728)
                    for d in (-1, 0, 1) if v + d >= 0})
    for delta in edges:
        for length in edges:
            assert record_size(delta, length) == python_record_size(delta, length)
            body = 4 + varint_size(delta) + varint_size(length) + length
            assert record_size(delta, length) == body + varint_size(body)
    values = [b"v" * n for n in (0, 1, 62, 63, 64, 200, 8191, 8192, 9000)]
    assert len(encode_batch(values)) == RECORD_BATCH_OVERHEAD + sum(
        record_size(i, len(v)) for i, v in enumerate(values))
