"""The leader's batch accumulator (Kafka's ``BatchAccumulator``), clock passed in.

Appends are grouped into batches of at most ``max_batch_size`` bytes.  The
first append into an empty accumulator arms a linger timer
(``controller.quorum.append.linger.ms``); when it expires the leader drains
every completed batch and the one being filled.  An atomic append puts all
its records in one batch; a plain append may spread them over several.
A batch's ``size_in_bytes`` is the length of the record batch v2 the driver
writes for it, summed from :func:`kraft.records.sizes.record_size` as Kafka's
``BatchBuilder`` sums ``DefaultRecord.sizeInBytes``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

from kraft.core.effects import LeaderBatch
from kraft.core.errors import (
    InvalidEpochError, RecordBatchTooLargeError, StaleEpochError, UnexpectedBaseOffsetError,
)
from kraft.records.constants import KRAFT_MAX_BATCH_SIZE, RECORD_BATCH_OVERHEAD
from kraft.records.sizes import record_size


@dataclass
class _OpenBatch:
    base_offset: int
    append_time_ms: int
    records: list = field(default_factory=list)
    size: int = RECORD_BATCH_OVERHEAD


class BatchAccumulator:
    def __init__(self, epoch: int, base_offset: int, linger_ms: int, max_batch_size: int = KRAFT_MAX_BATCH_SIZE):
        self.epoch = epoch
        self.next_offset = base_offset
        self.linger_ms = linger_ms
        self.max_batch_size = max_batch_size
        self._completed: list[LeaderBatch] = []
        self._current: Optional[_OpenBatch] = None
        self._drain_deadline_ms: Optional[int] = None

    def _check_epoch(self, epoch: int) -> None:
        if epoch < self.epoch:
            raise StaleEpochError(f"append in epoch {epoch}, but the leader's epoch is {self.epoch}")
        if epoch > self.epoch:
            raise InvalidEpochError(f"append in epoch {epoch}, newer than the leader's epoch {self.epoch}")

    def _complete_current(self) -> None:
        if self._current is not None and self._current.records:
            c = self._current
            self._completed.append(LeaderBatch(c.base_offset, self.epoch, c.append_time_ms,
                                               tuple(c.records), None, c.size))
        self._current = None

    def _arm(self, now: int) -> None:
        if self._drain_deadline_ms is None:
            self._drain_deadline_ms = now + self.linger_ms

    def append(self, epoch: int, records: Sequence[bytes], now: int, *, atomic: bool = False,
               required_base_offset: Optional[int] = None) -> int:
        """Queue ``records``; returns the offset the last one will get."""
        self._check_epoch(epoch)
        records = [r if type(r) is bytes else bytes(r) for r in records]
        if not records:
            raise ValueError("an append needs at least one record")
        if required_base_offset is not None and required_base_offset != self.next_offset:
            raise UnexpectedBaseOffsetError(
                f"required base offset {required_base_offset}, but the next offset is {self.next_offset}")
        if atomic:
            size = RECORD_BATCH_OVERHEAD + sum(record_size(i, len(r)) for i, r in enumerate(records))
            if size > self.max_batch_size:
                raise RecordBatchTooLargeError(
                    f"{len(records)} records need {size} bytes, more than the batch limit {self.max_batch_size}")
            current = self._current
            if current is not None:
                extra = sum(record_size(len(current.records) + i, len(r)) for i, r in enumerate(records))
                if current.size + extra > self.max_batch_size:
                    self._complete_current()
            for r in records:
                self._add(r, now)
        else:
            self._add_spread(records, now)
        self._arm(now)
        return self.next_offset - 1

    def _add(self, record: bytes, now: int) -> None:
        if self._current is None:
            self._current = _OpenBatch(self.next_offset, now)
        self._current.size += record_size(len(self._current.records), len(record))
        self._current.records.append(record)
        self.next_offset += 1

    def _add_spread(self, records: list, now: int) -> None:
        """Add a plain append, starting a new batch whenever the next record does not fit
        (the hot path of the leader)."""
        limit = self.max_batch_size
        lone_limit = limit - RECORD_BATCH_OVERHEAD
        if max(map(len, records)) + 20 > lone_limit:  # checked first: all or nothing
            for r in records:
                if record_size(0, len(r)) > lone_limit:
                    raise RecordBatchTooLargeError(
                        f"a record of {len(r)} bytes does not fit in a batch of {limit}")
        current = self._current
        size = current.size if current is not None else 0
        delta = len(current.records) if current is not None else 0
        start = 0
        for i, r in enumerate(records):
            rs = record_size(delta, len(r))
            if current is None or size + rs > limit:
                if current is not None:
                    current.records.extend(records[start:i])
                    current.size = size
                    self._complete_current()
                current = self._current = _OpenBatch(self.next_offset + i, now)
                start = i
                size = RECORD_BATCH_OVERHEAD
                delta = 0
                rs = record_size(0, len(r))
            size += rs
            delta += 1
        current.records.extend(records[start:])
        current.size = size
        self.next_offset += len(records)

    def append_control(self, epoch: int, control_records: tuple, size: int, now: int) -> int:
        """Queue control records in a batch of their own after everything queued, due now
        (Kafka's ``appendControlMessages``, e.g. a Voters record); returns the first one's offset."""
        self._check_epoch(epoch)
        self._complete_current()
        offset = self.next_offset
        batch = LeaderBatch(offset, self.epoch, now, (), None, size, control_records=tuple(control_records))
        self._completed.append(batch)
        self.next_offset = batch.last_offset + 1
        self._drain_deadline_ms = now
        return offset

    def time_until_drain_ms(self, now: int) -> Optional[int]:
        """0 when a drain is due, the remaining linger otherwise, ``None`` when empty."""
        if self._drain_deadline_ms is None:
            return None
        return max(0, self._drain_deadline_ms - now)

    def drain(self) -> list[LeaderBatch]:
        """Every completed batch plus the one being filled, in offset order."""
        self._complete_current()
        batches, self._completed = self._completed, []
        self._drain_deadline_ms = None
        return batches

    def is_empty(self) -> bool:
        return not self._completed and (self._current is None or not self._current.records)
