"""kraft._native.segment: batch scanning, append preparation, index lookups, mappings."""
import bisect
import contextlib
import os
import struct

import pytest
from hypothesis import given, settings, strategies as st

from batchgen import batches, build_batch
from conftest import load_jsonl
from kraft._native import segment as native
from kraft.errors import CorruptRecordError


def _vector_batches():
    return [v for v in load_jsonl("records.jsonl") if v["type"] == "batch"]


def test_batchgen_matches_kafka():
    # the test helper must build what Kafka builds (BatchBuilder layout)
    v = next(x for x in _vector_batches() if x["name"] == "control-snapshot-footer")
    p = v["params"]
    mine = build_batch([bytes.fromhex(p["message_hex"])], p["base_offset"],
                       p["partition_leader_epoch"], p["timestamp"], control_type=4)
    assert mine.hex() == v["hex"]


def test_scan_reads_every_vector_batch():
    for v in _vector_batches():
        raw = bytes.fromhex(v["hex"])
        b = v["batch"]
        r = native.scan_batches(raw, b["base_offset"])
        assert r.error is None, v["name"]
        assert r.valid_bytes == len(raw) == b["size_in_bytes"]
        assert (r.first_offset, r.next_offset) == (b["base_offset"], b["last_offset"] + 1)
        assert r.max_timestamp == b["max_timestamp"]
        assert r.epoch_starts == ([(b["partition_leader_epoch"], b["base_offset"])]
                                  if b["partition_leader_epoch"] >= 0 else [])


def test_control_record_type_of_vectors():
    for v in _vector_batches():
        raw = bytes.fromhex(v["hex"])
        expected = v["params"].get("control_type_id") if v["batch"]["is_control"] else None
        assert native.control_record_type(raw) == expected, v["name"]


def test_torn_at_every_byte_stops_at_last_whole_batch():
    data = b"".join(batches(3))
    sizes = [len(b) for b in batches(3)]
    for cut in range(len(data)):
        r = native.scan_batches(data[:cut])
        whole = 0
        for s in sizes:
            if whole + s <= cut:
                whole += s
            else:
                break
        assert r.valid_bytes == whole
        assert (r.error is None) == (cut == whole)


def test_corruption_anywhere_under_the_crc_is_detected():
    batch = batches(1, records_per_batch=3)[0]
    for i in range(21, len(batch)):
        bad = bytearray(batch)
        bad[i] ^= 0x40
        r = native.scan_batches(bytes(bad))
        assert r.valid_bytes == 0 and r.error, i


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b[:8] + struct.pack(">i", 10) + b[12:], "smaller than the minimum"),
    (lambda b: b[:16] + b"\x01" + b[17:], "magic"),
    (lambda b: b[:23] + struct.pack(">i", -1) + b[27:], "negative last offset"),
    (lambda b: b[:8] + struct.pack(">i", 2**31 - 1) + b[12:], "truncated"),
])
def test_header_errors(mutate, message):
    r = native.scan_batches(mutate(batches(1)[0]))
    assert r.valid_bytes == 0 and message in r.error


def test_scan_checks_offsets_follow_each_other():
    a, b = batches(2)
    gap = build_batch([b"x"], 10)
    r = native.scan_batches(a + gap, 0, 0, 0, True, -1, 0, True)
    assert r.valid_bytes == len(a) and "does not follow" in r.error
    r = native.scan_batches(a + b, 5, 0, 0, True, -1, 5, True)
    assert r.valid_bytes == 0


def test_scan_builds_kafka_recovery_index():
    data = b"".join(batches(40, records_per_batch=1, value_size=300))
    size = len(batches(1, records_per_batch=1, value_size=300)[0])
    r = native.scan_batches(data, 0, 1000)
    entries = [struct.unpack_from(">ii", r.offset_index, i) for i in range(0, len(r.offset_index), 8)]
    # model of LogSegment.recover: entry when validBytes - lastIndexEntry > interval
    expected, valid, last = [], 0, 0
    for i in range(40):
        if valid - last > 1000:
            expected.append((i, valid))
            last = valid
        valid += size
    assert entries == expected
    assert len(r.time_index) == 12 * len(expected)


def test_epoch_starts():
    data = b"".join([build_batch([b"a"], 0, 1), build_batch([b"b"], 1, 1),
                     build_batch([b"c"], 2, 4), build_batch([b"d"], 3, 2)])
    assert native.scan_batches(data).epoch_starts == [(1, 0), (4, 2)]
    assert native.scan_batches(data, last_epoch=1).epoch_starts == [(4, 2)]


def test_prepare_append_as_leader_stamps_offsets_and_epoch():
    src = b"".join(batches(3, epoch=0))
    out, size, first, last, max_ts, _, starts = native.prepare_append(src, True, 100, 7, 5)
    assert (size, first, last, starts) == (len(src), 100, 105, [(7, 100)])
    assert isinstance(out, bytearray)
    r = native.scan_batches(out, 100, 0, 0, True, -1, 100, True)
    assert r.error is None and r.next_offset == 106 and r.epoch_starts == [(7, 100)]
    # a writable buffer is stamped in place
    buf = bytearray(src)
    out2 = native.prepare_append(buf, True, 0, 2)[0]
    assert out2 is buf and struct.unpack_from(">i", buf, 12)[0] == 2


@pytest.mark.parametrize("records, kwargs, message", [
    (b"", dict(as_leader=True, next_offset=0, epoch=1), "empty"),
    (batches(1)[0][:-1], dict(as_leader=True, next_offset=0, epoch=1), "truncated"),
    (batches(1)[0], dict(as_leader=True, next_offset=0, epoch=1, last_epoch=2), "below"),
    (batches(1, base_offset=4)[0], dict(as_leader=False, next_offset=0, epoch=1), "expected 0"),
    (b"".join([build_batch([b"a"], 0, 3), build_batch([b"b"], 1, 2)]),
     dict(as_leader=False, next_offset=0, epoch=3), "below"),
    (build_batch([b"a"], 0, 1), dict(as_leader=False, next_offset=0, epoch=3, last_epoch=2), "below"),
    (batches(1, value_size=200)[0], dict(as_leader=True, next_offset=0, epoch=1, max_batch_size=100), "exceeds"),
])
def test_prepare_append_rejects(records, kwargs, message):
    original = bytes(records)
    buf = bytearray(records)
    with pytest.raises(ValueError) as info:
        native.prepare_append(buf, **kwargs)
    assert message in str(info.value)
    assert bytes(buf) == original  # nothing was stamped


def test_find_batch_end():
    bs = batches(5)           # 2 records each: offsets 0-1, 2-3, ...
    data = b"".join(bs)
    size = len(bs[0])
    assert native.find_batch_end(data, 0, 3, size * 2) == (size, size * 3)
    assert native.find_batch_end(data, 0, 3, 1) == (size, size * 2)   # at least one batch
    assert native.find_batch_end(data, 0, 10, 100) == (-1, -1)


@given(st.lists(st.integers(0, 10**6), unique=True, max_size=200), st.integers(-5, 10**6 + 5))
def test_index_lookup_matches_bisect(offsets, target):
    offsets.sort()
    entries = b"".join(struct.pack(">ii", o, 10 * i) for i, o in enumerate(offsets))
    i = bisect.bisect_right(offsets, target)
    expected = (-1, 0) if i == 0 else (offsets[i - 1], 10 * (i - 1))
    assert native.index_lookup(entries, target) == expected
    tentries = b"".join(struct.pack(">qi", o * 1000, i) for i, o in enumerate(offsets))
    expected_t = (-1, 0) if i == 0 else (offsets[i - 1] * 1000, i - 1)
    assert native.time_index_lookup(tentries, target * 1000 + 999) == expected_t


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_fuzz_scan_and_control_type(data):
    r = native.scan_batches(data)
    assert 0 <= r.valid_bytes <= len(data)
    try:
        native.control_record_type(data)
    except CorruptRecordError:
        pass


@settings(max_examples=200)
@given(st.integers(0, 10**6), st.integers(0, 255))
def test_fuzz_mutated_batches(position, value):
    data = bytearray(b"".join(batches(3)))
    position %= len(data)
    data[position] = value
    r = native.scan_batches(bytes(data), 0, 4096, 0, True, -1, 0, True)
    assert r.valid_bytes <= len(data)
    try:
        native.prepare_append(bytearray(data), False, 0, 0)
        error = None
    except ValueError as e:
        error = str(e)
    if r.error:
        assert error is not None
    elif error is not None:
        # the epoch is outside the CRC and the scan does not judge epochs
        assert "epoch" in error


PAGE = os.sysconf("SC_PAGESIZE")


@contextlib.contextmanager
def open_file(tmp_path, data: bytes):
    """A read-write descriptor of a new file holding ``data``, closed on exit."""
    path = tmp_path / "f"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDWR)
    try:
        yield fd
    finally:
        os.close(fd)


def test_mapped_file_views_survive_truncation_and_close(tmp_path):
    page = PAGE
    with open_file(tmp_path, b"x" * (3 * page)) as fd:
        m = native.MappedFile(fd, 10 * page)
        view = memoryview(m)[: 3 * page]
        assert m.exported >= 1 and view[2 * page] == ord("x")
        m.detach_tail(page)
        os.ftruncate(fd, page)
        # the cut-off pages now read as zeros instead of faulting
        assert view[2 * page] == 0 and view[page - 1] == ord("x")
        m.close()
        assert view[0] == ord("x")     # still mapped while the view lives
        view.release()
        with pytest.raises(ValueError):
            memoryview(m)


def test_a_view_held_across_a_truncation_keeps_the_bytes_it_was_taken_with(tmp_path):
    # a Fetch response still being written from a view of the segment must send what it was built
    # with, even when the file is cut under it and grows again over the same positions
    page = PAGE
    old = bytes(range(256)) * (3 * page // 256) + b"tail"
    with open_file(tmp_path, old) as fd:
        m = native.MappedFile(fd, 10 * page)
        view = memoryview(m)[page // 2: len(old)]
        cut = page + 100                       # inside the second page
        m.detach_tail(cut, len(old))
        os.ftruncate(fd, cut)
        os.lseek(fd, cut, os.SEEK_SET)
        os.write(fd, b"\xee" * (2 * page))    # the file grows again over the cut-off positions
        assert bytes(view) == old[page // 2:]
        m.close()
        assert bytes(view) == old[page // 2:]  # still mapped, still the old bytes, while the view lives
        view.release()
        # a new mapping reads the file as it is now
        fresh = native.MappedFile(fd, cut + 2 * page)
        assert bytes(memoryview(fresh)[cut - 4:cut + 4]) == old[cut - 4:cut] + b"\xee" * 4
        fresh.close()


def test_a_truncation_with_no_view_held_copies_nothing_and_drops_pages_safely(tmp_path):
    page = PAGE
    with open_file(tmp_path, b"y" * (4 * page)) as fd:
        m = native.MappedFile(fd, 4 * page)
        m.detach_tail(page, 4 * page)          # no view: nothing to keep, the tail reads zeros
        os.ftruncate(fd, page)
        view = memoryview(m)
        assert view[page - 1] == ord("y") and view[3 * page] == 0
        m.release_pages()                      # only the file-backed pages are dropped
        assert view[0] == ord("y") and view[2 * page] == 0
        view.release()
        m.close()


def test_native_segment_appends_only_once_configured(tmp_path):
    from kraft.core.log import LogAppendInfo
    from kraft.storage.segment import LogSegment

    segment = LogSegment.create(tmp_path, 10)
    data = bytearray(b"".join(batches(2)))
    with pytest.raises(ValueError, match="set_append_limits"):
        segment.append_batches(data, True, 3, -1, True)
    starts = []
    segment.set_append_limits(2**31 - 1, 10**9, 0, True, lambda: 0, LogAppendInfo,
                              lambda *start: starts.append(start))
    assert segment.append_batches(data, True, 3, -1, True) == LogAppendInfo(10, 13)
    assert starts == [(3, 10)] and segment.next_offset == 14 and segment.size == len(data)
    # a full segment asks for a roll and writes nothing
    segment.set_append_limits(len(data) + 10, 10**9, 0, True, lambda: 0, LogAppendInfo, None)
    assert segment.append_batches(data, True, 3, 3, False) is None
    assert segment.size == len(data) and os.path.getsize(segment.path) == len(data)
    segment.close()
    with pytest.raises(ValueError, match="closed"):
        segment.append_batches(data, True, 3, 3, False)


def test_a_view_of_a_mapping_replaced_by_a_longer_one_keeps_its_bytes_across_a_truncation(tmp_path):
    """A segment mapped at its size (no reserve) is remapped when it grows; a view of the first
    mapping (a Fetch response still being written) must read the bytes it was taken with after a
    truncation below it, as a view of the current mapping does, not fault on the cut file."""
    from kraft.core.log import LogAppendInfo
    from kraft.storage.segment import LogSegment

    page = os.sysconf("SC_PAGE_SIZE")
    segment = LogSegment.create(tmp_path, 0)
    segment.set_append_limits(2**31 - 1, 10**9, 0, True, lambda: 0, LogAppendInfo, lambda *start: None)
    first = bytearray(b"".join(batches(4)))
    segment.append_batches(first, True, 1, -1, True)
    old_view = segment.read(0, 1 << 30)             # maps the segment at its present size
    taken = bytes(old_view)
    while segment.size < 4 * page:                  # grow well past that mapping: a new, longer one
        segment.append_batches(bytearray(b"".join(batches(4))), True, 1, 1, False)
    assert bytes(segment.read(0, 1 << 30)[:len(taken)]) == taken
    segment.truncate_to(1)                          # cut inside the first mapping's bytes
    assert segment.size < len(taken)
    assert bytes(old_view) == taken
    old_view.release()
    segment.close()
