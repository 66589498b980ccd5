"""Offset and time index files: Kafka's entry formats, lookups, truncation."""
import struct

import pytest

from kraft.storage.index import OffsetIndex, TimeIndex


def test_offset_index(tmp_path):
    index = OffsetIndex(tmp_path / "00000000000000000100.index", 100)
    assert index.lookup(150) == (100, 0)
    index.append(105, 4100)
    index.append(120, 8300)
    with pytest.raises(ValueError):
        index.append(120, 9000)           # offsets must increase
    with pytest.raises(ValueError):
        index.append(99, 0)               # below the base
    assert index.lookup(104) == (100, 0)
    assert index.lookup(105) == (105, 4100)
    assert index.lookup(119) == (105, 4100)
    assert index.lookup(10**6) == (120, 8300)
    index.flush()
    assert index.path.read_bytes() == struct.pack(">iiii", 5, 4100, 20, 8300)
    index.truncate_to(120)
    assert index.last_entry() == (105, 4100)
    index.append(121, 8400)
    index.flush()
    assert index.path.read_bytes() == struct.pack(">iiii", 5, 4100, 21, 8400)
    index.reset()
    index.flush()
    assert index.path.read_bytes() == b"" and index.lookup(121) == (100, 0)
    with pytest.raises(ValueError):
        OffsetIndex(tmp_path / "x", 0, b"\x00" * 7)


def test_time_index(tmp_path):
    index = TimeIndex(tmp_path / "00000000000000000100.timeindex", 100)
    index.maybe_append(1000, 103)
    index.maybe_append(1000, 104)          # not newer: skipped
    index.maybe_append(999, 105)           # older: skipped
    index.maybe_append(-1, 106)            # no timestamp: skipped
    index.maybe_append(2000, 110)
    assert len(index) == 2
    assert index.lookup(1500) == (1000, 103)
    assert index.lookup(5) == (-1, 100)
    index.flush(sync=True)
    assert index.path.read_bytes() == struct.pack(">qiqi", 1000, 3, 2000, 10)
    index.truncate_to(110)
    assert index.last_entry() == (1000, 103)
    index.maybe_append(1500, 111)
    assert index.last_entry() == (1500, 111)


def _segment_files(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.suffix in (".index", ".timeindex")}


def test_a_follower_append_of_many_batches_is_indexed_batch_by_batch_as_kafka_does(tmp_path):
    """Kafka's LogSegment.append (storage 3.9.2, LogSegment.java:258-273) walks the batches of one
    append: each batch that comes more than index.interval.bytes after the last entry is indexed at its
    own last offset and position.  So the index of a follower that appends several fetched batches at a
    time is the index of the same batches appended one at a time, and every entry names the last
    offset of the batch found at its position (what Kafka's DumpLogSegments verifies)."""
    from batchgen import build_batch
    from kraft.storage.replicated_log import FileReplicatedLog, LogConfig

    blobs, offset = [], 0
    for i in range(60):
        count = 5 + (i * 7) % 30
        blobs.append(build_batch([b"v" * 16] * count, base_offset=offset, epoch=1, timestamp=1000 + i))
        offset += count
    together = FileReplicatedLog.open(tmp_path / "together", LogConfig())
    one_by_one = FileReplicatedLog.open(tmp_path / "one-by-one", LogConfig())
    for start in range(0, len(blobs), 8):
        together.append_as_follower(b"".join(blobs[start:start + 8]), 1)
    for blob in blobs:
        one_by_one.append_as_follower(blob, 1)
    segment = together.segments[0]
    positions, position = {}, 0
    for blob in blobs:
        base, = struct.unpack_from(">q", blob, 0)
        delta, = struct.unpack_from(">i", blob, 23)
        positions[position] = base + delta
        position += len(blob)
    entries = [struct.unpack_from(">ii", segment.offset_index.entries, i * 8) for i in range(len(segment.offset_index))]
    assert len(entries) >= 3
    assert all(positions[pos] == segment.base_offset + rel for rel, pos in entries), entries
    together.close()
    one_by_one.close()
    assert _segment_files(tmp_path / "together") == _segment_files(tmp_path / "one-by-one")
