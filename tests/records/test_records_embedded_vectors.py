"""Batches Kafka wrote inside other vectors: the snapshot (.checkpoint) files
of files.jsonl and the ``records`` fields of messages.jsonl, in both vector
sets (the adee6f0cc11 ones and kafka-3.9/).  Each decodes to the stated
fields and re-encodes from what was decoded to the same bytes."""
from __future__ import annotations

import base64

import pytest

from conftest import load_jsonl
from record_codecs import codec  # noqa: F401  (fixture)

VECTOR_SETS = ["", "kafka-3.9/"]
HEADER_FIELDS = (
    "base_offset", "last_offset", "size_in_bytes", "partition_leader_epoch", "magic", "crc", "attributes",
    "compression", "timestamp_type", "is_transactional", "is_control", "base_timestamp", "max_timestamp",
    "producer_id", "producer_epoch", "base_sequence", "record_count",
)


def plain(data):
    return None if data is None else bytes(data)


def reencode(codec, batch):
    """Encode a decoded batch again from its fields and records."""
    records = [
        codec.Record(plain(r.value), key=plain(r.key), headers=[(k, plain(v)) for k, v in r.headers],
                     timestamp=r.timestamp, offset=r.offset)
        for r in batch
    ]
    return codec.encode_batch(
        records, base_offset=batch.base_offset, partition_leader_epoch=batch.partition_leader_epoch,
        compression=batch.compression, is_control=batch.is_control, is_transactional=batch.is_transactional,
        producer_id=batch.producer_id, producer_epoch=batch.producer_epoch, base_sequence=batch.base_sequence,
    )


def checkpoint_files(vector_set):
    return [v for v in load_jsonl(vector_set + "files.jsonl") if v["file_name"].endswith(".checkpoint")]


def record_blobs(vector_set):
    """(where, bytes) of every non-empty records field in messages.jsonl."""
    blobs = []

    def walk(value, where):
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "records" and isinstance(item, str) and item:
                    blobs.append((where, base64.b64decode(item)))
                else:
                    walk(item, where)
        elif isinstance(value, list):
            for item in value:
                walk(item, where)

    for message in load_jsonl(vector_set + "messages.jsonl"):
        walk(message["fields"], f"{message['api']} v{message['version']} {message['kind']} #{message.get('instance')}")
    return blobs


@pytest.mark.parametrize("vector_set", VECTOR_SETS)
def test_snapshot_files(codec, vector_set):
    files = checkpoint_files(vector_set)
    assert len(files) >= 2
    for file in files:
        data = bytes.fromhex(file["hex"])
        iterator = codec.decode_batches(data)
        batches = list(iterator)
        assert iterator.trailing_bytes == 0 and iterator.position == len(data) == file["size"]
        expected = file["params"]["batches"]
        assert len(batches) == len(expected)
        for batch, want in zip(batches, expected):
            for field in HEADER_FIELDS:
                assert getattr(batch, field) == want[field], (file["file_name"], field)
            assert batch.size_in_bytes - 12 == want["batch_length"]
            batch.validate()
            assert [plain(v).hex() for v in batch.values()] == want["record_values_hex"]
            assert reencode(codec, batch) == bytes(batch.buffer), file["file_name"]
        assert batches[0].is_control and batches[-1].is_control


@pytest.mark.parametrize("vector_set", VECTOR_SETS)
def test_records_fields_of_messages(codec, vector_set):
    blobs = record_blobs(vector_set)
    assert len(blobs) >= 50
    for where, blob in blobs:
        iterator = codec.decode_batches(blob)
        batches = list(iterator)
        assert batches and iterator.trailing_bytes == 0, where
        rebuilt = b""
        for batch in batches:
            batch.validate()
            assert len(list(batch)) == batch.record_count
            rebuilt += reencode(codec, batch) if batch.compression == "none" else bytes(batch.buffer)
        assert rebuilt == blob, where
