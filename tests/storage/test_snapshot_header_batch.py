"""A snapshot's header batch (SnapshotHeader [+ KRaftVersion [+ Voters]]) is
checked whenever a snapshot is validated: on publish and on open."""
from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import load_jsonl
from kraft.checksum import crc32c
from kraft.core.log import OffsetAndEpoch
from kraft.protocol.messages import (
    KRaftVersionRecord,
    LeaderChangeMessage,
    SnapshotFooterRecord,
    SnapshotHeaderRecord,
    VotersRecord,
)
from kraft.protocol.uuid import Uuid
from kraft.records import Record, RecordBatch, encode_batch
from kraft.records.control import ControlRecordType, encode_control_batch, encode_control_key
from kraft.storage import CorruptSnapshotError, FileRawSnapshotReader, FileRawSnapshotWriter
from kraft.storage.snapshots import decode_header_batch, validate_snapshot_bytes

NOW = 1_700_000_000_000
HEADER = SnapshotHeaderRecord(version=0, last_contained_log_timestamp=NOW - 1)
VOTERS = VotersRecord(version=0, voters=[VotersRecord.Voter(
    voter_id=1, voter_directory_id=Uuid(b"\x01" * 16),
    endpoints=[VotersRecord.Endpoint(name="CONTROLLER", host="localhost", port=9093)],
    kraft_version_feature=VotersRecord.KRaftVersionFeature(min_supported_version=0, max_supported_version=1))])


def kv(level):
    return KRaftVersionRecord(version=0, kraft_version=level)


def snapshot(header_batch: bytes) -> bytes:
    """A whole snapshot around ``header_batch``: one data batch and the footer."""
    count = RecordBatch(header_batch).record_count
    data = encode_batch([b"state"], base_offset=count, timestamp=NOW)
    return header_batch + data + encode_control_batch(SnapshotFooterRecord(version=0), base_offset=count + 1,
                                                      timestamp=NOW)


def publish(tmp_path, content: bytes):
    writer = FileRawSnapshotWriter.create(tmp_path, OffsetAndEpoch(7, 1))
    writer.append(content)
    try:
        writer.freeze()
    finally:
        writer.close()
    return FileRawSnapshotReader.open(tmp_path, OffsetAndEpoch(7, 1))


@pytest.mark.parametrize("messages, kraft_version, voters", [
    ([HEADER], None, None),
    ([HEADER, kv(0)], 0, None),
    ([HEADER, kv(1)], 1, None),
    ([HEADER, kv(1), VOTERS], 1, VOTERS),
])
def test_kafkas_header_layouts_are_accepted(tmp_path, messages, kraft_version, voters):
    reader = publish(tmp_path, snapshot(encode_control_batch(messages, timestamp=NOW)))
    header = reader.header()
    assert header.last_contained_log_timestamp == NOW - 1
    assert header.kraft_version == kraft_version and header.voters == voters
    assert reader.last_contained_log_timestamp() == NOW - 1
    reader.close()


@pytest.mark.parametrize("messages, message", [
    ([HEADER, VOTERS], "no KRaftVersion record"),
    ([HEADER, kv(0), VOTERS], "kraft.version 0"),
    ([HEADER, VOTERS, kv(1)], "no KRaftVersion record"),
    ([HEADER, kv(1), VOTERS, kv(1)], "unexpected KRAFT_VERSION"),
    ([HEADER, kv(2)], "unsupported kraft.version 2"),
    ([HEADER, kv(-1)], "unsupported kraft.version -1"),
    ([HEADER, kv(1), kv(1)], "unexpected KRAFT_VERSION"),
    ([HEADER, kv(1), VOTERS, VOTERS], "unexpected KRAFT_VOTERS"),
    ([HEADER, HEADER], "unexpected SNAPSHOT_HEADER"),
    ([HEADER, LeaderChangeMessage(version=0, leader_id=1)], "unexpected LEADER_CHANGE"),
    ([HEADER, SnapshotFooterRecord(version=0)], "unexpected SNAPSHOT_FOOTER"),
    ([kv(1), HEADER], "first batch is not a SnapshotHeader"),
    ([VOTERS], "first batch is not a SnapshotHeader"),
])
def test_misordered_or_unsupported_header_records_are_refused(tmp_path, messages, message):
    content = snapshot(encode_control_batch(messages, timestamp=NOW))
    with pytest.raises(CorruptSnapshotError) as info:
        publish(tmp_path, content)
    assert message in str(info.value) and ".checkpoint.part" in str(info.value)
    assert list(tmp_path.iterdir()) == []
    # a file that got there anyway is refused on open, naming it
    path = tmp_path / "00000000000000000007-0000000001.checkpoint"
    path.write_bytes(content)
    with pytest.raises(CorruptSnapshotError) as info:
        FileRawSnapshotReader.open(tmp_path, OffsetAndEpoch(7, 1))
    assert message in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("record_type, value, message", [
    (ControlRecordType.KRAFT_VERSION, b"\x00\x00\x00", "KRaftVersionRecord"),
    (ControlRecordType.KRAFT_VOTERS, b"\x00\x00\x05\x00", "VotersRecord"),
    (ControlRecordType.KRAFT_VOTERS, None, "null value"),
    (ControlRecordType.ABORT, b"\x00\x00\x00\x00\x00\x01", "unexpected ABORT"),
    (77, b"\x00", "unexpected UNKNOWN"),
])
def test_undecodable_header_records_are_refused(record_type, value, message):
    records = [Record(HEADER.encode(0), key=encode_control_key(ControlRecordType.SNAPSHOT_HEADER)),
               Record(kv(1).encode(0), key=encode_control_key(ControlRecordType.KRAFT_VERSION))]
    if record_type is ControlRecordType.KRAFT_VERSION:
        records.pop()
    records.append(Record(value, key=encode_control_key(record_type)))
    batch = encode_batch(records, timestamp=NOW, is_control=True)
    with pytest.raises(CorruptSnapshotError) as info:
        validate_snapshot_bytes(snapshot(batch))
    assert message in str(info.value)


def test_a_data_batch_first_is_refused():
    with pytest.raises(CorruptSnapshotError, match="first batch is not a SnapshotHeader"):
        decode_header_batch(encode_batch([HEADER.encode(0)], timestamp=NOW))


# --- mutations of Kafka's header batch ---------------------------------------------------------
def _kafka_snapshot():
    case = next(c for c in load_jsonl("kafka-3.9/files.jsonl")
                if c["file_name"].endswith(".checkpoint") and c["params"]["kraft_version"] == 1)
    return bytes.fromhex(case["hex"]), case["params"]["batches"][0]["size_in_bytes"]


def _restamp_crc(batch: bytearray) -> None:
    """Fix the CRC so that a mutation reaches the record decoder."""
    struct.pack_into(">I", batch, 17, crc32c(bytes(batch[21:])))


def _layout_is_kafkas(batch: bytes) -> bool:
    """An independent reading of the rule: control batch; record keys
    SnapshotHeader, [KRaftVersion (0 or 1), [Voters if that was 1]]."""
    decoded = RecordBatch(batch)
    if not decoded.is_control:
        return False
    types, levels = [], []
    for record in decoded:
        key = bytes(record.key)
        types.append(struct.unpack(">h", key[2:4])[0])
        if types[-1] == 5:
            levels.append(KRaftVersionRecord.decode(record.value, 0).kraft_version)
    if types not in ([3], [3, 5], [3, 5, 6]):
        return False
    return not levels or levels[0] in (0, 1) and (len(types) < 3 or levels[0] == 1)


@settings(max_examples=300, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
       restamp=st.booleans())
def test_mutated_header_batches_are_either_read_as_they_say_or_refused(edits, restamp):
    data, header_size = _kafka_snapshot()
    header = bytearray(data[:header_size])
    for position, value in edits:
        # the batch framing (offset, length) is the scanner's business; mutate what follows
        header[12 + position % (header_size - 12)] = value
    if restamp:
        _restamp_crc(header)
    content = bytes(header) + data[header_size:]
    try:
        validate_snapshot_bytes(content)
    except CorruptSnapshotError:
        return
    parsed = decode_header_batch(bytes(header))
    assert _layout_is_kafkas(bytes(header))
    decoded = RecordBatch(bytes(header))
    values = [bytes(r.value) for r in decoded]
    assert parsed.last_contained_log_timestamp == SnapshotHeaderRecord.decode(values[0], 0).last_contained_log_timestamp
    if parsed.voters is not None:
        assert parsed.voters == VotersRecord.decode(values[2], 0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=0, max_size=400))
def test_random_header_batches_never_raise_anything_else(noise):
    for candidate in (noise, bytearray(noise)):
        if len(candidate) >= 21 and isinstance(candidate, bytearray):
            _restamp_crc(candidate)
        try:
            decode_header_batch(bytes(candidate))
        except CorruptSnapshotError:
            pass
