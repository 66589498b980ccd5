"""When to snapshot: Kafka's controller rule, shared by the embedding API and the test server.

A snapshot is due once ``metadata.log.max.record.bytes.between.snapshots``
bytes of committed batches (each batch's ``size_in_bytes``, control batches
included) have been applied since the last one, or once
``metadata.log.max.snapshot.interval.ms`` has gone by with something applied
(0 turns the time trigger off).  Its id is the end offset and epoch of the
last applied batch.  The owner supplies the bytes to write; this class keeps
the counts, asks the client for a writer and writes them in chunks.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterable, Optional

from kraft.core.log import OffsetAndEpoch
from kraft.errors import KraftError

log = logging.getLogger("kraft.snapshots")


class SnapshotTrigger:
    """Counts applied batches and writes a snapshot when one is due."""

    def __init__(self, client, *, max_bytes_between_snapshots: int, max_interval_ms: int,
                 clock: Callable[[], int]):
        if max_bytes_between_snapshots < 1 or max_interval_ms < 0:
            raise ValueError("snapshot limits must be positive (the interval may be 0: no time trigger)")
        self.client = client
        self.max_bytes = max_bytes_between_snapshots
        self.max_interval_ms = max_interval_ms
        self.clock = clock
        self.snapshots_written = 0
        self._last: Optional[tuple[int, int, int]] = None  # end offset, epoch, append time of the last batch
        self._bytes_since = 0
        self._last_snapshot_ms = clock()

    def applied(self, batch) -> bool:
        """Count one applied batch; True when a snapshot may be due (the owner then calls ``maybe_write``)."""
        self._bytes_since += batch.size_in_bytes
        self._last = (batch.last_offset + 1, batch.epoch, batch.append_time_ms)
        return self._bytes_since >= self.max_bytes or self.max_interval_ms > 0

    def restarted(self) -> None:
        """The state was replaced by a snapshot's: nothing is applied since."""
        self._last = None
        self._bytes_since = 0
        self._last_snapshot_ms = self.clock()

    def maybe_write(self, chunks: Callable[[], Iterable], *, force: bool = False) -> Optional[OffsetAndEpoch]:
        """Write a snapshot of ``chunks()`` (records' values) if one is due, or if ``force`` and
        something was applied since the last; returns its id, or None when none was written."""
        if self._last is None or self._bytes_since == 0:
            return None
        now = self.clock()
        due = force or self._bytes_since >= self.max_bytes or (
            self.max_interval_ms > 0 and now - self._last_snapshot_ms >= self.max_interval_ms)
        if not due:
            return None
        offset, epoch, append_time = self._last
        snapshot_id = OffsetAndEpoch(offset, epoch)
        self._bytes_since = 0
        self._last_snapshot_ms = now
        try:
            writer = self.client.create_snapshot(snapshot_id, append_time)
        except (ValueError, KraftError) as e:
            log.warning("Cannot snapshot at %s: %s", snapshot_name(snapshot_id), e)
            return None
        if writer is None:  # exists already, or below the log start (a newer snapshot was loaded)
            return None
        try:
            for chunk in chunks():
                writer.append([chunk])
            writer.freeze()
        finally:
            writer.close()
        self.snapshots_written += 1
        return snapshot_id


def snapshot_name(snapshot_id: OffsetAndEpoch) -> str:
    return f"(end offset {snapshot_id.offset}, epoch {snapshot_id.epoch})"
