"""The leader's batch accumulator (Kafka's ``BatchAccumulator``), clock passed in.

Appends are grouped into batches of at most ``max_batch_size`` bytes.  The
first append into an empty accumulator arms a linger timer
(``controller.quorum.append.linger.ms``); when it expires the leader drains
every completed batch and the one being filled.  An atomic append puts all
its records in one batch; a plain append may spread them over several.
Record sizes are computed exactly as Kafka writes raft data records (null
key, timestamp delta 0, no headers), so a batch's ``size_in_bytes`` is the
length of the record batch v2 the driver writes for it.
:func:`control_batch_size` gives the same for a LeaderChange control batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

from kraft.core.batches import BATCH_HEADER_SIZE, MAX_BATCH_SIZE_BYTES
from kraft.core.effects import LeaderBatch, LeaderChangeMessage
from kraft.core.errors import (
    InvalidEpochError, RecordBatchTooLargeError, StaleEpochError, UnexpectedBaseOffsetError,
)


def _varint_size(value: int) -> int:
    """Bytes of a zig-zag varint (Kafka's ``ByteUtils.sizeOfVarint``)."""
    zigzag = (value << 1) ^ (value >> 63)
    return (zigzag.bit_length() + 6) // 7 or 1


def _small_varint_size(value: int) -> int:
    """``_varint_size`` for 0 <= value < 2**31, as a few comparisons (the hot path)."""
    if value < 64:
        return 1
    if value < 8192:
        return 2
    if value < 1048576:
        return 3
    if value < 134217728:
        return 4
    return 5


def record_size(offset_delta: int, value: bytes) -> int:
    """Bytes of one v2 record with a null key, zero timestamp delta and no headers."""
    # attributes, timestamp delta, offset delta, key length (-1), value length, value, header count
    body = 1 + 1 + _varint_size(offset_delta) + 1 + _varint_size(len(value)) + len(value) + 1
    return _varint_size(body) + body


def records_size(values: Sequence[bytes]) -> int:
    """Bytes of ``values`` as consecutive records from offset delta 0: the sum of
    :func:`record_size` over them, worked out per distinct value length."""
    total = 0
    bases: dict = {}
    for delta, value in enumerate(values):
        n = len(value)
        base = bases.get(n)
        if base is None:
            base = bases[n] = 4 + _small_varint_size(n) + n
        body = base + (1 if delta < 64 else _small_varint_size(delta))
        total += body + (1 if body < 64 else _small_varint_size(body))
    return total


def _unsigned_varint_size(value: int) -> int:
    """Bytes of an unsigned varint (a compact array's length + 1)."""
    return (value.bit_length() + 6) // 7 or 1


def control_batch_size(change: LeaderChangeMessage) -> int:
    """Bytes of the control batch holding ``change``, as Kafka's raft layer writes it.

    One record with the 4-byte control key (int16 version 0, int16 type 2)
    and, as value, the LeaderChangeMessage encoded at version 0 (flexible:
    int16 version, int32 leader id, two compact arrays of voters, each voter
    an int32 id and an empty tagged-field section, then the message's own
    empty tagged-field section).
    """
    voters, granting = len(change.voters), len(change.granting_voters)
    value = (2 + 4 + _unsigned_varint_size(voters + 1) + 5 * voters
             + _unsigned_varint_size(granting + 1) + 5 * granting + 1)
    # attributes, timestamp delta 0, offset delta 0, key length 4, key, value length, value, header count
    body = 1 + 1 + 1 + 1 + 4 + _varint_size(value) + value + 1
    return BATCH_HEADER_SIZE + _varint_size(body) + body


@dataclass
class _OpenBatch:
    base_offset: int
    append_time_ms: int
    records: list = field(default_factory=list)
    size: int = BATCH_HEADER_SIZE


class BatchAccumulator:
    def __init__(self, epoch: int, base_offset: int, linger_ms: int, max_batch_size: int = MAX_BATCH_SIZE_BYTES):
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
            size = BATCH_HEADER_SIZE + sum(record_size(i, r) for i, r in enumerate(records))
            if size > self.max_batch_size:
                raise RecordBatchTooLargeError(
                    f"{len(records)} records need {size} bytes, more than the batch limit {self.max_batch_size}")
            current = self._current
            if current is not None:
                extra = sum(record_size(len(current.records) + i, r) for i, r in enumerate(records))
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
        self._current.size += record_size(len(self._current.records), record)
        self._current.records.append(record)
        self.next_offset += 1

    def _add_spread(self, records: list, now: int) -> None:
        """Add a plain append, starting a new batch whenever the next record does not fit.

        The hot path of the leader: one pass with the record size worked out
        inline (the value-length part is cached per length, since a workload
        usually appends values of one size).
        """
        limit = self.max_batch_size
        lone_limit = limit - BATCH_HEADER_SIZE
        if max(map(len, records)) + 20 > lone_limit:  # checked first: all or nothing
            for r in records:
                if record_size(0, r) > lone_limit:
                    raise RecordBatchTooLargeError(
                        f"a record of {len(r)} bytes does not fit in a batch of {limit}")
        bases: dict = {}
        current = self._current
        size = current.size if current is not None else 0
        delta = len(current.records) if current is not None else 0
        start = 0
        for i, r in enumerate(records):
            n = len(r)
            base = bases.get(n)
            if base is None:
                base = bases[n] = 4 + _small_varint_size(n) + n
            body = base + (1 if delta < 64 else _small_varint_size(delta))
            rs = body + (1 if body < 64 else _small_varint_size(body))
            if current is None or size + rs > limit:
                if current is not None:
                    current.records.extend(records[start:i])
                    current.size = size
                    self._complete_current()
                current = self._current = _OpenBatch(self.next_offset + i, now)
                start = i
                size = BATCH_HEADER_SIZE
                delta = 0
                body = base + 1
                rs = body + (1 if body < 64 else _small_varint_size(body))
            size += rs
            delta += 1
        current.records.extend(records[start:])
        current.size = size
        self.next_offset += len(records)

    def append_control(self, epoch: int, control, size: int, now: int) -> int:
        """Queue one control record in a batch of its own after everything queued, due now
        (Kafka's ``appendControlMessages``); returns its offset."""
        self._check_epoch(epoch)
        self._complete_current()
        offset = self.next_offset
        self._completed.append(LeaderBatch(offset, self.epoch, now, (), control, size))
        self.next_offset += 1
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
