"""Snapshot files: Kafka's checkpoint files read back, naming, writer, chunked reads."""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from batchgen import build_batch, snapshot_bytes, snapshot_footer, snapshot_header
from conftest import load_jsonl
from kraft.core.log import OffsetAndEpoch, RawSnapshotReader, RawSnapshotWriter
from kraft.storage import CorruptSnapshotError, FileRawSnapshotReader, FileRawSnapshotWriter
from kraft.storage.snapshots import parse_snapshot_path, snapshot_file_name, validate_snapshot_bytes

VECTOR_FILES = ["files.jsonl", "kafka-3.9/files.jsonl"]


def _checkpoints(name):
    return [v for v in load_jsonl(name) if v["file_name"].endswith(".checkpoint")]


@pytest.mark.parametrize("vectors", VECTOR_FILES)
def test_reads_kafkas_snapshots(tmp_path, vectors):
    cases = _checkpoints(vectors)
    assert len(cases) == 2
    for case in cases:
        p = case["params"]
        snapshot_id = OffsetAndEpoch(p["snapshot_end_offset"], p["snapshot_epoch"])
        assert snapshot_file_name(snapshot_id) == case["file_name"]
        (tmp_path / case["file_name"]).write_bytes(bytes.fromhex(case["hex"]))
        reader = FileRawSnapshotReader.open(tmp_path, snapshot_id)
        assert isinstance(reader, RawSnapshotReader)
        assert reader.size_in_bytes() == case["size"]
        got = list(reader.batches())
        assert [b.base_offset for b in got] == [b["base_offset"] for b in p["batches"]]
        assert [b.is_control for b in got] == [b["is_control"] for b in p["batches"]]
        assert [len(b.data) for b in got] == [b["size_in_bytes"] for b in p["batches"]]
        assert bytes(reader.records()) == bytes.fromhex(case["hex"])
        reader.close()


@pytest.mark.parametrize("vectors", VECTOR_FILES)
def test_download_in_chunks_reproduces_kafkas_file(tmp_path, vectors):
    for case in _checkpoints(vectors):
        p = case["params"]
        snapshot_id = OffsetAndEpoch(p["snapshot_end_offset"], p["snapshot_epoch"])
        src_dir, dst_dir = tmp_path / ("src" + case["file_name"]), tmp_path / ("dst" + case["file_name"])
        src_dir.mkdir(exist_ok=True)
        dst_dir.mkdir(exist_ok=True)
        (src_dir / case["file_name"]).write_bytes(bytes.fromhex(case["hex"]))
        reader = FileRawSnapshotReader.open(src_dir, snapshot_id)
        frozen = []
        writer = FileRawSnapshotWriter.create(dst_dir, snapshot_id, frozen.append)
        assert isinstance(writer, RawSnapshotWriter)
        position = 0
        while position < reader.size_in_bytes():
            chunk = reader.read(position, 100)          # FetchSnapshot-sized chunks cut batches
            writer.append(chunk)
            position += len(chunk)
        writer.freeze()
        assert frozen == [snapshot_id]
        out = dst_dir / case["file_name"]
        assert out.read_bytes().hex() == case["hex"]
        assert oct(out.stat().st_mode & 0o777) == "0o444"
        assert [p.name for p in dst_dir.iterdir()] == [case["file_name"]]


def test_naming():
    assert snapshot_file_name(OffsetAndEpoch(3, 1)) == "00000000000000000003-0000000001.checkpoint"
    parsed = parse_snapshot_path("/x/00000000000000000003-0000000001.checkpoint")
    assert (parsed.snapshot_id, parsed.partial, parsed.deleted) == (OffsetAndEpoch(3, 1), False, False)
    parsed = parse_snapshot_path("00000000000000000003-0000000001-13366366505171220101.checkpoint.part")
    assert (parsed.snapshot_id, parsed.partial) == (OffsetAndEpoch(3, 1), True)
    parsed = parse_snapshot_path("00000000000000000003-0000000001.checkpoint.deleted")
    assert parsed.deleted
    for bad in ("00000000000000000003.log", "0000000000000000000x-0000000001.checkpoint",
                "00000000000000000003_0000000001.checkpoint", "3-1.checkpoint",
                "00000000000000000003-0000000001-9.checkpoint"):
        assert parse_snapshot_path(bad) is None, bad
    with pytest.raises(ValueError):
        snapshot_file_name(OffsetAndEpoch(-1, 0))


def test_abandoned_writer_leaves_nothing(tmp_path):
    with FileRawSnapshotWriter.create(tmp_path, OffsetAndEpoch(5, 1)) as writer:
        writer.append(snapshot_header())
        assert writer.partial_path.name.endswith(".checkpoint.part")
        assert writer.partial_path.name.startswith("00000000000000000005-0000000001-")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (build_batch([b"a"], 0, 1) + snapshot_footer(1), "SnapshotHeader"),
    (snapshot_header() + build_batch([b"a"], 1), "SnapshotFooter"),
    (snapshot_header() + build_batch([b"a"], 5) + snapshot_footer(6), "does not follow"),
    (snapshot_bytes([[b"a"]])[:-3], "truncated"),
])
def test_freeze_refuses_invalid_content(tmp_path, content, message):
    writer = FileRawSnapshotWriter.create(tmp_path, OffsetAndEpoch(5, 1))
    writer.append(content)
    with pytest.raises(CorruptSnapshotError) as info:
        writer.freeze()
    assert message in str(info.value) and ".checkpoint.part" in str(info.value)
    writer.close()
    assert list(tmp_path.iterdir()) == []


def test_frozen_writer_refuses_more(tmp_path):
    writer = FileRawSnapshotWriter.create(tmp_path, OffsetAndEpoch(5, 1))
    writer.append(snapshot_bytes([[b"a", b"b"]]))
    writer.freeze()
    with pytest.raises(RuntimeError):
        writer.append(b"x")
    with pytest.raises(RuntimeError):
        writer.freeze()
    writer.close()
    assert (tmp_path / "00000000000000000005-0000000001.checkpoint").exists()


def test_chunked_read_bounds(tmp_path):
    data = snapshot_bytes([[b"a"] * 10, [b"b"] * 3])
    writer = FileRawSnapshotWriter.create(tmp_path, OffsetAndEpoch(5, 1))
    writer.append(data)
    writer.freeze()
    reader = FileRawSnapshotReader.open(tmp_path, OffsetAndEpoch(5, 1))
    assert bytes(reader.read(10, 20)) == data[10:30]
    assert bytes(reader.read(len(data) - 5, 100)) == data[-5:]
    assert len(reader.read(len(data), 100)) == 0
    with pytest.raises(ValueError):
        reader.read(len(data) + 1, 1)
    with pytest.raises(ValueError):
        reader.read(-1, 1)
    with pytest.raises(FileNotFoundError):
        FileRawSnapshotReader.open(tmp_path, OffsetAndEpoch(6, 1))


def test_corrupt_snapshot_file_names_the_file(tmp_path):
    path = tmp_path / "00000000000000000005-0000000001.checkpoint"
    data = bytearray(snapshot_bytes([[b"abc"]]))
    data[-10] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptSnapshotError) as info:
        FileRawSnapshotReader.open(tmp_path, OffsetAndEpoch(5, 1))
    assert str(path) in str(info.value) and "CRC" in str(info.value)


@settings(max_examples=200)
@given(st.binary(max_size=300), st.integers(0, 10**6), st.integers(0, 255))
def test_fuzz_validation(noise, position, value):
    data = bytearray(snapshot_bytes([[b"x" * 5] * 3]))
    data[position % len(data)] = value
    for content in (bytes(data), noise):
        try:
            validate_snapshot_bytes(content)
        except CorruptSnapshotError:
            pass


@pytest.mark.parametrize("vectors", VECTOR_FILES)
def test_records_of_kafkas_snapshots(tmp_path, vectors):
    for case in _checkpoints(vectors):
        p = case["params"]
        snapshot_id = OffsetAndEpoch(p["snapshot_end_offset"], p["snapshot_epoch"])
        (tmp_path / case["file_name"]).write_bytes(bytes.fromhex(case["hex"]))
        reader = FileRawSnapshotReader.open(tmp_path, snapshot_id)
        assert reader.last_contained_log_timestamp() == p["last_contained_log_timestamp"]
        values = [[bytes(r.value).hex() for r in batch] for batch in reader.record_batches()]
        assert values == [b["record_values_hex"] for b in p["batches"]]
        user = [bytes.fromhex(v).decode() for b in p["batches"] if not b["is_control"]
                for v in b["record_values_hex"]]
        assert user == p["appended_user_records_utf8"]


def _kafka_writer(directory, case, **kwargs):
    from kraft.protocol.messages import VotersRecord
    from kraft.storage import RecordsSnapshotWriter

    p = case["params"]
    snapshot_id = OffsetAndEpoch(p["snapshot_end_offset"], p["snapshot_epoch"])
    voters = p.get("voters_record")
    return RecordsSnapshotWriter(
        FileRawSnapshotWriter.create(directory, snapshot_id), p["last_contained_log_timestamp"],
        lambda: p["clock_ms"], kraft_version=p["kraft_version"],
        voters=None if voters is None else VotersRecord.from_json(voters, 0), **kwargs)


# How the vector generator handed the records to Kafka's writer, inferred from
# the files: appends of 2, 2, 1, 2, 1 and 1 records.  3.9.0 keeps each append in
# one batch and closes the open batch after an append that filled one; the
# reference revision packed record by record, so its file differs and only
# its own batches, appended as they are, reproduce it.
KAFKA_APPENDS = [2, 2, 1, 2, 1, 1]


def _groups(values, sizes):
    out, i = [], 0
    for n in sizes:
        out.append(values[i:i + n])
        i += n
    assert i == len(values)
    return out


@pytest.mark.parametrize("grouping", ["as-kafka-appended", "as-kafkas-batches"])
@pytest.mark.parametrize("vectors", VECTOR_FILES)
def test_records_writer_reproduces_kafkas_snapshots(tmp_path, vectors, grouping):
    """Kafka's writer had a maximum batch size of 256.  Handed the generator's
    appends, ours packs as 3.9.0 does; handed Kafka's own batches as appends,
    it writes them unchanged at both revisions."""
    kafka_39 = {c["file_name"]: c["hex"] for c in _checkpoints("kafka-3.9/files.jsonl")}
    for case in _checkpoints(vectors):
        p = case["params"]
        directory = tmp_path / case["file_name"]
        directory.mkdir()
        writer = _kafka_writer(directory, case, max_batch_size=p["max_batch_size"])
        values = [v.encode() for v in p["appended_user_records_utf8"]]
        if grouping == "as-kafkas-batches":
            appends = [[bytes.fromhex(v) for v in b["record_values_hex"]]
                       for b in p["batches"] if not b["is_control"]]
            expected = case["hex"]
        else:
            appends = _groups(values, KAFKA_APPENDS)
            expected = kafka_39[case["file_name"]]
        for records in appends:
            writer.append(records)
        writer.freeze()
        writer.close()
        assert (directory / case["file_name"]).read_bytes().hex() == expected


@pytest.mark.parametrize("vectors", VECTOR_FILES)
def test_records_writer_default_packs_everything_into_one_batch(tmp_path, vectors):
    case = _checkpoints(vectors)[0]
    p = case["params"]
    writer = _kafka_writer(tmp_path, case)
    for value in p["appended_user_records_utf8"]:
        writer.append([value.encode()])
    writer.freeze()
    reader = FileRawSnapshotReader.open(tmp_path, writer.snapshot_id)
    batches = list(reader.record_batches())
    assert len(batches) == 3
    assert [bytes(r.value).decode() for r in batches[1]] == p["appended_user_records_utf8"]
    reader.close()


def test_records_writer_keeps_an_append_in_one_batch_and_respects_the_limit(tmp_path):
    from kraft.storage import RecordBatchTooLargeError, RecordsSnapshotWriter

    clock = iter(range(1000, 2000))
    writer = RecordsSnapshotWriter(FileRawSnapshotWriter.create(tmp_path, OffsetAndEpoch(9, 2)),
                                   5, lambda: next(clock), max_batch_size=200)
    writer.append([b"a" * 50, b"b" * 50])          # 61 + 2 * 57 = 175 bytes
    header = writer.raw.size_in_bytes()
    writer.append([b"c" * 10])                       # 17 more: 192, fits; nothing written yet
    assert writer.raw.size_in_bytes() == header
    writer.append([b"d" * 10, b"e" * 10])            # would reach 226: a new batch, and
    assert writer.raw.size_in_bytes() == header + 192 + 61 + 34   # both are written at once
    with pytest.raises(RecordBatchTooLargeError):
        writer.append([b"f" * 140])                  # 61 + 143 > 200 even alone
    writer.append([])
    writer.freeze()
    assert writer.is_frozen
    with pytest.raises(RuntimeError):
        writer.append([b"late"])
    reader = FileRawSnapshotReader.open(tmp_path, OffsetAndEpoch(9, 2))
    batches = list(reader.record_batches())
    assert [[bytes(r.value) for r in b] for b in batches[1:-1]] == [
        [b"a" * 50, b"b" * 50, b"c" * 10], [b"d" * 10, b"e" * 10]]
    assert [b.base_offset for b in reader.batches()] == [0, 1, 4, 6]
    assert max(len(b.data) for b in reader.batches()) <= 200
    # each batch carries the time it was started: header 1000, data 1001 and 1002;
    # the refused append opened a batch at 1003 that stayed empty; footer 1004
    assert [b.max_timestamp for b in batches] == [1000, 1001, 1002, 1004]
    reader.close()


def test_records_writer_rejects_a_too_small_batch_size(tmp_path):
    from kraft.storage import RecordsSnapshotWriter

    raw = FileRawSnapshotWriter.create(tmp_path, OffsetAndEpoch(1, 1))
    with pytest.raises(ValueError):
        RecordsSnapshotWriter(raw, 0, lambda: 0, max_batch_size=61)
    raw.close()


def test_records_writer_refuses_voters_at_kraft_version_0(tmp_path):
    from kraft.protocol.messages import VotersRecord
    from kraft.storage import RecordsSnapshotWriter

    raw = FileRawSnapshotWriter.create(tmp_path, OffsetAndEpoch(1, 1))
    with pytest.raises(ValueError):
        RecordsSnapshotWriter(raw, 0, lambda: 0, kraft_version=0, voters=VotersRecord())
    raw.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(appends=st.lists(st.lists(st.binary(max_size=120), max_size=5), max_size=25),
       max_batch_size=st.integers(62, 700))
def test_records_writer_packing_properties(tmp_path_factory, appends, max_batch_size):
    """Every record comes back in order; an append's records share one batch
    (or the append was refused whole); no batch exceeds the maximum."""
    from kraft.storage import RecordBatchTooLargeError, RecordsSnapshotWriter

    directory = tmp_path_factory.mktemp("snap")
    writer = RecordsSnapshotWriter(FileRawSnapshotWriter.create(directory, OffsetAndEpoch(3, 1)),
                                   0, lambda: 7, max_batch_size=max_batch_size)
    accepted = []
    for records in appends:
        try:
            writer.append(records)
        except RecordBatchTooLargeError:
            continue
        if records:
            accepted.append(records)
    writer.freeze()
    reader = FileRawSnapshotReader.open(directory, OffsetAndEpoch(3, 1))
    data = [[bytes(r.value) for r in b] for b in list(reader.record_batches())[1:-1]]
    assert [v for b in data for v in b] == [v for a in accepted for v in a]
    assert all(len(b.data) <= max_batch_size for b in list(reader.batches())[1:-1])
    # appends map onto batches without being split
    flat_batches = iter(data)
    current, pos = next(flat_batches, []), 0
    for records in accepted:
        if pos == len(current):
            current, pos = next(flat_batches), 0
        assert current[pos:pos + len(records)] == records
        pos += len(records)
    reader.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lengths=st.lists(st.one_of(st.integers(0, 200), st.sampled_from([57, 58, 63, 64, 121, 122, 8191, 8192])),
                        min_size=2, max_size=90),
       one_append=st.booleans())
def test_records_writer_splits_exactly_where_the_batch_bytes_say(tmp_path_factory, lengths, one_append):
    """Records whose batch is exactly ``max_batch_size`` bytes share it, as in Kafka's
    ``BatchBuilder`` (which sizes records exactly); one byte less and the last record moves on."""
    from kraft.records import encode_batch
    from kraft.storage import RecordsSnapshotWriter

    values = [bytes([i % 256]) * n for i, n in enumerate(lengths)]
    full = encode_batch(values, base_offset=1, partition_leader_epoch=4, timestamp=7)
    for limit, expected in ((len(full), [values]), (len(full) - 1, [values[:-1], values[-1:]])):
        directory = tmp_path_factory.mktemp("exact")
        writer = RecordsSnapshotWriter(FileRawSnapshotWriter.create(directory, OffsetAndEpoch(3, 4)),
                                       0, lambda: 7, max_batch_size=limit)
        if one_append and limit == len(full):
            writer.append(values)  # the largest append that still fits one batch
        else:
            for value in values:
                writer.append([value])
        writer.freeze()
        reader = FileRawSnapshotReader.open(directory, OffsetAndEpoch(3, 4))
        data_batches = [bytes(b.data) for b in list(reader.batches())[1:-1]]
        reader.close()
        offsets = [1, 1 + len(expected[0])]
        assert data_batches == [encode_batch(group, base_offset=base, partition_leader_epoch=4, timestamp=7)
                                for group, base in zip(expected, offsets)]
        assert len(data_batches[0]) <= limit
