"""Bad input: every malformation raises CorruptRecordError (naming the base
offset and byte position of the batch), a trailing partial batch is reported
instead, and fuzzed input never gets anything else out of either codec."""
from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraft import crc32c
from kraft.errors import CorruptRecordError, CrcMismatchError
from record_codecs import codec, load_codec  # noqa: F401  (fixture)

NATIVE = load_codec("native")
PURE = load_codec("pure")
BASE = 1234  # base offset of the hand-made batches
# KRAFT_SLOW=1 turns the fuzz tests into a soak.
FUZZ = 50 if os.environ.get("KRAFT_SLOW") == "1" else 1


def varint(value: int) -> bytes:
    unsigned = (value << 1) ^ (value >> 63)
    out = bytearray()
    while unsigned >= 0x80:
        out.append((unsigned & 0x7F) | 0x80)
        unsigned >>= 7
    out.append(unsigned)
    return bytes(out)


def reseal(raw) -> bytes:
    """Recompute the CRC so the batch fails (or passes) on its structure."""
    raw = bytearray(raw)
    raw[17:21] = crc32c(memoryview(raw)[21:]).to_bytes(4, "big")
    return bytes(raw)


def make_batch(records: bytes, count: int, *, attributes: int = 0, base_offset: int = BASE,
               magic: int = 2, length_delta: int = 0) -> bytes:
    """A batch around hand-made record bytes, with a correct CRC."""
    header = struct.pack(">qiibIhiqqqhii", base_offset, 49 + len(records), 0, magic, 0,
                         attributes, max(count - 1, 0), 1000, 1000, -1, -1, -1, count)
    return reseal(header + records)


def record(body: bytes) -> bytes:
    return varint(len(body)) + body


GOOD_BODY = b"\x00" + varint(0) + varint(0) + varint(-1) + varint(3) + b"abc" + varint(0)


def decode_all(module, data, **options):
    """Decode everything (batches, CRCs, records); what a reader would see."""
    iterator = module.decode_batches(data, **options)
    out = []
    for batch in iterator:
        batch.validate()
        records = [(r.offset, r.timestamp, None if r.key is None else bytes(r.key),
                    None if r.value is None else bytes(r.value),
                    tuple((k, None if v is None else bytes(v)) for k, v in r.headers)) for r in batch]
        values = [None if v is None else bytes(v) for v in batch.values()]
        assert values == [r[3] for r in records]
        out.append((batch.base_offset, batch.last_offset, batch.crc, batch.attributes, batch.record_count,
                    batch.base_timestamp, batch.max_timestamp, batch.producer_id, batch.producer_epoch,
                    batch.base_sequence, batch.partition_leader_epoch, records))
    return out, iterator.trailing_bytes, iterator.position


def outcome(module, data, **options):
    try:
        return ("ok",) + decode_all(module, data, **options)
    except CorruptRecordError as exc:
        assert f"base offset {exc.base_offset}" in str(exc) if exc.base_offset is not None else True
        return ("corrupt", type(exc).__name__, exc.base_offset, exc.position)


def assert_corrupt(module, data, *, base_offset=BASE, position=0, error=CorruptRecordError, **options):
    with pytest.raises(error) as info:
        decode_all(module, data, **options)
    assert info.value.base_offset == base_offset
    assert info.value.position == position
    assert f"position {position}" in str(info.value)
    return info.value


def test_hand_made_batch_is_valid(codec):
    (batch,), trailing, _ = decode_all(codec, make_batch(record(GOOD_BODY), 1))
    assert batch[-1] == [(BASE, 1000, None, b"abc", ())]


# -- partial and truncated input -------------------------------------------------


def test_every_truncation_point_ends_cleanly_and_is_reported(codec):
    first = codec.encode_batch([b"one", b"two"], base_offset=10, timestamp=1)
    second = codec.encode_batch([b"three"], base_offset=12, timestamp=1)
    buffer = first + second
    for cut in range(len(buffer) + 1):
        batches, trailing, position = decode_all(codec, buffer[:cut])
        complete = 2 if cut == len(buffer) else 1 if cut >= len(first) else 0
        assert len(batches) == complete, cut
        assert position == (len(first) if complete == 1 else len(buffer) if complete == 2 else 0)
        assert trailing == cut - position


def test_empty_buffer_has_no_batches(codec):
    assert decode_all(codec, b"") == ([], 0, 0)


def test_a_lone_truncated_batch_is_corrupt(codec):
    batch = codec.encode_batch([b"x" * 10], base_offset=BASE, timestamp=1)
    with pytest.raises(CorruptRecordError):
        codec.RecordBatch(batch[:60])
    with pytest.raises(CorruptRecordError) as info:
        codec.RecordBatch(batch[:-1], position=99)
    assert info.value.base_offset == BASE and info.value.position == 99
    assert len(list(codec.RecordBatch(batch, position=5))) == 1


# -- header problems --------------------------------------------------------------


@pytest.mark.parametrize("magic", [0, 1, 3, -1])
def test_wrong_magic(codec, magic):
    good = codec.encode_batch([b"a"], base_offset=7, timestamp=1)
    bad = make_batch(record(GOOD_BODY), 1, magic=magic)
    assert_corrupt(codec, good + bad, position=len(good))
    # A partial batch with the wrong magic is already known to be corrupt.
    assert_corrupt(codec, bad[:30])


def test_crc_mismatch(codec):
    good = codec.encode_batch([b"first"], base_offset=BASE, timestamp=1)
    bad = bytearray(codec.encode_batch([b"value"], base_offset=BASE + 1, timestamp=1))
    bad[-3] ^= 0x01
    error = assert_corrupt(codec, good + bytes(bad), base_offset=BASE + 1, position=len(good),
                           error=CrcMismatchError)
    assert isinstance(error, CorruptRecordError)
    # Without the CRC check the batch is read; validate() still catches it.
    (batch,) = codec.decode_batches(bytes(bad), check_crc=False)
    assert not batch.is_valid_crc()
    with pytest.raises(CrcMismatchError):
        batch.validate()


def test_crc_of_a_large_batch(codec):
    """Batches of a MiB and more are checked without the GIL."""
    raw = bytearray(codec.encode_batch([bytes(range(256)) * 4096] * 2, base_offset=BASE, timestamp=1))
    assert len(raw) > 2 << 20
    (batch,) = codec.decode_batches(raw)
    assert batch.is_valid_crc()
    raw[len(raw) // 2] ^= 0x80
    assert_corrupt(codec, bytes(raw), error=CrcMismatchError)


def test_partition_leader_epoch_and_base_offset_are_outside_the_crc(codec):
    raw = bytearray(codec.encode_batch([b"value"], base_offset=3, timestamp=1))
    raw[0:8] = (99).to_bytes(8, "big")
    raw[12:16] = (7).to_bytes(4, "big")
    ((base_offset, *_rest),), _, _ = decode_all(codec, bytes(raw))
    assert base_offset == 99


@pytest.mark.parametrize("length", [-1, -(2**31), 0, 48])
def test_batch_length_below_the_minimum(codec, length):
    raw = bytearray(make_batch(record(GOOD_BODY), 1))
    raw[8:12] = length.to_bytes(4, "big", signed=True)
    assert_corrupt(codec, bytes(raw))


def test_absurd_batch_length_is_corrupt_not_partial(codec):
    raw = bytearray(make_batch(record(GOOD_BODY), 1))
    raw[8:12] = (2**31 - 1).to_bytes(4, "big")
    assert_corrupt(codec, bytes(raw))
    # ... and the limit is the caller's to choose.
    raw = make_batch(record(GOOD_BODY), 1)
    assert_corrupt(codec, raw, max_batch_size=len(raw) - 1)
    assert len(decode_all(codec, raw, max_batch_size=len(raw))[0]) == 1


@pytest.mark.parametrize("codec_id", [5, 6, 7])
def test_unknown_compression_codec(codec, codec_id):
    assert_corrupt(codec, make_batch(record(GOOD_BODY), 1, attributes=codec_id))


def test_negative_record_count(codec):
    assert_corrupt(codec, make_batch(record(GOOD_BODY), -1))


# -- record problems --------------------------------------------------------------


def test_record_count_larger_than_the_records(codec):
    assert_corrupt(codec, make_batch(record(GOOD_BODY), 2))
    assert_corrupt(codec, make_batch(record(GOOD_BODY), 2**31 - 1))


def test_record_count_smaller_than_the_records(codec):
    assert_corrupt(codec, make_batch(record(GOOD_BODY) * 2, 1))


def test_bytes_after_the_last_record(codec):
    assert_corrupt(codec, make_batch(record(GOOD_BODY) + b"\x00", 1))


@pytest.mark.parametrize(
    "records",
    [
        varint(0) + GOOD_BODY,  # zero length
        varint(-5) + GOOD_BODY,  # negative length
        varint(len(GOOD_BODY) + 1) + GOOD_BODY,  # runs past the batch
        record(GOOD_BODY + b"\x00"),  # length disagrees with the fields
        record(GOOD_BODY[:-1]),  # header count missing
    ],
    ids=["zero", "negative", "past-end", "extra-byte", "short"],
)
def test_bad_record_length(codec, records):
    assert_corrupt(codec, make_batch(records, 1))


@pytest.mark.parametrize(
    "field",
    [
        b"\xff\xff\xff\xff\x1f",  # 5-byte varint whose last byte overflows 32 bits
        b"\xff\xff\xff\xff\xff\x01",  # 6-byte varint
        b"\x80\x80",  # truncated varint (ends with the record)
    ],
    ids=["overflow", "too-long", "truncated"],
)
def test_bad_varints(codec, field):
    # as the key length
    assert_corrupt(codec, make_batch(record(b"\x00" + varint(0) + varint(0) + field), 1))
    # as the offset delta
    assert_corrupt(codec, make_batch(record(b"\x00" + varint(0) + field), 1))


def test_varlong_timestamp_delta_overflow(codec):
    eleven = b"\xff" * 10 + b"\x01"
    ten_overflowing = b"\xff" * 9 + b"\x02"
    for field in (eleven, ten_overflowing):
        assert_corrupt(codec, make_batch(record(b"\x00" + field + varint(0) + varint(-1) + varint(-1) + varint(0)), 1))
    widest = b"\xff" * 9 + b"\x01"  # zig-zag of -2**63: legal
    (batch,), _, _ = decode_all(codec, make_batch(
        record(b"\x00" + widest + varint(0) + varint(-1) + varint(-1) + varint(0)), 1))
    assert batch[-1][0][1] == 1000 - 2**63


@pytest.mark.parametrize("length", [-2, -100, -(2**31)])
def test_negative_lengths_other_than_minus_one(codec, length):
    head = b"\x00" + varint(0) + varint(0)
    assert_corrupt(codec, make_batch(record(head + varint(length) + varint(-1) + varint(0)), 1))  # key
    assert_corrupt(codec, make_batch(record(head + varint(-1) + varint(length) + varint(0)), 1))  # value
    header = varint(1) + varint(1) + b"h"
    assert_corrupt(codec, make_batch(record(head + varint(-1) + varint(-1) + header + varint(length)), 1))
    assert_corrupt(codec, make_batch(record(head + varint(-1) + varint(-1) + varint(length)), 1))  # count


def test_null_header_key(codec):
    body = b"\x00" + varint(0) + varint(0) + varint(-1) + varint(-1) + varint(1) + varint(-1) + varint(-1)
    assert_corrupt(codec, make_batch(record(body), 1))


def test_field_longer_than_its_record(codec):
    body = b"\x00" + varint(0) + varint(0) + varint(-1) + varint(50) + b"abc" + varint(0)
    assert_corrupt(codec, make_batch(record(body), 1))


def test_header_key_that_is_not_utf8_is_replaced_like_java(codec):
    body = (b"\x00" + varint(0) + varint(0) + varint(-1) + varint(-1) + varint(1)
            + varint(2) + b"\xff\xfe" + varint(-1))
    (batch,), _, _ = decode_all(codec, make_batch(record(body), 1))
    assert batch[-1][0][4] == (("\ufffd\ufffd", None),)


# -- compressed data --------------------------------------------------------------


@pytest.mark.parametrize("compression", ["gzip", "snappy", "lz4", "zstd"])
def test_corrupt_compressed_data(codec, compression):
    good = codec.encode_batch([b"value-%d" % i for i in range(50)], base_offset=BASE, timestamp=1,
                              compression=compression)
    garbled = bytearray(good)
    for index in range(61, len(garbled), 3):
        garbled[index] ^= 0x5A
    assert_corrupt(codec, reseal(garbled))
    truncated = bytearray(good[:-4])
    truncated[8:12] = (len(truncated) - 12).to_bytes(4, "big")
    assert_corrupt(codec, reseal(truncated))
    trailing = bytearray(good + b"junk")
    trailing[8:12] = (len(trailing) - 12).to_bytes(4, "big")
    assert_corrupt(codec, reseal(trailing))


@pytest.mark.parametrize("compression", ["gzip", "snappy", "lz4", "zstd"])
def test_decompressed_size_is_capped(codec, compression):
    batch = codec.encode_batch([bytes(100_000)], base_offset=BASE, timestamp=1, compression=compression)
    assert len(batch) < 10_000
    assert_corrupt(codec, batch, max_decompressed_size=50_000)
    assert len(decode_all(codec, batch, max_decompressed_size=200_000)[0]) == 1


def test_compressed_records_are_checked_like_plain_ones(codec):
    from kraft.records import compression

    for codec_id in (1, 2, 3, 4):
        records = compression.compress(codec_id, record(GOOD_BODY) + b"\x00")
        assert_corrupt(codec, make_batch(records, 1, attributes=codec_id))


# -- fuzzing ----------------------------------------------------------------------


SEEDS = [
    NATIVE.encode_batch([b"a", b"bc"], base_offset=10, partition_leader_epoch=2, timestamp=1700000000000),
    NATIVE.encode_batch(
        [NATIVE.Record(b"value", key=b"key", headers=[("h", b"v"), ("n", None)], timestamp=5)],
        base_offset=3, timestamp=9,
    ),
    NATIVE.encode_batch([NATIVE.Record(None, key=b"\x00\x00\x00\x02")], is_control=True, timestamp=1),
    NATIVE.encode_batch([b"x" * 40] * 5, compression="gzip", timestamp=1),
    NATIVE.encode_batch([b"y" * 40] * 5, compression="lz4", timestamp=1),
    NATIVE.encode_batch([b"z" * 40] * 5, compression="snappy", timestamp=1),
    NATIVE.encode_batch([b"w" * 40] * 5, compression="zstd", timestamp=1),
]


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["set", "insert", "delete", "truncate"]))
        index = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "set" and data:
            data[index] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[index:index] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and data:
            del data[index : index + draw(st.integers(1, 8))]
        else:
            del data[index:]
    repair = draw(st.sampled_from(["nothing", "length", "length and crc", "length and crc"]))
    if repair != "nothing" and len(data) >= 61:
        # Keep the batch length (and CRC) consistent so the parser is reached.
        data[8:12] = (len(data) - 12).to_bytes(4, "big")
        if repair == "length and crc":
            data = bytearray(reseal(data))
    return bytes(data)


@settings(max_examples=400 * FUZZ, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated())
def test_fuzz_mutated_batches_both_codecs_agree(data):
    native = outcome(NATIVE, data)
    pure = outcome(PURE, data)
    assert native == pure


@settings(max_examples=300 * FUZZ, deadline=None)
@given(data=st.binary(max_size=300))
def test_fuzz_random_bytes(data):
    assert outcome(NATIVE, data) == outcome(PURE, data)
    assert outcome(NATIVE, data, check_crc=False)[0] in ("ok", "corrupt")


@settings(max_examples=300 * FUZZ, deadline=None)
@given(records=st.binary(max_size=120), count=st.integers(-2, 6), attributes=st.sampled_from([0, 0x20, 0x08]))
def test_fuzz_record_area(records, count, attributes):
    """Random record bytes behind a valid header and CRC: the record parser."""
    data = make_batch(records, count, attributes=attributes)
    assert outcome(NATIVE, data) == outcome(PURE, data)
