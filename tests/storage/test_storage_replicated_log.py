"""FileReplicatedLog: appends, reads, truncation, epochs, segments, snapshots, reopen."""
import errno
import logging
import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from batchgen import batches, build_batch, snapshot_bytes
from kraft._native.segment import scan_batches
from kraft.core.log import LogAppendInfo, OffsetAndEpoch, ReplicatedLog, ValidationKind
from kraft.storage import (
    FileReplicatedLog,
    FlushPolicy,
    InvalidAppendError,
    LogConfig,
    OffsetOutOfRangeError,
    StorageError,
)
from kraft.storage.segment import LogSegment


class Clock:
    def __init__(self, now=1_700_000_000_000):
        self.now = now

    def __call__(self):
        return self.now


def open_log(path, clock=None, **config):
    return FileReplicatedLog.open(path, LogConfig(**config), clock or Clock())


def decode_offsets(view):
    """(base offset, last offset, epoch) of each batch in a read."""
    out, pos, data = [], 0, bytes(view)
    while pos < len(data):
        base, length, epoch = struct.unpack_from(">qii", data, pos)
        delta = struct.unpack_from(">i", data, pos + 23)[0]
        out.append((base, base + delta, epoch))
        pos += length + 12
    return out


def read_all(log):
    got, pos = b"", log.start_offset
    while pos < log.end_offset:
        chunk = log.read(pos, 1 << 30).records
        got += bytes(chunk)
        pos = decode_offsets(chunk)[-1][1] + 1
    return got


def test_is_a_replicated_log(tmp_path):
    with open_log(tmp_path) as log:
        assert isinstance(log, ReplicatedLog)
        assert (log.start_offset, log.end_offset, log.high_watermark) == (0, 0, 0)
        assert log.last_fetched_epoch() == 0
        assert (tmp_path / "00000000000000000000.log").exists()


def test_leader_append_assigns_offsets_and_stamps_epoch(tmp_path):
    with open_log(tmp_path) as log:
        info = log.append_as_leader(b"".join(batches(3, epoch=0, base_offset=77)), epoch=2)
        assert (info.first_offset, info.last_offset) == (0, 5)
        info = log.append_as_leader(batches(1)[0], epoch=4)
        assert (info.first_offset, info.last_offset) == (6, 7)
        assert log.end_offset == 8 and log.last_fetched_epoch() == 4
        fetched = log.read(0, 1 << 20)
        assert isinstance(fetched.records, memoryview)
        assert decode_offsets(fetched.records) == [(0, 1, 2), (2, 3, 2), (4, 5, 2), (6, 7, 4)]
        assert (tmp_path / "leader-epoch-checkpoint").read_text() == "0\n2\n2 0\n4 6\n"
        with pytest.raises(InvalidAppendError):
            log.append_as_leader(batches(1)[0], epoch=3)
        assert log.end_offset == 8


def test_follower_append_validates_offsets_and_epochs(tmp_path):
    with open_log(tmp_path) as log:
        log.append_as_follower(b"".join(batches(2, epoch=1)), epoch=1)
        assert log.end_offset == 4
        with pytest.raises(InvalidAppendError, match="expected 4"):
            log.append_as_follower(batches(1, base_offset=5, epoch=1)[0], epoch=1)
        with pytest.raises(InvalidAppendError, match="below"):
            log.append_as_follower(batches(1, base_offset=4, epoch=0)[0], epoch=1)
        with pytest.raises(InvalidAppendError, match="empty"):
            log.append_as_follower(b"", epoch=1)
        corrupt = bytearray(batches(1, base_offset=4, epoch=1)[0])
        corrupt[-1] ^= 1
        with pytest.raises(InvalidAppendError, match="CRC"):
            log.append_as_follower(bytes(corrupt), epoch=1)
        assert log.end_offset == 4
        log.append_as_follower(batches(1, base_offset=4, epoch=3)[0], epoch=3)
        assert log.end_offset_for_epoch(1) == OffsetAndEpoch(4, 1)
        assert log.end_offset_for_epoch(2) == OffsetAndEpoch(4, 1)
        assert log.end_offset_for_epoch(3) == OffsetAndEpoch(6, 3)


def test_read_is_batch_aligned_and_bounded(tmp_path):
    with open_log(tmp_path) as log:
        bs = batches(10, epoch=1)
        log.append_as_follower(b"".join(bs), 1)
        size = len(bs[0])
        r = log.read(5, 2 * size)
        assert r.start_offset == 5
        assert decode_offsets(r.records) == [(4, 5, 1), (6, 7, 1)]
        assert decode_offsets(log.read(5, 1).records) == [(4, 5, 1)]   # at least one batch
        assert len(log.read(20, 100).records) == 0
        with pytest.raises(OffsetOutOfRangeError):
            log.read(21, 100)


def test_segments_roll_by_size_and_age_and_reads_cross_them(tmp_path):
    clock = Clock()
    bs = batches(12, epoch=1)
    size = len(bs[0])
    with open_log(tmp_path, clock, segment_bytes=4 * size, segment_ms=1000) as log:
        for b in bs[:8]:
            log.append_as_follower(b, 1)
        assert [s.base_offset for s in log.segments] == [0, 8]
        # segment 8 began with a batch stamped t; one stamped t + 1001 rolls it
        log.append_as_follower(build_batch([b"x", b"y"], 16, 1, 1_700_000_000_000 + 4 + 1001), 1)
        assert [s.base_offset for s in log.segments] == [0, 8, 16]
        for b in batches(3, base_offset=18, epoch=1):
            log.append_as_follower(b, 1)
        offsets = [o[0] for o in decode_offsets(read_all(log))]
        assert offsets == list(range(0, 24, 2))
    names = sorted(os.listdir(tmp_path))
    for base in (0, 8, 16):
        for suffix in (".log", ".index", ".timeindex"):
            assert f"{base:020d}{suffix}" in names


def test_empty_timestamps_roll_by_wall_clock(tmp_path):
    clock = Clock()
    with open_log(tmp_path, clock, segment_ms=1000) as log:
        log.append_as_follower(build_batch([b"x"], 0, 1, -1), 1)
        log.append_as_follower(build_batch([b"x"], 1, 1, -1), 1)
        assert len(log.segments) == 1
        clock.now += 1001
        log.append_as_follower(build_batch([b"x"], 2, 1, -1), 1)
        assert [s.base_offset for s in log.segments] == [0, 2]


def test_index_files_have_kafkas_entries(tmp_path):
    bs = batches(30, records_per_batch=1, value_size=500, epoch=1)
    size = len(bs[0])
    # LogSegment.append: entry (last offset, start position) once > interval bytes since the last
    expected, since = [], 0
    for i in range(30):
        if since > 1024:
            expected.append((i, i * size))
            since = 0
        since += size
    index = tmp_path / "00000000000000000000.index"
    tindex = tmp_path / "00000000000000000000.timeindex"
    with open_log(tmp_path, index_interval_bytes=1024) as log:
        for b in bs:
            log.append_as_follower(b, 1)
    for reopened in (False, True):
        # written on close; rebuilt identically by the recovery scan on open
        entries = [struct.unpack_from(">ii", index.read_bytes(), i)
                   for i in range(0, index.stat().st_size, 8)]
        assert entries == expected, reopened
        raw = tindex.read_bytes()
        ts = [struct.unpack_from(">qi", raw, i) for i in range(0, len(raw), 12)]
        assert len(ts) == len(expected) + 1          # plus the segment's max timestamp
        assert all(a[0] < b[0] for a, b in zip(ts, ts[1:]))
        assert ts[-1] == (1_700_000_000_000 + 29, 29)
        with open_log(tmp_path, index_interval_bytes=1024) as log:
            for offset in range(30):
                assert decode_offsets(log.read(offset, 1).records)[0][0] == offset


def test_truncation_and_high_watermark(tmp_path):
    bs = batches(6, epoch=1)
    with open_log(tmp_path, segment_bytes=2 * len(bs[0])) as log:
        for b in bs[:3]:
            log.append_as_follower(b, 1)
        for b in batches(3, base_offset=6, epoch=2):
            log.append_as_follower(b, 2)
        assert [s.base_offset for s in log.segments] == [0, 4, 8]
        log.update_high_watermark(3)
        assert log.high_watermark == 3
        with pytest.raises(ValueError):
            log.truncate_to(2)
        log.truncate_to(5)                 # whole batches: [4, 5] goes
        assert log.end_offset == 4 and log.last_fetched_epoch() == 1
        assert [s.base_offset for s in log.segments] == [0, 4]
        log.update_high_watermark(100)
        assert log.high_watermark == 4     # clamped to the end
        log.append_as_follower(batches(1, base_offset=4, epoch=3)[0], 3)
        assert log.end_offset_for_epoch(2) == OffsetAndEpoch(4, 1)
    with open_log(tmp_path) as log:
        assert log.end_offset == 6 and log.last_fetched_epoch() == 3


def test_truncate_to_end_offset_and_validate(tmp_path):
    with open_log(tmp_path) as log:
        log.append_as_follower(b"".join(batches(2, epoch=1)), 1)                 # 0-3 @1
        log.append_as_follower(b"".join(batches(2, base_offset=4, epoch=3)), 3)  # 4-7 @3
        assert log.validate_offset_and_epoch(0, 0).kind is ValidationKind.VALID
        assert log.validate_offset_and_epoch(4, 1).kind is ValidationKind.VALID
        v = log.validate_offset_and_epoch(6, 2)
        assert (v.kind, v.offset_and_epoch) == (ValidationKind.DIVERGING, OffsetAndEpoch(4, 1))
        v = log.validate_offset_and_epoch(9, 3)
        assert (v.kind, v.offset_and_epoch) == (ValidationKind.DIVERGING, OffsetAndEpoch(8, 3))
        assert log.truncate_to_end_offset(OffsetAndEpoch(5, 2)) == 4
        assert log.end_offset == 4


def test_initialize_leader_epoch(tmp_path):
    with open_log(tmp_path) as log:
        log.append_as_follower(batches(1, epoch=1)[0], 1)
        log.initialize_leader_epoch(5)
        assert log.last_fetched_epoch() == 5
        assert log.end_offset_for_epoch(1) == OffsetAndEpoch(2, 1)
        log.append_as_leader(batches(1)[0], 5)
        assert log.end_offset_for_epoch(5) == OffsetAndEpoch(4, 5)


def test_flush_policies(tmp_path):
    clock = Clock()
    with open_log(tmp_path / "a", clock, flush_policy=FlushPolicy.every_append()) as log:
        log.append_as_leader(batches(1)[0], 1)
        assert log.last_flushed_offset == 2
    with open_log(tmp_path / "b", clock, flush_policy=FlushPolicy.never()) as log:
        log.append_as_leader(batches(1)[0], 1)
        assert log.last_flushed_offset == 0
        log.flush()
        assert log.last_flushed_offset == 2
        clock.now += 10**6
        log.append_as_leader(batches(1)[0], 1)
        assert not log.maybe_flush()          # never: only the caller flushes
    with open_log(tmp_path / "c", clock, flush_policy=FlushPolicy.every(100)) as log:
        log.append_as_leader(batches(1)[0], 1)
        assert log.last_flushed_offset == 0
        clock.now += 100
        log.append_as_leader(batches(1)[0], 1)
        assert log.last_flushed_offset == 4
        log.append_as_leader(batches(1)[0], 1)
        clock.now += 99
        assert not log.maybe_flush() and log.last_flushed_offset == 4
        clock.now += 1
        assert log.maybe_flush() and log.last_flushed_offset == 6
        clock.now += 1000
        assert not log.maybe_flush()          # nothing left to flush
    with pytest.raises(ValueError):
        FlushPolicy.every(-1)


def _write_snapshot(log, snapshot_id, groups=((b"a", b"b"),)):
    writer = log.create_new_snapshot_checked(snapshot_id)
    writer.append(snapshot_bytes([list(g) for g in groups], epoch=snapshot_id.epoch))
    writer.freeze()
    return writer


def test_snapshots_and_delete_before(tmp_path):
    bs = batches(10, epoch=1)
    with open_log(tmp_path, segment_bytes=2 * len(bs[0])) as log:
        for b in bs:                                             # offsets 0..19, 2 batches/segment
            log.append_as_follower(b, 1)
        log.update_high_watermark(20)
        with pytest.raises(ValueError):
            log.create_new_snapshot_checked(OffsetAndEpoch(21, 1))
        _write_snapshot(log, OffsetAndEpoch(6, 1))
        _write_snapshot(log, OffsetAndEpoch(12, 1))
        assert log.create_new_snapshot(OffsetAndEpoch(12, 1)) is None   # exists
        assert log.create_new_snapshot_checked(OffsetAndEpoch(12, 1)) is None
        assert log.snapshot_ids() == [OffsetAndEpoch(6, 1), OffsetAndEpoch(12, 1)]
        assert log.earliest_snapshot_id() == OffsetAndEpoch(6, 1)
        assert log.latest_snapshot_id() == OffsetAndEpoch(12, 1)
        assert (tmp_path / "00000000000000000012-0000000001.checkpoint").exists()
        reader = log.read_snapshot(OffsetAndEpoch(12, 1))
        assert bytes(reader.records()) == snapshot_bytes([[b"a", b"b"]], epoch=1)
        assert not log.delete_before_snapshot(OffsetAndEpoch(7, 1))          # not a snapshot
        assert log.delete_before_snapshot(OffsetAndEpoch(12, 1))
        assert log.start_offset == 12
        assert [s.base_offset for s in log.segments] == [12, 16]
        assert log.snapshot_ids() == [OffsetAndEpoch(12, 1)]
        assert not (tmp_path / "00000000000000000006-0000000001.checkpoint").exists()
        with pytest.raises(OffsetOutOfRangeError):
            log.read(11, 100)
        v = log.validate_offset_and_epoch(10, 1)
        assert (v.kind, v.offset_and_epoch) == (ValidationKind.SNAPSHOT, OffsetAndEpoch(12, 1))
        assert log.validate_offset_and_epoch(12, 1).kind is ValidationKind.VALID
    with open_log(tmp_path) as log:
        assert log.start_offset == 12 and log.end_offset == 20
        assert log.snapshot_ids() == [OffsetAndEpoch(12, 1)]


def test_truncate_to_latest_snapshot_on_open(tmp_path):
    with open_log(tmp_path) as log:
        log.append_as_follower(b"".join(batches(2, epoch=1)), 1)
        writer = log.create_new_snapshot(OffsetAndEpoch(50, 3))   # downloaded
        writer.append(snapshot_bytes([[b"x"]], epoch=3))
        writer.freeze()
        assert log.truncate_to_latest_snapshot()
        assert (log.start_offset, log.end_offset) == (50, 50)
        assert log.last_fetched_epoch() == 3
        assert log.end_offset_for_epoch(3) == OffsetAndEpoch(50, 3)
        log.append_as_follower(batches(1, base_offset=50, epoch=3)[0], 3)
    with open_log(tmp_path) as log:
        assert (log.start_offset, log.end_offset) == (50, 52)


def test_a_log_found_behind_the_latest_snapshot_restarts_there_and_says_so(tmp_path, caplog):
    with open_log(tmp_path) as log:
        log.append_as_follower(b"".join(batches(2, epoch=1)), 1)
        writer = log.create_new_snapshot(OffsetAndEpoch(50, 3))   # downloaded, then a crash
        writer.append(snapshot_bytes([[b"x"]], epoch=3))
        writer.freeze()
    with caplog.at_level(logging.WARNING), open_log(tmp_path) as log:
        assert (log.start_offset, log.end_offset) == (50, 50)
    [line] = [r.getMessage() for r in caplog.records]
    assert "the log [0, 4) is behind the latest snapshot" in line and "start at offset 50 (recovery)" in line


def test_a_log_stopped_right_after_installing_a_snapshot_reopens_without_a_warning(tmp_path, caplog):
    # seen in test_each_implementation_recovers_the_others_directory: a Kafka follower stopped just
    # after its FetchSnapshot, and kraft warned that the empty log [1559, 1559) was behind snapshot 1559
    with open_log(tmp_path) as log:
        log.append_as_follower(b"".join(batches(2, epoch=1)), 1)
        writer = log.create_new_snapshot(OffsetAndEpoch(50, 3))
        writer.append(snapshot_bytes([[b"x"]], epoch=3))
        writer.freeze()
        assert log.truncate_to_latest_snapshot()
    with caplog.at_level(logging.WARNING), open_log(tmp_path) as log:
        assert (log.start_offset, log.end_offset) == (50, 50)
        log.append_as_follower(batches(1, base_offset=50, epoch=3)[0], 3)
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_reopen_recovers_state(tmp_path):
    with open_log(tmp_path, segment_bytes=300) as log:
        for e in (1, 1, 2, 4):
            log.append_as_leader(b"".join(batches(2)), e)
        end = log.end_offset
        data = read_all(log)
        assert len(log.segments) > 1
    with open_log(tmp_path) as log:
        assert log.end_offset == end
        assert log.last_fetched_epoch() == 4
        assert log.end_offset_for_epoch(2) == OffsetAndEpoch(8 + 4, 2)
        assert read_all(log) == data


def test_missing_or_corrupt_indexes_are_rebuilt(tmp_path):
    bs = batches(50, records_per_batch=1, value_size=400, epoch=1)
    with open_log(tmp_path) as log:
        for b in bs:
            log.append_as_follower(b, 1)
    index = tmp_path / "00000000000000000000.index"
    good = index.read_bytes()
    assert good
    index.write_bytes(b"\xff" * 13)
    (tmp_path / "00000000000000000000.timeindex").unlink()
    (tmp_path / "leader-epoch-checkpoint").write_text("garbage")
    with open_log(tmp_path) as log:
        assert index.read_bytes() == good
        assert (tmp_path / "00000000000000000000.timeindex").exists()
        assert log.last_fetched_epoch() == 1
        assert decode_offsets(log.read(33, 1).records)[0][0] == 33
    assert (tmp_path / "leader-epoch-checkpoint").read_text() == "0\n1\n1 0\n"


def test_corrupt_middle_segment_drops_what_follows(tmp_path):
    bs = batches(6, epoch=1)
    with open_log(tmp_path, segment_bytes=2 * len(bs[0])) as log:
        for b in bs:
            log.append_as_follower(b, 1)
        assert len(log.segments) == 3
    seg = tmp_path / "00000000000000000004.log"
    data = bytearray(seg.read_bytes())
    data[-1] ^= 1
    seg.write_bytes(bytes(data))
    with open_log(tmp_path) as log:
        assert log.end_offset == 6
        assert [s.base_offset for s in log.segments] == [0, 4]
        assert not (tmp_path / "00000000000000000008.log").exists()


def test_corrupt_snapshot_stops_the_open(tmp_path):
    with open_log(tmp_path) as log:
        log.append_as_follower(b"".join(batches(2, epoch=1)), 1)
        log.update_high_watermark(4)
        _write_snapshot(log, OffsetAndEpoch(4, 1))
    path = tmp_path / "00000000000000000004-0000000001.checkpoint"
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[70] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StorageError) as info:
        open_log(tmp_path)
    assert str(path) in str(info.value)


def test_partial_and_deleted_snapshots_are_removed_on_open(tmp_path):
    (tmp_path / "00000000000000000004-0000000001-123.checkpoint.part").write_bytes(b"x")
    (tmp_path / "00000000000000000002-0000000001.checkpoint.deleted").write_bytes(b"x")
    with open_log(tmp_path) as log:
        assert log.snapshot_ids() == []
    assert sorted(p.name for p in tmp_path.iterdir() if "checkpoint" in p.name and "leader" not in p.name) == []


def test_log_start_without_snapshot_is_an_error(tmp_path):
    LogSegment.create(tmp_path, 10).close()
    with pytest.raises(StorageError, match="no snapshot"):
        open_log(tmp_path)


class _FailingWrite:
    """os.write that writes ``allow`` bytes, then fails like a full disk."""

    def __init__(self, allow):
        self.allow = allow

    def __call__(self, fd, data):
        if self.allow <= 0:
            raise OSError(28, "No space left on device")
        n = os.write(fd, data[: self.allow])
        self.allow -= n
        return n


@pytest.mark.parametrize("allow", [0, 1, 60, 150])
def test_disk_full_surfaces_and_leaves_the_log_consistent(tmp_path, monkeypatch, allow):
    with open_log(tmp_path) as log:
        log.append_as_leader(b"".join(batches(2)), 1)
        before = bytes(log.read(0, 1 << 20).records)
        monkeypatch.setattr(log.segments[-1], "write_fn", _FailingWrite(allow))
        with pytest.raises(OSError) as info:
            log.append_as_leader(b"".join(batches(2)), 2)
        assert info.value.errno == 28
        assert log.end_offset == 4 and log.last_fetched_epoch() == 1
        assert bytes(log.read(0, 1 << 20).records) == before
        monkeypatch.undo()
        log.append_as_leader(batches(1)[0], 2)
        assert log.end_offset == 6
    assert scan_batches((tmp_path / "00000000000000000000.log").read_bytes()).error is None


def test_a_failing_write_system_call_surfaces_and_is_cut_back(tmp_path):
    """The native write path against a real kernel error: a file size limit
    (RLIMIT_FSIZE, SIGXFSZ ignored) makes write(2) stop part way, then fail."""
    import resource
    import signal

    with open_log(tmp_path) as log:
        log.append_as_leader(b"".join(batches(2)), 1)
        before = bytes(log.read(0, 1 << 20).records)
        batch = bytearray(batches(1, value_size=3000)[0])
        old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) + 100, old_limit[1]))
        try:
            with pytest.raises(OSError) as info:
                log.append_as_leader(batch, 2)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
            signal.signal(signal.SIGXFSZ, old_handler)
        assert info.value.errno == errno.EFBIG
        assert (tmp_path / "00000000000000000000.log").stat().st_size == len(before)
        assert log.end_offset == 4 and log.last_fetched_epoch() == 1
        assert bytes(log.read(0, 1 << 20).records) == before
        assert log.append_as_leader(batch, 2) == LogAppendInfo(4, 5)
    assert scan_batches((tmp_path / "00000000000000000000.log").read_bytes()).error is None


def test_append_info_is_the_cores_type(tmp_path):
    with open_log(tmp_path) as log:
        info = log.append_as_follower(batches(1, epoch=1)[0], 1)
        assert type(info) is LogAppendInfo and info == LogAppendInfo(0, 1)
        assert hash(info) == hash(LogAppendInfo(0, 1)) and repr(info) == repr(LogAppendInfo(0, 1))
        with pytest.raises(AttributeError):
            info.first_offset = 3


def test_views_stay_readable_after_truncation(tmp_path):
    with open_log(tmp_path) as log:
        log.append_as_leader(b"".join(batches(400, value_size=100)), 1)
        view = log.read(0, 1 << 30).records
        size = len(view)
        log.truncate_to(2)
        # bytes past the cut read as zeros, never a fault
        assert len(view) == size and view[size - 1] == 0
        assert view[0:8] == struct.pack(">q", 0)


def test_closed_log_refuses_changes(tmp_path):
    log = open_log(tmp_path)
    log.close()
    with pytest.raises(StorageError):
        log.append_as_leader(batches(1)[0], 1)


def test_appends_after_reopen_go_to_the_end(tmp_path):
    with open_log(tmp_path) as log:
        log.append_as_leader(batches(1)[0], 1)
    with open_log(tmp_path) as log:
        log.append_as_leader(batches(1)[0], 1)
        data = read_all(log)
    with open_log(tmp_path) as log:
        assert log.end_offset == 4
        assert [o[0] for o in decode_offsets(read_all(log))] == [0, 2]
        assert read_all(log) == data


def test_leader_crc_check_can_be_skipped_but_follower_never(tmp_path):
    corrupt = bytearray(batches(1)[0])
    corrupt[-1] ^= 1
    with open_log(tmp_path / "a") as log:
        with pytest.raises(InvalidAppendError, match="CRC"):
            log.append_as_leader(bytes(corrupt), 1)
    with open_log(tmp_path / "b", verify_leader_crc=False) as log:
        log.append_as_leader(bytes(corrupt), 1)
        assert log.end_offset == 2
        with pytest.raises(InvalidAppendError, match="CRC"):
            log.append_as_follower(build_batch([b"x"], 2, 1)[:-1] + b"\x01", 1)


def test_failed_fsync_makes_the_log_read_only(tmp_path, monkeypatch):
    log = open_log(tmp_path)
    log.append_as_leader(batches(1)[0], 1)

    def failing_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StorageError, match="fsync failed"):
        log.flush()
    monkeypatch.undo()
    assert log.last_flushed_offset == 0
    with pytest.raises(StorageError, match="read-only"):
        log.append_as_leader(batches(1)[0], 1)
    with pytest.raises(StorageError):
        log.truncate_to(0)
    assert decode_offsets(log.read(0, 100).records) == [(0, 1, 1)]     # still readable
    log.close()


def test_epoch_checkpoint_write_error_does_not_fail_the_append(tmp_path, monkeypatch):
    import kraft.storage.epoch_cache as epoch_cache

    def no_space(path, data):
        raise OSError(28, "No space left on device")

    with open_log(tmp_path) as log:
        monkeypatch.setattr(epoch_cache, "atomic_write", no_space)
        info = log.append_as_leader(batches(1)[0], 3)
        assert (info.first_offset, log.last_fetched_epoch()) == (0, 3)
        monkeypatch.undo()
    with open_log(tmp_path) as log:
        assert log.last_fetched_epoch() == 3
        assert (tmp_path / "leader-epoch-checkpoint").read_text() == "0\n1\n3 0\n"


def test_kafka_side_files_are_ignored_and_cleaned_with_their_segment(tmp_path):
    bs = batches(4, epoch=1)
    with open_log(tmp_path, segment_bytes=2 * len(bs[0])) as log:
        for b in bs:
            log.append_as_follower(b, 1)
    # what Kafka leaves beside its segments: producer-state snapshots, a partition.metadata
    producer_state = bytes.fromhex("000148674bc700000000")
    (tmp_path / "00000000000000000004.snapshot").write_bytes(producer_state)
    (tmp_path / "partition.metadata").write_text("version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAg")
    (tmp_path / "00000000000000000002.log.deleted").write_bytes(b"old")
    with open_log(tmp_path) as log:
        assert log.end_offset == 8
        log.truncate_to(3)
        assert [s.base_offset for s in log.segments] == [0] and log.end_offset == 2
    names = set(os.listdir(tmp_path))
    assert "00000000000000000004.snapshot" not in names and "00000000000000000004.log" not in names
    assert "partition.metadata" in names and "00000000000000000002.log.deleted" not in names


def test_kafkas_batches_are_stored_byte_for_byte(tmp_path):
    from conftest import load_jsonl

    vectors = [v for v in load_jsonl("records.jsonl") if v["type"] == "batch"]
    for i, v in enumerate(vectors):
        raw = bytes.fromhex(v["hex"])
        b = v["batch"]
        epoch = max(b["partition_leader_epoch"], 0)
        # as leader: offsets from 0 and the epoch are stamped; at Kafka's own values
        # the stored bytes are Kafka's bytes
        with open_log(tmp_path / f"leader{i}") as log:
            log.append_as_leader(raw, epoch)
            stored = bytes(log.read(0, 1 << 20).records)
        expected = bytearray(raw)
        expected[0:8] = struct.pack(">q", 0)
        expected[12:16] = struct.pack(">i", epoch)
        assert stored == bytes(expected), v["name"]
        if b["base_offset"] == 0 and b["partition_leader_epoch"] >= 0:
            assert stored == raw
        # as follower: stored exactly as fetched
        if b["base_offset"] == 0:
            with open_log(tmp_path / f"follower{i}") as log:
                log.append_as_follower(raw, epoch)
                assert bytes(log.read(0, 1 << 20).records) == raw


@pytest.mark.parametrize("kwargs", [dict(segment_bytes=10), dict(segment_bytes=2**31),
                                    dict(segment_ms=0), dict(max_batch_size=10),
                                    dict(index_interval_bytes=-1)])
def test_invalid_config(kwargs):
    with pytest.raises(ValueError):
        LogConfig(**kwargs)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, 10**6), value=st.integers(0, 255), as_leader=st.booleans(),
       cut=st.integers(0, 10**6))
def test_fuzz_mutated_appends_leave_the_log_valid(tmp_path_factory, position, value, as_leader, cut):
    """A mutated or cut append either goes in whole or raises InvalidAppendError
    and changes nothing; the segment file always scans clean."""
    directory = tmp_path_factory.mktemp("fuzz")
    with open_log(directory, segment_bytes=300) as log:
        log.append_as_follower(b"".join(batches(2, epoch=1)), 1)
        before = (log.end_offset, read_all(log))
        data = bytearray(b"".join(batches(3, epoch=1, base_offset=4)))
        data[position % len(data)] = value
        if cut % 3 == 0:
            del data[len(data) - cut % 40:]
        append = log.append_as_leader if as_leader else log.append_as_follower
        try:
            info = append(data, 1)
        except InvalidAppendError:
            assert (log.end_offset, read_all(log)) == before
        else:
            assert info.first_offset == 4 and log.end_offset == info.last_offset + 1
    for segment_file in sorted(directory.glob("*.log")):
        assert scan_batches(segment_file.read_bytes()).error is None


def test_opening_fsyncs_the_recovered_active_segment_before_calling_it_flushed(tmp_path, monkeypatch):
    """Data a crash left only in the page cache is made durable when the log opens, since the
    log then counts everything it recovered as flushed."""
    import kraft.storage.segment as segment_module
    log = open_log(tmp_path, segment_bytes=1024)
    for _ in range(30):
        log.append_as_leader(batches(1)[0], epoch=1)   # rolls: the last segment is the active one
    active = log.segments[-1].path
    log.close()
    synced = []
    real_fsync = segment_module.os.fsync
    monkeypatch.setattr(segment_module.os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")),
                                                                real_fsync(fd)))
    reopened = open_log(tmp_path, segment_bytes=1024)
    assert len(reopened.segments) > 1 and str(active) in synced
    assert reopened.last_flushed_offset == reopened.end_offset
    reopened.close()
