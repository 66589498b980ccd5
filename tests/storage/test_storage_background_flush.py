"""FileReplicatedLog.begin_background_flush / complete_background_flush: what the driver's flush
thread makes durable, and when its claim no longer holds."""
from __future__ import annotations

import os

import pytest

from batchgen import batches
from kraft.storage import FileReplicatedLog
from kraft.storage.errors import StorageError


def append(log, count, epoch=3):
    log.append_as_follower(b"".join(batches(count, records_per_batch=2, value_size=50, epoch=epoch,
                                            base_offset=log.end_offset)), epoch)


def test_a_background_flush_covers_the_end_it_began_at_while_appends_go_on(tmp_path):
    with FileReplicatedLog.open(tmp_path / "log") as log:
        append(log, 2)
        flushed = log.last_flushed_offset
        pending = log.begin_background_flush()
        assert pending is not None and pending.end_offset == log.end_offset > flushed
        covered = log.end_offset
        append(log, 3)                     # into the page cache while the fsync would run
        os.fsync(pending.fd)               # what the flush thread does
        log.complete_background_flush(pending)
        assert log.last_flushed_offset == covered < log.end_offset
        with pytest.raises(OSError):
            os.fstat(pending.fd)           # the duplicate descriptor is closed
        second = log.begin_background_flush()
        os.fsync(second.fd)
        log.complete_background_flush(second)
        assert log.last_flushed_offset == log.end_offset
        assert log.begin_background_flush() is None      # nothing left to flush


def test_a_truncation_meanwhile_voids_the_flush(tmp_path):
    with FileReplicatedLog.open(tmp_path / "log") as log:
        append(log, 2)
        log.flush()
        base = log.end_offset
        append(log, 2)
        pending = log.begin_background_flush()
        log.truncate_to(base)
        append(log, 3, epoch=4)            # other batches at the offsets the flush covered
        os.fsync(pending.fd)
        log.complete_background_flush(pending)
        assert log.last_flushed_offset == base


def test_a_failed_fsync_fails_the_log(tmp_path):
    with FileReplicatedLog.open(tmp_path / "log") as log:
        append(log, 1)
        pending = log.begin_background_flush()
        with pytest.raises(StorageError, match="fsync failed"):
            log.complete_background_flush(pending, OSError(5, "Input/output error"))
        with pytest.raises(StorageError):
            append(log, 1)
