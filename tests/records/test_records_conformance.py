"""Kafka's own batches (tests/data/vectors/records.jsonl) decode to the fields
Kafka read back, and the uncompressed and control ones re-encode to the same
bytes from those fields."""
from __future__ import annotations

import os

import kraft.records
from conftest import load_jsonl
from record_codecs import codec  # noqa: F401  (fixture)

BATCH_FIELDS = (
    "base_offset", "last_offset", "size_in_bytes", "partition_leader_epoch", "magic", "crc",
    "attributes", "compression", "timestamp_type", "is_transactional", "is_control",
    "base_timestamp", "max_timestamp", "producer_id", "producer_epoch", "base_sequence", "record_count",
)


def batch_vectors():
    return [v for v in load_jsonl("records.jsonl") if v["type"] == "batch"]


def hex_or_none(data):
    return None if data is None else bytes(data).hex()


def unhex(text):
    return None if text is None else bytes.fromhex(text)


def test_the_native_codec_is_the_product_path():
    if os.environ.get("KRAFT_NO_EXTENSIONS") == "1":
        assert kraft.records.IMPLEMENTATION == "pure"
    else:
        assert kraft.records.IMPLEMENTATION == "native"
        from kraft._native import records as native

        assert kraft.records.encode_batch is native.encode_batch
        assert kraft.records.Record is native.Record


def test_vectors_cover_every_kind():
    names = {v["name"] for v in batch_vectors()}
    for prefix in ("none", "gzip", "lz4", "snappy", "zstd", "control", "idempotent", "log-append-time"):
        assert any(name.startswith(prefix) for name in names), prefix


def test_decode_every_vector(codec):
    for vector in batch_vectors():
        iterator = codec.decode_batches(bytes.fromhex(vector["hex"]))
        batches = list(iterator)
        assert len(batches) == 1, vector["name"]
        assert iterator.trailing_bytes == 0
        batch = batches[0]
        expected = vector["batch"]
        for field in BATCH_FIELDS:
            assert getattr(batch, field) == expected[field], (vector["name"], field)
        assert batch.size_in_bytes - 12 == expected["batch_length"]
        assert batch.crc == vector["crc"]
        batch.validate()
        records = list(batch)
        assert len(records) == len(vector["records"]) == batch.record_count
        for record, want in zip(records, vector["records"]):
            where = (vector["name"], want["offset"])
            assert record.offset == want["offset"], where
            assert record.timestamp == want["timestamp"], where
            assert hex_or_none(record.key) == want["key_hex"], where
            assert hex_or_none(record.value) == want["value_hex"], where
            assert [(k, hex_or_none(v)) for k, v in record.headers] == [
                (h["key"], h["value_hex"]) for h in want["headers"]
            ], where
        assert [hex_or_none(v) for v in batch.values()] == [r["value_hex"] for r in vector["records"]]


def test_all_vectors_concatenated_decode_in_order(codec):
    vectors = batch_vectors()
    buffer = b"".join(bytes.fromhex(v["hex"]) for v in vectors)
    iterator = codec.decode_batches(buffer)
    assert [b.crc for b in iterator] == [v["crc"] for v in vectors]
    assert iterator.trailing_bytes == 0
    assert iterator.position == len(buffer)


def encode_arguments(codec, vector):
    """(records, keyword arguments) that rebuild a vector's batch."""
    params, batch = vector["params"], vector["batch"]
    common = {
        "base_offset": batch["base_offset"],
        "partition_leader_epoch": batch["partition_leader_epoch"],
        "compression": batch["compression"],
        "producer_id": batch["producer_id"],
        "producer_epoch": batch["producer_epoch"],
        "base_sequence": batch["base_sequence"],
        "is_transactional": batch["is_transactional"],
        "is_control": batch["is_control"],
    }
    if "record_key_hex" in params:  # a KRaft control record
        records = [codec.Record(unhex(params["message_hex"]), key=unhex(params["record_key_hex"]))]
        return records, dict(common, timestamp=params["timestamp"])
    if "input_records" in params:
        records = [
            codec.Record(
                unhex(r["value_hex"]), key=unhex(r["key_hex"]), timestamp=r["timestamp"],
                headers=[(h["key"], unhex(h["value_hex"])) for h in r["headers"]],
            )
            for r in params["input_records"]
        ]
        return records, common
    # Rebuilt from what Kafka read back: transaction markers and the
    # idempotent batch.  A LogAppendTime batch reads back every record at the
    # append time, so the timestamps the records were written with are read
    # from the same bytes with the LogAppendTime bit cleared.
    log_append = batch["timestamp_type"] == "LogAppendTime"
    timestamps = [r["timestamp"] for r in vector["records"]]
    if log_append:
        raw = bytearray.fromhex(vector["hex"])
        raw[22] &= ~0x08
        (as_create_time,) = codec.decode_batches(raw, check_crc=False)
        timestamps = [r.timestamp for r in as_create_time]
    records = [
        codec.Record(
            unhex(r["value_hex"]), key=unhex(r["key_hex"]), timestamp=timestamp,
            headers=[(h["key"], unhex(h["value_hex"])) for h in r["headers"]],
        )
        for r, timestamp in zip(vector["records"], timestamps)
    ]
    if log_append:
        common["log_append_time"] = batch["max_timestamp"]
    return records, common


def test_uncompressed_and_control_vectors_reencode_byte_identical(codec):
    checked = 0
    for vector in batch_vectors():
        if vector["batch"]["compression"] != "none":
            continue
        records, arguments = encode_arguments(codec, vector)
        assert codec.encode_batch(records, **arguments).hex() == vector["hex"], vector["name"]
        checked += 1
    assert checked >= 12


def test_compressed_vectors_reencode_to_the_same_records(codec):
    for vector in batch_vectors():
        if vector["batch"]["compression"] == "none":
            continue
        records, arguments = encode_arguments(codec, vector)
        encoded = codec.encode_batch(records, **arguments)
        (batch,) = codec.decode_batches(encoded)
        assert batch.compression == vector["batch"]["compression"]
        got = [(r.offset, r.timestamp, hex_or_none(r.key), hex_or_none(r.value)) for r in batch]
        want = [(r["offset"], r["timestamp"], r["key_hex"], r["value_hex"]) for r in vector["records"]]
        assert got == want, vector["name"]


def test_raft_batch_builder_output(codec):
    """test-vectors.md §4.3: KafkaRaftClient's accumulator output for values
    'a' and 'bc' at offset 10, epoch 2, append time 1700000000000."""
    expected = bytes.fromhex(
        "00000000 0000000a 00000042 00000002 02af2b60 54000000 00000100 00018bcf"
        "e5680000 00018bcf e56800ff ffffffff ffffffff ffffffff ff000000 020e0000"
        "00010261 00100000 02010462 6300".replace(" ", "")
    )
    encoded = codec.encode_batch([b"a", b"bc"], base_offset=10, partition_leader_epoch=2, timestamp=1700000000000)
    assert encoded == expected
    (batch,) = codec.decode_batches(encoded)
    assert [bytes(v) for v in batch.values()] == [b"a", b"bc"]
    assert all(r.key is None and r.headers == () for r in batch)
