"""An in-memory ``ReplicatedLog``, for tests, the simulator and benchmarks.

It holds Kafka's record batches (v2), the bytes a log on disk holds: the
leader's batches as :func:`encode_batch` (the core's
:func:`~kraft.core.batches.encode_leader_batch`) writes them, read back with
:func:`decode_batches` (:func:`~kraft.core.batches.decode_committed`), both on
the native codec.  Snapshots are whole byte strings held in memory.

``MemoryLog.crash()`` models a process crash: everything after the last
flushed offset is lost and the high watermark is forgotten.
"""
from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass
from typing import Optional

from kraft.core.batches import decode_committed as decode_batches
from kraft.core.batches import encode_leader_batch as encode_batch
from kraft.core.batches import scan_batches
from kraft.core.committed import Batch
from kraft.core.effects import LeaderBatch
from kraft.core.log import (
    Buffer, LogAppendInfo, LogFetchInfo, OffsetAndEpoch, ValidationKind, ValidOffsetAndEpoch,
)
from kraft.errors import CorruptRecordError

__all__ = ["Batch", "LeaderBatch", "MemoryLog", "MemorySnapshot", "decode_batches", "encode_batch"]


@dataclass
class _Stored:
    base_offset: int
    last_offset: int
    epoch: int
    data: bytes


class MemorySnapshot:
    """A snapshot's bytes; also its writer while it is being written or downloaded."""

    def __init__(self, log: "MemoryLog", snapshot_id: OffsetAndEpoch, data: bytes = b"", frozen: bool = False):
        self.snapshot_id = snapshot_id
        self._log = log
        self._data = bytearray(data)
        self._frozen = frozen

    def size_in_bytes(self) -> int:
        return len(self._data)

    def read(self, position: int, max_bytes: int) -> bytes:
        return bytes(self._data[position:position + max_bytes])

    def records(self) -> bytes:
        return bytes(self._data)

    def append(self, records: Buffer) -> None:
        if self._frozen:
            raise ValueError(f"snapshot {self.snapshot_id} is frozen")
        self._data += bytes(records)

    def freeze(self) -> None:
        self._frozen = True
        self._log._snapshots[self.snapshot_id] = bytes(self._data)

    def close(self) -> None:
        pass


class MemoryLog:
    """``ReplicatedLog`` in memory, with whole-log snapshots kept as bytes."""

    def __init__(self, retention_max_bytes: int = 100 * 1024 * 1024) -> None:
        #: Kafka's ``metadata.max.retention.bytes`` (-1: no limit), applied by :meth:`maybe_clean`
        self.retention_max_bytes = retention_max_bytes
        self._batches: list[_Stored] = []
        self._bases: list[int] = []
        self._epochs: list[tuple[int, int]] = []  # (epoch, start offset), ascending
        self._hw = 0
        self._flushed = 0
        self._start = 0
        self._snapshots: dict[OffsetAndEpoch, bytes] = {}

    # ---------------------------------------------------------------- reading
    @property
    def start_offset(self) -> int:
        return self._start

    @property
    def end_offset(self) -> int:
        return self._batches[-1].last_offset + 1 if self._batches else self._start

    @property
    def high_watermark(self) -> int:
        return self._hw

    @property
    def last_flushed_offset(self) -> int:
        return self._flushed

    def last_fetched_epoch(self) -> int:
        """Kafka's ``lastFetchedEpoch``: the epoch cache's latest epoch (an epoch started by
        ``initialize_leader_epoch`` counts before it has batches), else the snapshot's epoch
        when the log is empty at the snapshot, else 0."""
        if self._epochs:
            return self._epochs[-1][0]
        latest = self.latest_snapshot_id()
        if latest is not None and latest.offset == self._start == self.end_offset:
            return latest.epoch
        return 0

    def _cache_end_offset_for(self, epoch: int) -> Optional[OffsetAndEpoch]:
        """Kafka's ``LeaderEpochFileCache.endOffsetFor`` (``None`` for its undefined answer)."""
        epochs = self._epochs
        if epoch < 0:
            return None
        if epochs and epochs[-1][0] == epoch:
            return OffsetAndEpoch(self.end_offset, epoch)
        higher = next(((e, s) for e, s in epochs if e > epoch), None)
        if higher is None:
            return None
        floor = None
        for e, s in epochs:
            if e <= epoch:
                floor = e
        # below the first known epoch: the requested epoch, ending where the log's epochs begin
        return OffsetAndEpoch(higher[1], epoch if floor is None else floor)

    def end_offset_for_epoch(self, epoch: int) -> OffsetAndEpoch:
        """Kafka's ``KafkaMetadataLog.endOffsetForEpoch``."""
        found = self._cache_end_offset_for(epoch)
        if found is None:
            return OffsetAndEpoch(self.end_offset, self.last_fetched_epoch())
        earliest = self.earliest_snapshot_id()
        if earliest is not None and found.offset == earliest.offset and found.epoch == epoch:
            return earliest  # older than the log: the snapshot at the log start stands for it
        return found

    def validate_offset_and_epoch(self, offset: int, epoch: int) -> ValidOffsetAndEpoch:
        if self._start == 0 and offset == 0:
            return ValidOffsetAndEpoch(ValidationKind.VALID, OffsetAndEpoch(0, 0))
        earliest = self.earliest_snapshot_id()
        if earliest is not None and (offset < self._start or (offset == self._start and epoch != earliest.epoch)
                                     or epoch < earliest.epoch):
            return ValidOffsetAndEpoch(ValidationKind.SNAPSHOT, self.latest_snapshot_id())
        end = self.end_offset_for_epoch(epoch)
        if end.epoch != epoch or end.offset < offset:
            return ValidOffsetAndEpoch(ValidationKind.DIVERGING, end)
        return ValidOffsetAndEpoch(ValidationKind.VALID, OffsetAndEpoch(offset, epoch))

    def read(self, start_offset: int, max_bytes: int) -> LogFetchInfo:
        if start_offset < self._start:
            raise ValueError(f"offset {start_offset} is below the log start {self._start}")
        i = bisect.bisect_right(self._bases, start_offset) - 1
        if i < 0 or start_offset >= self.end_offset:
            return LogFetchInfo(b"", start_offset)
        if self._batches[i].base_offset != start_offset:
            raise ValueError(f"offset {start_offset} is not a batch boundary")
        chunks, size = [], 0
        for stored in self._batches[i:]:
            if chunks and size + len(stored.data) > max_bytes:
                break
            chunks.append(stored.data)
            size += len(stored.data)
        return LogFetchInfo(b"".join(chunks), start_offset)

    def read_all(self) -> list[Batch]:
        return decode_batches(b"".join(s.data for s in self._batches))

    # ---------------------------------------------------------------- writing
    def _append(self, records: Buffer, epoch: Optional[int]) -> LogAppendInfo:
        headers, span = scan_batches(records)
        if span != len(records) or not headers:
            raise CorruptRecordError("append needs whole batches")
        view = memoryview(records)
        first = end = self.end_offset
        for h in headers:
            base, last = h.base_offset, h.last_offset
            if epoch is not None:  # as leader: offsets are assigned from the log end
                base, last = end, end + (last - base)
            elif base != end:
                raise CorruptRecordError(f"batch at {base} does not continue the log end {end}")
            batch_epoch = h.epoch if epoch is None else epoch
            if batch_epoch < self.last_fetched_epoch():
                raise CorruptRecordError(f"epoch {batch_epoch} goes back from {self.last_fetched_epoch()}")
            self._assign_epoch(batch_epoch, base)
            if epoch is None:
                data = bytes(view[h.position:h.position + h.size])
            else:
                patched = bytearray(view[h.position:h.position + h.size])
                struct.pack_into(">q", patched, 0, base)
                struct.pack_into(">i", patched, 12, epoch)
                data = bytes(patched)
            self._batches.append(_Stored(base, last, batch_epoch, data))
            self._bases.append(base)
            end = last + 1
        return LogAppendInfo(first, end - 1)

    def append_as_leader(self, records: Buffer, epoch: int) -> LogAppendInfo:
        return self._append(records, epoch)

    def append_as_follower(self, records: Buffer, epoch: int) -> LogAppendInfo:
        return self._append(records, None)

    def truncate_to(self, offset: int) -> None:
        if offset >= self.end_offset:
            return  # nothing to cut: like Kafka, leave the epoch cache alone
        if offset < self._hw:
            raise ValueError(f"cannot truncate to {offset}, below the high watermark {self._hw}")
        keep = bisect.bisect_left(self._bases, offset)
        if keep < len(self._batches) and self._batches[keep].base_offset < offset:
            raise ValueError(f"offset {offset} is inside a batch")
        del self._batches[keep:]
        del self._bases[keep:]
        self._epochs = [(e, s) for e, s in self._epochs if s < self.end_offset]
        self._flushed = min(self._flushed, self.end_offset)

    def _drop_below(self, offset: int) -> None:
        keep = bisect.bisect_left(self._bases, offset)
        del self._batches[:keep]
        del self._bases[:keep]
        self._start = offset
        # Kafka's LeaderEpochFileCache.truncateFromStart: entries below the new start go,
        # except the last of them, which now starts at the new start.
        below = [e for e, s in self._epochs if s <= offset]
        if below:
            self._epochs = [(below[-1], offset)] + [(e, s) for e, s in self._epochs if s > offset]

    def truncate_to_end_offset(self, end: OffsetAndEpoch) -> int:
        if end.epoch == 0:
            target = min(end.offset, self.end_offset)
        else:
            local = self.end_offset_for_epoch(end.epoch)
            target = min(local.offset, end.offset) if local.epoch == end.epoch else local.offset
        self.truncate_to(target)
        return target

    def update_high_watermark(self, offset: int) -> None:
        self._hw = min(offset, self.end_offset)

    def initialize_leader_epoch(self, epoch: int) -> None:
        self._assign_epoch(epoch, self.end_offset)

    def _assign_epoch(self, epoch: int, start: int) -> None:
        """Kafka's ``LeaderEpochFileCache.assign``: a new (epoch, start offset) entry first drops
        every entry that is not strictly below it in both epoch and start offset."""
        if self._epochs:
            last_epoch, last_start = self._epochs[-1]
            if last_epoch == epoch and start >= last_start:
                return
        self._epochs = [(e, s) for e, s in self._epochs if e < epoch and s < start]
        self._epochs.append((epoch, start))

    def flush(self, force_flush_active_segment: bool = False) -> None:
        self._flushed = self.end_offset

    def crash(self) -> None:
        """Lose everything not flushed, and the in-memory high watermark."""
        self._hw = self._start
        keep = bisect.bisect_left(self._bases, self._flushed)
        del self._batches[keep:]
        del self._bases[keep:]
        self._epochs = [(e, s) for e, s in self._epochs if s < self.end_offset]

    # -------------------------------------------------------------- snapshots
    def latest_snapshot_id(self) -> Optional[OffsetAndEpoch]:
        return max(self._snapshots) if self._snapshots else None

    def earliest_snapshot_id(self) -> Optional[OffsetAndEpoch]:
        return min(self._snapshots) if self._snapshots else None

    def read_snapshot(self, snapshot_id: OffsetAndEpoch) -> Optional[MemorySnapshot]:
        data = self._snapshots.get(snapshot_id)
        return None if data is None else MemorySnapshot(self, snapshot_id, data, frozen=True)

    def create_new_snapshot(self, snapshot_id: OffsetAndEpoch) -> Optional[MemorySnapshot]:
        if snapshot_id in self._snapshots:
            return None
        return MemorySnapshot(self, snapshot_id)

    def on_snapshot_frozen(self, snapshot_id: OffsetAndEpoch) -> None:
        pass

    def delete_before_snapshot(self, snapshot_id: OffsetAndEpoch) -> bool:
        """Drop the log below a snapshot at or under the high watermark (and older snapshots)."""
        if snapshot_id not in self._snapshots or snapshot_id.offset > self._hw or snapshot_id.offset <= self._start:
            return False
        self._drop_below(snapshot_id.offset)
        for older in [i for i in self._snapshots if i < snapshot_id]:
            del self._snapshots[older]
        return True

    def truncate_to_latest_snapshot(self) -> bool:
        latest = self.latest_snapshot_id()
        last_epoch = self._batches[-1].epoch if self._batches else 0
        if latest is None or not (latest.epoch > last_epoch or
                                  (latest.epoch == last_epoch and latest.offset > self.end_offset)):
            return False
        self._batches.clear()
        self._bases.clear()
        self._epochs = []
        self._start = latest.offset
        self._flushed = latest.offset
        self._hw = max(self._hw, latest.offset)
        for older in [i for i in self._snapshots if i < latest]:
            del self._snapshots[older]
        return True

    def size_in_bytes(self) -> int:
        return sum(len(s.data) for s in self._batches)

    def maybe_clean(self) -> bool:
        """Kafka's size retention: oldest snapshot first, while the log plus all snapshots
        exceed ``retention_max_bytes`` and the snapshot has a successor, move the log start to
        the successor.  (In-memory snapshots carry no timestamp, so there is no time limit.)"""
        if self.retention_max_bytes < 0:
            return False
        ids = sorted(self._snapshots)
        sizes = {i: len(self._snapshots[i]) for i in ids}
        total = sum(sizes.values())
        cleaned = False
        for older, newer in zip(ids, ids[1:]):
            if self.size_in_bytes() + total <= self.retention_max_bytes:
                break
            total -= sizes[older]
            if not self.delete_before_snapshot(newer):
                break
            cleaned = True
        return cleaned

    def close(self) -> None:
        pass
