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
