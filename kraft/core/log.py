"""The log as the Raft core sees it: value types and the ``ReplicatedLog`` contract.

Modelled on Kafka's ``org.apache.kafka.raft.ReplicatedLog``, in Python's
conventions.  ``kraft.storage`` implements it on disk; the simulator has an
in-memory implementation.  The core only *reads* through this interface while
it handles an event; every change to the log (append, truncate, flush,
snapshot deletion) leaves the core as an effect that the driver applies, in
order, before the next event.

Offsets are Kafka's: ``end_offset`` is the offset the next record will get
(the log end offset, LEO); ``start_offset`` the first offset still held.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional, Protocol, Union, runtime_checkable

Buffer = Union[bytes, bytearray, memoryview]


@dataclass(frozen=True, order=True)
class OffsetAndEpoch:
    """An (offset, epoch) pair; also a snapshot id (end offset, epoch)."""

    offset: int
    epoch: int

    def __str__(self) -> str:
        return f"OffsetAndEpoch(offset={self.offset}, epoch={self.epoch})"


#: The id of a bootstrap checkpoint (``kafka-storage format`` with a voter set): local state
#: only, never sent to followers (Kafka 3.9.0's ``Snapshots.BOOTSTRAP_SNAPSHOT_ID``).
BOOTSTRAP_SNAPSHOT_ID = OffsetAndEpoch(0, 0)


class ValidationKind(enum.Enum):
    VALID = "valid"
    DIVERGING = "diverging"
    SNAPSHOT = "snapshot"


@dataclass(frozen=True)
class ValidOffsetAndEpoch:
    """The answer of :meth:`ReplicatedLog.validate_offset_and_epoch`.

    For ``DIVERGING`` ``offset_and_epoch`` is the end of the largest common
    epoch; for ``SNAPSHOT`` it is the latest snapshot id; for ``VALID`` it is
    the pair that was validated.
    """

    kind: ValidationKind
    offset_and_epoch: OffsetAndEpoch


@dataclass(frozen=True)
class LogAppendInfo:
    first_offset: int
    last_offset: int


@dataclass(frozen=True)
class LogFetchInfo:
    """Batch-aligned bytes read from the log, without copying where possible."""

    records: Buffer
    start_offset: int


@runtime_checkable
class RawSnapshotReader(Protocol):
    snapshot_id: OffsetAndEpoch

    def size_in_bytes(self) -> int: ...

    def read(self, position: int, max_bytes: int) -> Buffer:
        """Up to ``max_bytes`` of the file from ``position`` (may cut a batch)."""
        ...

    def records(self) -> Buffer: ...


@runtime_checkable
class RawSnapshotWriter(Protocol):
    snapshot_id: OffsetAndEpoch

    def size_in_bytes(self) -> int: ...

    def append(self, records: Buffer) -> None:
        """Append whole batches (or, while downloading, raw bytes in order)."""
        ...

    def freeze(self) -> None:
        """Validate, fsync and atomically publish the snapshot."""
        ...

    def close(self) -> None:
        """Abandon the snapshot if it was not frozen."""
        ...


@runtime_checkable
class ReplicatedLog(Protocol):
    # --- reading -----------------------------------------------------------
    @property
    def start_offset(self) -> int: ...

    @property
    def end_offset(self) -> int: ...

    @property
    def high_watermark(self) -> int: ...

    @property
    def last_flushed_offset(self) -> int: ...

    def last_fetched_epoch(self) -> int:
        """Epoch of the last batch in the log, else of the latest snapshot, else 0."""
        ...

    def end_offset_for_epoch(self, epoch: int) -> OffsetAndEpoch:
        """Kafka's epoch-cache lookup: the end of the largest epoch <= ``epoch``."""
        ...

    def validate_offset_and_epoch(self, offset: int, epoch: int) -> ValidOffsetAndEpoch: ...

    def read(self, start_offset: int, max_bytes: int) -> LogFetchInfo: ...

    # --- writing (applied by the driver) ------------------------------------
    def append_as_leader(self, records: Buffer, epoch: int) -> LogAppendInfo:
        """Append whole batches, assigning offsets from ``end_offset`` and
        stamping ``epoch`` as their partition leader epoch."""
        ...

    def append_as_follower(self, records: Buffer, epoch: int) -> LogAppendInfo:
        """Append fetched batches as they are; offsets must continue the log
        and epochs must never go back."""
        ...

    def truncate_to(self, offset: int) -> None: ...

    def truncate_to_end_offset(self, end: OffsetAndEpoch) -> int:
        """Follower truncation after a DivergingEpoch answer; returns the new end."""
        ...

    def update_high_watermark(self, offset: int) -> None: ...

    def initialize_leader_epoch(self, epoch: int) -> None: ...

    def flush(self, force_flush_active_segment: bool = False) -> None: ...

    # --- snapshots ------------------------------------------------------------
    def latest_snapshot_id(self) -> Optional[OffsetAndEpoch]: ...

    def earliest_snapshot_id(self) -> Optional[OffsetAndEpoch]: ...

    def read_snapshot(self, snapshot_id: OffsetAndEpoch) -> Optional[RawSnapshotReader]: ...

    def create_new_snapshot(self, snapshot_id: OffsetAndEpoch) -> Optional[RawSnapshotWriter]: ...

    def on_snapshot_frozen(self, snapshot_id: OffsetAndEpoch) -> None: ...

    def delete_before_snapshot(self, snapshot_id: OffsetAndEpoch) -> bool: ...

    def truncate_to_latest_snapshot(self) -> bool: ...

    def maybe_clean(self) -> bool:
        """Kafka's ``maybeClean``: apply the retention limits to the snapshots, oldest
        first, moving the log start to each successor snapshot that replaces one
        over the limits (never past the high watermark; the latest snapshot always
        stays); returns whether anything was deleted."""
        ...

    def close(self) -> None: ...
