"""Retention (Kafka's KafkaMetadataLog.maybeClean) and the ``.deleted`` file protocol."""
import os
from dataclasses import replace

import pytest

from batchgen import batches, build_batch, snapshot_footer, snapshot_header
from kraft.core.log import OffsetAndEpoch
from kraft.storage import FileReplicatedLog, LogConfig

T0 = 1_700_000_000_000


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


def snapshot_with_timestamp(last_contained_ts, epoch=1, values=(b"a", b"b")):
    return (snapshot_header(last_contained_ts, epoch) + build_batch(list(values), 1, epoch)
            + snapshot_footer(1 + len(values), epoch))


def filled_log(path, clock, **config):
    """Offsets 0..19 in 10 batches of epoch 1, two batches per segment, all committed."""
    bs = batches(10, epoch=1)
    log = FileReplicatedLog.open(path, LogConfig(segment_bytes=2 * len(bs[0]), **config), clock)
    for b in bs:
        log.append_as_follower(b, 1)
    log.update_high_watermark(20)
    return log, len(bs[0])


def add_snapshot(log, offset, last_contained_ts=T0, values=(b"a", b"b"), checked=True):
    sid = OffsetAndEpoch(offset, 1)
    writer = (log.create_new_snapshot_checked if checked else log.create_new_snapshot)(sid)
    writer.append(snapshot_with_timestamp(last_contained_ts, 1, values))
    writer.freeze()
    return log.directory / f"{offset:020d}-0000000001.checkpoint"


def names(path):
    return sorted(os.listdir(path))


def test_retention_bytes_deletes_oldest_snapshots_until_under_the_limit(tmp_path):
    clock = Clock()
    log, batch = filled_log(tmp_path, clock, file_delete_delay_ms=0)
    with log:
        paths = [add_snapshot(log, o, values=[b"v" * n] * 3) for o, n in ((4, 10), (8, 20), (12, 30))]
        sizes = [p.stat().st_size for p in paths]
        assert log.size_in_bytes() == 10 * batch
        # after dropping the first snapshot the log holds segments 8, 12 and 16: 6 batches
        log.config = replace(log.config, retention_max_bytes=6 * batch + sizes[1] + sizes[2])
        assert log.maybe_clean()
        assert log.start_offset == 8 and log.snapshot_ids() == [OffsetAndEpoch(8, 1), OffsetAndEpoch(12, 1)]
        assert [s.base_offset for s in log.segments] == [8, 12, 16]
        assert not paths[0].exists() and "00000000000000000004.log" not in names(tmp_path)
        assert not log.maybe_clean()                                  # exactly at the limit
        log.config = replace(log.config, retention_max_bytes=6 * batch + sizes[1] + sizes[2] - 1)
        assert log.maybe_clean()
        assert log.start_offset == 12 and log.snapshot_ids() == [OffsetAndEpoch(12, 1)]
        log.config = replace(log.config, retention_max_bytes=0)
        assert not log.maybe_clean()                                  # the latest always stays
        assert log.snapshot_ids() == [OffsetAndEpoch(12, 1)] and paths[2].exists()


def test_retention_bytes_disabled(tmp_path):
    log, _ = filled_log(tmp_path, Clock(), retention_max_bytes=-1, retention_ms=-1)
    with log:
        add_snapshot(log, 4)
        add_snapshot(log, 8)
        assert not log.maybe_clean()
        assert log.start_offset == 0 and len(log.snapshot_ids()) == 2


def test_retention_ms_uses_last_contained_timestamp(tmp_path):
    clock = Clock(T0 + 10_000)
    log, _ = filled_log(tmp_path, clock, retention_ms=5_000, file_delete_delay_ms=0)
    with log:
        add_snapshot(log, 4, last_contained_ts=T0)           # 10 s old: too old
        add_snapshot(log, 8, last_contained_ts=T0 + 6_000)   # 4 s old: kept
        add_snapshot(log, 12, last_contained_ts=T0)          # too old, but after a kept one
        assert log.maybe_clean()
        assert log.start_offset == 8
        assert log.snapshot_ids() == [OffsetAndEpoch(8, 1), OffsetAndEpoch(12, 1)]
        assert not log.maybe_clean()
        clock.now = T0 + 11_001                               # now the 8 one is too old
        assert log.maybe_clean()
        assert log.snapshot_ids() == [OffsetAndEpoch(12, 1)]
        clock.now = T0 + 10**9
        assert not log.maybe_clean()                          # the latest is never removed
        assert log.snapshot_ids() == [OffsetAndEpoch(12, 1)]


def test_retention_respects_the_high_watermark(tmp_path):
    log, _ = filled_log(tmp_path, Clock(), retention_max_bytes=0, file_delete_delay_ms=0)
    with log:
        add_snapshot(log, 4)
        add_snapshot(log, 16, checked=False)                 # e.g. downloaded, not yet committed here
        log._high_watermark = 10                             # noqa: SLF001 - as a follower that knows less
        assert not log.maybe_clean()
        assert not log.delete_before_snapshot(OffsetAndEpoch(16, 1))
        assert log.start_offset == 0 and len(log.snapshot_ids()) == 2
        log.update_high_watermark(16)
        assert log.maybe_clean()
        assert log.start_offset == 16


def test_deleted_files_are_renamed_then_removed_after_the_delay(tmp_path):
    clock = Clock()
    log, _ = filled_log(tmp_path, clock, file_delete_delay_ms=60_000)
    with log:
        old_view = log.read(0, 100).records
        expected = bytes(old_view)
        snap4 = add_snapshot(log, 4)
        add_snapshot(log, 8)
        reader = log.read_snapshot(OffsetAndEpoch(4, 1))
        snap_view = reader.records()[:40]
        snap_bytes = bytes(snap_view)
        assert log.delete_before_snapshot(OffsetAndEpoch(8, 1))
        marked = {"00000000000000000000.log.deleted", "00000000000000000000.index.deleted",
                  "00000000000000000000.timeindex.deleted", "00000000000000000004.log.deleted",
                  "00000000000000000004.index.deleted", "00000000000000000004.timeindex.deleted",
                  "00000000000000000004-0000000001.checkpoint.deleted"}
        present = set(names(tmp_path))
        assert marked <= present
        assert not snap4.exists() and "00000000000000000000.log" not in present
        # what readers still hold stays readable until the files go
        assert bytes(old_view) == expected and bytes(snap_view) == snap_bytes
        clock.now += 59_999
        assert log.delete_expired_files() == 0
        assert not log.maybe_clean() and marked <= set(names(tmp_path))
        clock.now += 1
        assert log.delete_expired_files() == len(marked)
        assert not marked & set(names(tmp_path))
        assert log.start_offset == 8 and log.read(8, 100).records[:8] == (8).to_bytes(8, "big")
    with FileReplicatedLog.open(tmp_path, LogConfig(), clock) as log:
        assert (log.start_offset, log.end_offset) == (8, 20)


def test_zero_delay_deletes_at_once(tmp_path):
    log, _ = filled_log(tmp_path, Clock(), file_delete_delay_ms=0)
    with log:
        add_snapshot(log, 4)
        add_snapshot(log, 8)
        assert log.delete_before_snapshot(OffsetAndEpoch(8, 1))
        assert not [n for n in names(tmp_path) if n.endswith(".deleted")]


def test_truncation_uses_the_deleted_protocol_and_close_finishes_it(tmp_path):
    log, _ = filled_log(tmp_path, Clock())
    with log:
        log._high_watermark = 0                              # noqa: SLF001 - uncommitted tail
        log.truncate_to(6)
        assert [s.base_offset for s in log.segments] == [0, 4]
        assert {"00000000000000000008.log.deleted", "00000000000000000016.log.deleted"} <= set(names(tmp_path))
    assert not [n for n in names(tmp_path) if n.endswith(".deleted")]


def test_leftovers_of_a_crash_are_removed_on_open(tmp_path):
    clock = Clock()
    crashed, _ = filled_log(tmp_path / "p", clock)
    add_snapshot(crashed, 4)
    add_snapshot(crashed, 8)
    assert crashed.delete_before_snapshot(OffsetAndEpoch(8, 1))
    crashed.flush()
    (tmp_path / "p" / "00000000000000000012-0000000001-99.checkpoint.part").write_bytes(b"half")
    leftovers = [n for n in names(tmp_path / "p") if n.endswith((".deleted", ".part"))]
    assert len(leftovers) == 8
    # the process dies here: nothing is closed; a new process opens the directory
    with FileReplicatedLog.open(tmp_path / "p", LogConfig(), clock) as log:
        assert not [n for n in names(tmp_path / "p") if n.endswith((".deleted", ".part"))]
        assert (log.start_offset, log.end_offset) == (8, 20)
        assert log.snapshot_ids() == [OffsetAndEpoch(8, 1)]
    crashed._close_segments()                                 # noqa: SLF001 - release the fds


@pytest.mark.parametrize("kwargs", [dict(retention_max_bytes=-2), dict(retention_ms=-2),
                                    dict(file_delete_delay_ms=-1)])
def test_invalid_retention_config(kwargs):
    with pytest.raises(ValueError):
        LogConfig(**kwargs)
