"""The test server's state machine and its snapshots, as Kafka's controller takes them.

Kafka's own test server never snapshots, so its log grows without bound.
Here every node keeps a trivial state — how many data records are committed
— and, like Kafka's controller (``SnapshotGenerator``), writes a snapshot of it
once ``metadata.log.max.record.bytes.between.snapshots`` bytes of batches have
been committed since the last one, or once
``metadata.log.max.snapshot.interval.ms`` has passed with something committed
(0 turns the time trigger off).  The snapshot's id is the end offset and epoch
of the last committed batch; it holds one data record, the count as a
big-endian int64, between Kafka's SnapshotHeader and SnapshotFooter.

Committed bytes are counted exactly as Kafka's controller counts them: the
``size_in_bytes`` of every committed batch, data and control alike, which is
its size as a record batch v2 in the log (the 61-byte header and the
records), whether the batch was read back from disk or handed over from the
leader's memory.

A node that catches up through FetchSnapshot loads the state from the
snapshot (:meth:`TestServerState.load_snapshot`).  Retention (deleting
segments wholly covered by the latest snapshot) is the log's, applied by the
node's driver.
"""
from __future__ import annotations

import logging
import struct
from typing import Callable

from kraft.errors import KraftError
from kraft.server.snapshot_trigger import SnapshotTrigger, snapshot_name

log = logging.getLogger("kraft.snapshots")

_COUNT = struct.Struct(">q")


class SnapshotStateError(KraftError):
    """A snapshot that does not hold the test server's state record."""


class TestServerState:
    """Committed data records, and a snapshot of that count when one is due."""

    __test__ = False  # not a pytest test class despite its name

    def __init__(self, client, *, max_bytes_between_snapshots: int, max_interval_ms: int,
                 clock: Callable[[], int]):
        self.trigger = SnapshotTrigger(client, max_bytes_between_snapshots=max_bytes_between_snapshots,
                                       max_interval_ms=max_interval_ms, clock=clock)
        self.client = client
        self.committed_records = 0

    @property
    def snapshots_written(self) -> int:
        return self.trigger.snapshots_written

    def apply(self, batches: list) -> None:
        """Apply committed batches one by one, writing a snapshot after any batch that makes one
        due (as Kafka's controller decides after publishing each batch)."""
        for batch in batches:
            self.committed_records += len(batch.records)
            if self.trigger.applied(batch):
                self.maybe_snapshot()

    def load_snapshot(self, reader) -> None:
        """Replace the state with the one in ``reader`` (a raw snapshot reader)."""
        count = None
        for batch in reader.record_batches():
            if batch.is_control:
                continue
            for record in batch:
                if record.value is None or len(record.value) != _COUNT.size:
                    raise SnapshotStateError(f"snapshot {reader.snapshot_id} holds a record that is not "
                                             f"the test server's state")
                count = _COUNT.unpack(record.value)[0]
        if count is None:
            if (reader.snapshot_id.offset, reader.snapshot_id.epoch) != (0, 0):
                raise SnapshotStateError(f"snapshot {reader.snapshot_id} holds no state record")
            count = 0  # the bootstrap checkpoint of a formatted directory (kraft-storage format): no state yet
        self.committed_records = count
        self.trigger.restarted()
        log.info("Loaded snapshot %s: %d committed records", snapshot_name(reader.snapshot_id), count)

    def maybe_snapshot(self) -> bool:
        """Write a snapshot if enough bytes or time have gone by; True if one was written."""
        count = self.committed_records
        snapshot_id = self.trigger.maybe_write(lambda: [_COUNT.pack(count)])
        if snapshot_id is None:
            return False
        log.info("Wrote snapshot %s: %d committed records", snapshot_name(snapshot_id), count)
        return True
