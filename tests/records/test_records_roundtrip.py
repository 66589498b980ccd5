"""Random batches (hypothesis) round-trip through both codecs, and the two
codecs agree byte for byte."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from record_codecs import codec, load_codec  # noqa: F401  (fixture)

NATIVE = load_codec("native")
PURE = load_codec("pure")

INT64 = st.integers(-(2**63), 2**63 - 1)
TIMESTAMPS = st.integers(0, 2**42) | st.integers(-1, 0)
maybe_bytes = st.none() | st.binary(max_size=300)
headers = st.lists(st.tuples(st.text(max_size=12), maybe_bytes), max_size=4)


@st.composite
def records(draw):
    """(value, key, headers, timestamp, offset step or None) tuples."""
    count = draw(st.integers(1, 40))
    items = []
    for _ in range(count):
        items.append(
            (
                draw(maybe_bytes),
                draw(maybe_bytes),
                draw(headers),
                draw(st.none() | TIMESTAMPS),
                draw(st.none() | st.integers(1, 1000)),
            )
        )
    return items


batch_options = st.fixed_dictionaries(
    {
        "base_offset": st.integers(0, 2**62),
        "partition_leader_epoch": st.integers(-1, 2**31 - 1),
        "timestamp": TIMESTAMPS,
        "compression": st.sampled_from(["none", "gzip", "snappy", "lz4", "zstd"]),
        "is_control": st.booleans(),
        "is_transactional": st.booleans(),
        "producer_id": st.integers(-1, 2**63 - 1),
        "producer_epoch": st.integers(-1, 2**15 - 1),
        "base_sequence": st.integers(-1, 2**31 - 1),
        "log_append_time": st.none() | TIMESTAMPS,
    }
)


def build(module, items, base_offset):
    """Records for ``module``; offsets advance by the drawn step when given."""
    result = []
    offset = base_offset - 1
    for value, key, record_headers, timestamp, step in items:
        offset = offset + (step if step is not None else 1)
        result.append(
            module.Record(value, key=key, headers=record_headers, timestamp=timestamp,
                          offset=offset if step is not None else None)
        )
    return result


def expected_records(items, options):
    """What decoding must give: (offset, timestamp, key, value, headers)."""
    out = []
    offset = options["base_offset"] - 1
    for value, key, record_headers, timestamp, step in items:
        offset += step if step is not None else 1
        if options["log_append_time"] is not None:
            timestamp = options["log_append_time"]
        elif timestamp is None:
            timestamp = options["timestamp"]
        out.append((offset, timestamp, key, value, tuple((k, v) for k, v in record_headers)))
    return out


def as_tuple(record):
    def plain(data):
        return None if data is None else bytes(data)

    return (record.offset, record.timestamp, plain(record.key), plain(record.value),
            tuple((k, plain(v)) for k, v in record.headers))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=records(), options=batch_options)
def test_round_trip_every_field(items, options):
    encoded = {name: module.encode_batch(build(module, items, options["base_offset"]), **options)
               for name, module in (("native", NATIVE), ("pure", PURE))}
    if options["compression"] in ("none",):
        assert encoded["native"] == encoded["pure"]
    want = expected_records(items, options)
    first_timestamp = items[0][3] if items[0][3] is not None else options["timestamp"]
    for data in encoded.values():
        for reader in (NATIVE, PURE):
            iterator = reader.decode_batches(data)
            (batch,) = list(iterator)
            assert iterator.trailing_bytes == 0
            batch.validate()
            assert batch.base_offset == options["base_offset"]
            assert batch.last_offset == want[-1][0]
            assert batch.record_count == len(items) == len(batch)
            assert batch.size_in_bytes == len(data)
            assert batch.partition_leader_epoch == options["partition_leader_epoch"]
            assert batch.compression == options["compression"]
            assert batch.is_control == options["is_control"]
            assert batch.is_transactional == options["is_transactional"]
            assert batch.producer_id == options["producer_id"]
            assert batch.producer_epoch == options["producer_epoch"]
            assert batch.base_sequence == options["base_sequence"]
            assert batch.base_timestamp == first_timestamp
            assert batch.timestamp_type == ("CreateTime" if options["log_append_time"] is None else "LogAppendTime")
            if options["log_append_time"] is not None:
                assert batch.max_timestamp == options["log_append_time"]
            else:
                assert batch.max_timestamp == max(
                    t if t is not None else options["timestamp"] for _, _, _, t, _ in items
                )
            assert batch.magic == 2
            assert batch.crc == batch.compute_crc()
            assert [as_tuple(r) for r in batch] == want
            assert [None if v is None else bytes(v) for v in batch.values()] == [w[3] for w in want]


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.binary(max_size=500), min_size=1, max_size=60), base_offset=st.integers(0, 2**40),
       epoch=st.integers(0, 1000), timestamp=TIMESTAMPS)
def test_bytes_fast_path_equals_record_path(values, base_offset, epoch, timestamp):
    """The Raft hot path (a list of bytes) writes what Records would."""
    arguments = dict(base_offset=base_offset, partition_leader_epoch=epoch, timestamp=timestamp)
    fast = NATIVE.encode_batch(values, **arguments)
    assert fast == NATIVE.encode_batch([NATIVE.Record(v) for v in values], **arguments)
    assert fast == PURE.encode_batch(values, **arguments)
    assert fast == NATIVE.encode_batch(tuple(bytearray(v) for v in values), **arguments)
    assert fast == NATIVE.encode_batch(iter([memoryview(v) for v in values]), **arguments)
    (batch,) = NATIVE.decode_batches(fast)
    assert [bytes(v) for v in batch.values()] == values
    assert all(r.key is None and r.headers == () and r.timestamp == timestamp for r in batch)


@settings(max_examples=50, deadline=None)
@given(batches=st.lists(st.tuples(records(), batch_options), min_size=1, max_size=5))
def test_many_batches_in_one_buffer(batches):
    encoded = [NATIVE.encode_batch(build(NATIVE, items, options["base_offset"]), **options)
               for items, options in batches]
    buffer = b"".join(encoded)
    for reader in (NATIVE, PURE):
        iterator = reader.decode_batches(buffer)
        decoded = list(iterator)
        assert [b.size_in_bytes for b in decoded] == [len(e) for e in encoded]
        assert [bytes(b.buffer) for b in decoded] == encoded
        assert iterator.position == len(buffer) and iterator.trailing_bytes == 0
        for batch, (items, options) in zip(decoded, batches):
            assert [as_tuple(r) for r in batch] == expected_records(items, options)


def test_records_from_the_other_codec_are_accepted(codec):
    other = PURE if codec is NATIVE else NATIVE
    records = [other.Record(b"v", key=b"k", headers=[("h", b"x")], timestamp=5, offset=3)]
    (batch,) = codec.decode_batches(codec.encode_batch(records, base_offset=3))
    (record,) = batch
    assert record == records[0]
    assert as_tuple(record) == (3, 5, b"k", b"v", (("h", b"x"),))
