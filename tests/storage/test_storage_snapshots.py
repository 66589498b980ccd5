"""Snapshot files: Kafka's checkpoint files read back, naming, writer, chunked reads."""
import pytest
from hypothesis import given, settings, strategies as st

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


@pytest.mark.parametrize("vectors", VECTOR_FILES)
def test_records_writer_reproduces_kafkas_snapshots(tmp_path, vectors):
    from kraft.protocol.messages import VotersRecord
    from kraft.storage import RecordsSnapshotWriter

    for case in _checkpoints(vectors):
        p = case["params"]
        snapshot_id = OffsetAndEpoch(p["snapshot_end_offset"], p["snapshot_epoch"])
        directory = tmp_path / case["file_name"]
        directory.mkdir()
        voters = p.get("voters_record")
        writer = RecordsSnapshotWriter(
            FileRawSnapshotWriter.create(directory, snapshot_id), p["last_contained_log_timestamp"],
            lambda: p["clock_ms"], kraft_version=p["kraft_version"],
            voters=None if voters is None else VotersRecord.from_json(voters, 0))
        # the data batches grouped as Kafka's accumulator grouped them at that revision
        for batch in p["batches"]:
            if not batch["is_control"]:
                writer.append([bytes.fromhex(v) for v in batch["record_values_hex"]])
        writer.freeze()
        writer.close()
        assert (directory / case["file_name"]).read_bytes().hex() == case["hex"]


def test_records_writer_refuses_voters_at_kraft_version_0(tmp_path):
    from kraft.protocol.messages import VotersRecord
    from kraft.storage import RecordsSnapshotWriter

    raw = FileRawSnapshotWriter.create(tmp_path, OffsetAndEpoch(1, 1))
    with pytest.raises(ValueError):
        RecordsSnapshotWriter(raw, 0, lambda: 0, kraft_version=0, voters=VotersRecord())
    raw.close()
