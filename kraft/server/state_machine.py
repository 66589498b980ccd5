"""A replicated state machine on a :class:`~kraft.server.raft_manager.RaftManager`, snapshots included.

The application supplies three methods::

    class Counter:
        def __init__(self):
            self.total = 0
        def apply(self, record: bytes) -> None:     # every committed record, in log order, once
            self.total += int(record)
        def snapshot(self) -> bytes:                # the whole state
            return str(self.total).encode()
        def restore(self, data: bytes) -> None:     # replace the state with a snapshot's
            self.total = int(data)

    runner = node.run_state_machine(Counter())      # before or after node.start()

kraft then does the bookkeeping Kafka's controller does for its metadata
image: it feeds ``apply`` the committed records; writes a snapshot (the
bytes of ``snapshot()``, between Kafka's SnapshotHeader and SnapshotFooter,
with the id of the last applied batch: its end offset and epoch) once
``metadata.log.max.record.bytes.between.snapshots`` bytes of batches were
committed since the last one (20 MiB by default) or once
``metadata.log.max.snapshot.interval.ms`` has passed with something
committed (1 h; 0 turns the time trigger off); and, on start or when the
node fell behind the leader's log start, calls ``restore`` with the latest
snapshot before feeding the records after it.  The log's retention then
deletes the segments that snapshots cover.

``snapshot()`` and ``apply()`` run on the event loop between the node's
rounds: keep them short (a large state is best snapshotted from a copy).  A
state machine may also define ``leader_changed(leader_and_epoch)``.
"""
from __future__ import annotations

import logging
from typing import Callable, Protocol

from kraft.server.snapshot_trigger import SnapshotTrigger, snapshot_name

__all__ = ["StateMachine", "StateMachineRunner", "SNAPSHOT_CHUNK_BYTES"]

log = logging.getLogger("kraft.state_machine")

#: A snapshot's state is written as records of at most this many bytes (batches hold 8 MiB).
SNAPSHOT_CHUNK_BYTES = 1 << 20


class StateMachine(Protocol):
    def apply(self, record: bytes) -> None:
        """Apply one committed record."""
        ...

    def snapshot(self) -> bytes:
        """The whole state, as ``restore`` takes it back."""
        ...

    def restore(self, data: bytes) -> None:
        """Replace the state with the one ``snapshot`` returned."""
        ...


class StateMachineRunner:
    """The listener that drives a :class:`StateMachine` and snapshots it (see the module)."""

    def __init__(self, manager, machine: StateMachine, *, max_bytes_between_snapshots: int,
                 snapshot_interval_ms: int, clock: Callable[[], int]):
        self.trigger = SnapshotTrigger(manager, max_bytes_between_snapshots=max_bytes_between_snapshots,
                                       max_interval_ms=snapshot_interval_ms, clock=clock)
        self.manager = manager
        self.machine = machine
        #: the end offset of the last batch applied (or of the snapshot restored)
        self.applied_offset = 0
        self.snapshots_restored = 0

    @property
    def snapshots_written(self) -> int:
        return self.trigger.snapshots_written

    # ------------------------------------------------------------- listener
    def handle_commit(self, batches: list) -> None:
        for batch in batches:
            for record in batch.records:
                self.machine.apply(bytes(record))
            self.applied_offset = batch.last_offset + 1
            if self.trigger.applied(batch):
                self.maybe_snapshot()

    def handle_load_snapshot(self, reader) -> None:
        chunks = []
        for batch in reader.record_batches():
            if batch.is_control:
                continue
            for record in batch:
                if record.value is not None:
                    chunks.append(bytes(record.value))
        self.machine.restore(b"".join(chunks))
        self.applied_offset = reader.snapshot_id.offset
        self.snapshots_restored += 1
        self.trigger.restarted()
        log.info("Restored the state from snapshot %s", snapshot_name(reader.snapshot_id))

    def handle_leader_change(self, leader) -> None:
        changed = getattr(self.machine, "leader_changed", None)
        if changed is not None:
            changed(leader)

    def begin_shutdown(self) -> None:
        pass

    # ------------------------------------------------------------ snapshots
    def maybe_snapshot(self, force: bool = False) -> bool:
        """Snapshot the state if enough bytes or time went by since the last one (or ``force``
        and something was applied since); True if a snapshot was written."""
        size = 0

        def chunks():
            nonlocal size
            data = memoryview(self.machine.snapshot())
            size = len(data)
            return (data[start:start + SNAPSHOT_CHUNK_BYTES] for start in range(0, size, SNAPSHOT_CHUNK_BYTES))

        snapshot_id = self.trigger.maybe_write(chunks, force=force)
        if snapshot_id is None:
            return False
        log.info("Wrote snapshot %s (%d bytes of state)", snapshot_name(snapshot_id), size)
        return True
