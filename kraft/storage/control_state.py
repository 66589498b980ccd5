"""kraft.version and the voter set as the log says them: Kafka's ``KRaftControlRecordStateMachine``.

A quorum formatted with a dynamic voter set (``kafka-storage format
--standalone`` or ``--initial-controllers``, kraft.version 1) keeps its
voters in control records: KRAFT_VERSION (type 5, ``KRaftVersionRecord``)
sets kraft.version from its offset on, KRAFT_VOTERS (type 6,
``VotersRecord``) sets the voter set from its offset on.  The records of a
snapshot count as being at the snapshot's last contained offset (end offset
- 1; -1 for a bootstrap ``0-0`` checkpoint).  kraft.version is 0 where no
record says otherwise.

:class:`KRaftControlState` tracks both over a :class:`FileReplicatedLog`
without touching its append path: :meth:`~KRaftControlState.refresh` (which
every query calls first) reads only the batches appended since it last
looked, skipping data batches by the control bit of their header, and
notices a truncation or a newly installed snapshot by checking that the last
batch it read is still in the log, byte for byte (its base offset, epoch and
CRC).  When that batch is gone it falls back to the newest batch it took a
record from that is still there, or rebuilds from the snapshot the log
continues (the one at the log start offset).

:func:`snapshot_writer_for` starts a snapshot the way Kafka's
``KafkaRaftClient.createSnapshot`` does: its header batch carries the
kraft.version, and the Voters record, in force at the snapshot's last
contained offset, so the voter set survives the deletion of the log prefix.

>>> state = KRaftControlState(log)                                    # doctest: +SKIP
>>> state.last_kraft_version(), state.last_voters()                   # doctest: +SKIP
>>> writer = snapshot_writer_for(state, log.create_new_snapshot_checked(sid), ts, clock)  # doctest: +SKIP
"""
from __future__ import annotations

import bisect
import logging
import struct
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple, Union

from kraft._native.segment import batch_positions
from kraft.core.log import OffsetAndEpoch
from kraft.errors import CorruptRecordError
from kraft.protocol.messages import VotersRecord
from kraft.protocol.uuid import Uuid
from kraft.records import RecordBatch
from kraft.records.constants import KRAFT_MAX_BATCH_SIZE
from kraft.records.control import ControlRecordType, read_control_batch
from kraft.storage.errors import OffsetOutOfRangeError
from kraft.storage.replicated_log import FileReplicatedLog
from kraft.storage.snapshots import (
    MAX_BATCH_SIZE,
    SUPPORTED_KRAFT_VERSIONS,
    FileRawSnapshotWriter,
    RecordsSnapshotWriter,
)

__all__ = [
    "KRaftControlRecordError",
    "KRaftControlState",
    "kafka_voters_record",
    "snapshot_writer_for",
]

log = logging.getLogger(__name__)

#: How much of the log one read covers while scanning (views of the mapped
#: segments; nothing is copied).
SCAN_BYTES = KRAFT_MAX_BATCH_SIZE

# base offset, length, partition leader epoch, magic, CRC, attributes, last offset delta
_BATCH_HEADER = struct.Struct(">qiibIhi")
_CONTROL_ATTRIBUTE_BYTE = 22   # low byte of the attributes; bit 5 is the control flag
_TRACKED = (ControlRecordType.KRAFT_VERSION, ControlRecordType.KRAFT_VOTERS)


class KRaftControlRecordError(CorruptRecordError):
    """A KRaftVersion or Voters control record of the log cannot be used:
    it does not decode, names an unsupported kraft.version, or changes the
    voter set by more than one voter.  ``offset`` is the record's offset."""

    def __init__(self, message: str, offset: int):
        super().__init__(f"{message} (offset {offset})")
        self.offset = offset


@dataclass(frozen=True)
class _BatchId:
    """A log batch as read: enough to tell whether it is still in the log."""

    base_offset: int
    last_offset: int
    epoch: int
    crc: int


def _batch_id(view, position: int = 0) -> _BatchId:
    base, _, epoch, _, crc, _, last_delta = _BATCH_HEADER.unpack_from(view, position)
    return _BatchId(base, base + last_delta, epoch, crc)


@dataclass(frozen=True)
class _Entry:
    offset: int
    value: object
    batch: Optional[_BatchId]   # None: the record came from the snapshot


class _History:
    """Values by the offset they take effect at (Kafka's ``TreeMapLogHistory``)."""

    def __init__(self):
        self.entries: List[_Entry] = []
        self._offsets: List[int] = []

    def add(self, entry: _Entry) -> None:
        self.entries.append(entry)
        self._offsets.append(entry.offset)

    def at_or_before(self, offset: int) -> Optional[_Entry]:
        i = bisect.bisect_right(self._offsets, offset)
        return self.entries[i - 1] if i else None

    def last(self) -> Optional[_Entry]:
        return self.entries[-1] if self.entries else None

    def truncate_after(self, offset: int) -> None:
        """Drop every entry after ``offset``."""
        i = bisect.bisect_right(self._offsets, offset)
        del self.entries[i:], self._offsets[i:]

    def clear(self) -> None:
        self.entries.clear()
        self._offsets.clear()


class KRaftControlState:
    """kraft.version and voter set history of a log: Kafka's ``KRaftControlRecordStateMachine``.

    Built from the snapshot the log continues (the one at its start offset;
    the latest one if none is there) and every control batch of the log
    after it.  Queries refresh first, so they always see the whole log;
    ``offset`` arguments mean "in force at that offset" (the last record at
    or before it), as Kafka's ``kraftVersionAtOffset``/``voterSetAtOffset``.

    Voters records are returned as read (shared with the history: do not
    modify them).  Not thread-safe: use it from the thread that changes the log.
    """

    def __init__(self, replicated_log: FileReplicatedLog):
        self._log = replicated_log
        self._kraft_versions = _History()
        self._voters = _History()
        self._snapshot_id: Optional[OffsetAndEpoch] = None
        self._first_offset = -1                     # the earliest offset the history covers
        self._scan_start = 0
        self._next_offset: Optional[int] = None     # None: never loaded
        self._last_batch: Optional[_BatchId] = None

    # --- queries -------------------------------------------------------------------
    @property
    def next_offset(self) -> int:
        """The offset up to which the log has been read (after a refresh)."""
        self.refresh()
        return self._next_offset

    @property
    def snapshot_id(self) -> Optional[OffsetAndEpoch]:
        """The snapshot the history starts from (``None``: from log offset 0)."""
        self.refresh()
        return self._snapshot_id

    def kraft_version_at(self, offset: int) -> int:
        """The kraft.version in force at ``offset`` (0 if no record says one)."""
        self._check_offset(offset)
        entry = self._kraft_versions.at_or_before(offset)
        return 0 if entry is None else entry.value

    def voters_at(self, offset: int) -> Optional[VotersRecord]:
        """The Voters record in force at ``offset``, or ``None`` (static voters)."""
        self._check_offset(offset)
        entry = self._voters.at_or_before(offset)
        return None if entry is None else entry.value

    def last_kraft_version(self) -> int:
        """The latest kraft.version in the log (committed or not; 0 if none)."""
        self.refresh()
        entry = self._kraft_versions.last()
        return 0 if entry is None else entry.value

    def last_voters(self) -> Optional[VotersRecord]:
        """The latest Voters record in the log (committed or not), or ``None``."""
        self.refresh()
        entry = self._voters.last()
        return None if entry is None else entry.value

    def last_voters_offset(self) -> Optional[int]:
        """The offset of :meth:`last_voters` (-1 for a bootstrap checkpoint's)."""
        self.refresh()
        entry = self._voters.last()
        return None if entry is None else entry.offset

    def _check_offset(self, offset: int) -> None:
        self.refresh()
        if not self._first_offset <= offset < self._next_offset:
            raise OffsetOutOfRangeError(
                f"offset {offset} is outside what the control records of {self._log.directory} "
                f"cover: [{self._first_offset}, {self._next_offset})")

    # --- keeping up with the log ------------------------------------------------------
    def refresh(self) -> None:
        """Read what the log gained since the last refresh, after checking that
        what was read before is still there (rebuilding when it is not)."""
        try:
            if self._next_offset is None or not self._still_valid():
                self._load()
            self._scan()
        except BaseException:
            self._next_offset = None    # half-read: start again at the next refresh
            raise

    def _still_valid(self) -> bool:
        """Whether the history still describes the log; rolls back to the last
        batch still in it when only the log's tail changed."""
        start = self._log.start_offset
        last = self._last_batch
        if last is None:
            return self._seed_for(start) == self._snapshot_id and self._next_offset >= start
        if last.base_offset < start:
            # gone below the log start: retention, or a snapshot replaced the log
            return False
        if self._intact(last):
            return True
        return self._roll_back(start)

    def _intact(self, batch: _BatchId) -> bool:
        if batch.base_offset < self._log.start_offset or batch.last_offset >= self._log.end_offset:
            return False
        view = self._log.read(batch.base_offset, 1).records
        return len(view) >= _BATCH_HEADER.size and _batch_id(view) == batch

    def _roll_back(self, start: int) -> bool:
        """Forget what the lost tail of the log said; ``False`` if the history
        must be rebuilt instead."""
        batches = {e.batch for e in self._voters.entries + self._kraft_versions.entries if e.batch}
        for batch in sorted(batches, key=lambda b: b.base_offset, reverse=True):
            if batch.base_offset < start:
                return False
            if self._intact(batch):
                self._truncate_after(batch.last_offset)
                self._next_offset = batch.last_offset + 1
                self._last_batch = batch
                return True
        if self._scan_start < start or self._seed_for(start) != self._snapshot_id:
            return False
        self._truncate_after(self._scan_start - 1)
        self._next_offset = self._scan_start
        self._last_batch = None
        return True

    def _truncate_after(self, offset: int) -> None:
        log.info("%s: forgetting control records after offset %d (the log was truncated)",
                 self._log.directory, offset)
        self._kraft_versions.truncate_after(offset)
        self._voters.truncate_after(offset)

    def _seed_for(self, start: int) -> Optional[OffsetAndEpoch]:
        """The snapshot a history of the log starts from: the one at the log start
        offset (the newest if several), none when the log starts at 0 without
        one, else the latest snapshot (the log's invariant: it reaches the start)."""
        ids = self._log.snapshot_ids()
        at_start = [s for s in ids if s.offset == start]
        if at_start:
            return at_start[-1]
        if start == 0 or not ids:
            return None
        return ids[-1]

    def _load(self) -> None:
        """Rebuild: the seed snapshot's records, then the log from the snapshot on."""
        self._kraft_versions.clear()
        self._voters.clear()
        self._last_batch = None
        start = self._log.start_offset
        seed = self._seed_for(start)
        reader = None if seed is None else self._log.read_snapshot(seed)
        if reader is None:
            seed = None
            self._scan_start = start
            self._first_offset = start - 1
        else:
            self._scan_start = seed.offset
            self._first_offset = seed.offset - 1
            header = reader.header()
            if header.kraft_version is not None:
                self._add_kraft_version(self._first_offset, header.kraft_version, None)
            if header.voters is not None:
                self._add_voters(self._first_offset, header.voters, None)
            log.info("%s: kraft.version %d and voters %s from snapshot %s",
                     self._log.directory, header.kraft_version or 0,
                     _voter_ids(header.voters), seed)
        self._snapshot_id = seed
        self._next_offset = self._scan_start

    def _scan(self) -> None:
        replicated_log = self._log
        end = replicated_log.end_offset
        while self._next_offset < end:
            first_wanted = self._next_offset
            view = replicated_log.read(first_wanted, SCAN_BYTES).records
            positions, _ = batch_positions(view)
            if not positions:
                break
            for position in positions:
                if view[position + _CONTROL_ATTRIBUTE_BYTE] & 0x20:
                    size = int.from_bytes(view[position + 8:position + 12], "big") + 12
                    self._read_control_batch(view[position:position + size], first_wanted)
            last = _batch_id(view, positions[-1])
            self._last_batch = last
            self._next_offset = last.last_offset + 1

    def _read_control_batch(self, view, first_wanted: int) -> None:
        batch_id = _batch_id(view)
        try:
            batch = RecordBatch(view)
            batch.check_crc()
        except (CorruptRecordError, ValueError) as e:
            raise KRaftControlRecordError(f"unreadable control batch: {e}", batch_id.base_offset) from None
        try:
            records = read_control_batch(batch, _TRACKED)
        except (CorruptRecordError, ValueError) as e:
            offset = getattr(e, "offset", None)
            if offset is None:   # the records themselves, not a control key or value
                raise KRaftControlRecordError(f"unreadable control batch: {e}", batch_id.base_offset) from None
            raise KRaftControlRecordError(str(e), offset) from None
        for offset, record_type, message in records:
            if offset < first_wanted:
                continue   # before the snapshot the log continues
            if record_type is ControlRecordType.KRAFT_VERSION:
                self._add_kraft_version(offset, message.kraft_version, batch_id)
            elif record_type is ControlRecordType.KRAFT_VOTERS:
                self._add_voters(offset, message, batch_id)

    def _add_kraft_version(self, offset: int, kraft_version: int, batch: Optional[_BatchId]) -> None:
        if kraft_version not in SUPPORTED_KRAFT_VERSIONS:
            raise KRaftControlRecordError(f"unsupported kraft.version {kraft_version}", offset)
        self._kraft_versions.add(_Entry(offset, kraft_version, batch))

    def _add_voters(self, offset: int, voters: VotersRecord, batch: Optional[_BatchId]) -> None:
        previous = self._voters.last()
        if previous is not None and previous.offset >= 0 and not _overlapping_majority(previous.value, voters):
            # Kafka's VoterSetHistory.addAt: a voter set read from the log may add
            # or remove at most one voter (bootstrap sets at offset -1 are exempt)
            raise KRaftControlRecordError(
                f"voter set {_voter_ids(voters)} has no overlapping majority with the voter set "
                f"{_voter_ids(previous.value)} at offset {previous.offset}", offset)
        self._voters.add(_Entry(offset, voters, batch))


def _voter_keys(voters: VotersRecord) -> set:
    return {(v.voter_id, None if v.voter_directory_id == Uuid.ZERO else v.voter_directory_id)
            for v in voters.voters}


def _overlapping_majority(old: VotersRecord, new: VotersRecord) -> bool:
    """Kafka's ``VoterSet.hasOverlappingMajority``: at most one voter (id and
    directory id) added and at most one removed."""
    old_keys, new_keys = _voter_keys(old), _voter_keys(new)
    return len(old_keys - new_keys) <= 1 and len(new_keys - old_keys) <= 1


def _voter_ids(voters: Optional[VotersRecord]) -> str:
    if voters is None:
        return "(none)"
    return "[" + ", ".join(str(v.voter_id) for v in voters.voters) + "]"


# --- the Voters record as Kafka writes it -----------------------------------------------
def _java_string_hash(text: str) -> int:
    h = 0
    for unit in struct.unpack(f"<{len(text.encode('utf-16-le')) // 2}H", text.encode("utf-16-le")):
        h = (31 * h + unit) & 0xFFFFFFFF
    return h


def _java_hash_map_order(items: List[Tuple[object, int, object]]) -> List[Tuple[object, object]]:
    """``(key, value)`` in the iteration order of a ``java.util.HashMap`` created
    with ``new HashMap<>(len(items))`` and filled with ``put(key, value)`` in
    order; ``items`` are ``(key, hashCode, value)``.

    Models the table growth (load factor 0.75, and the resize Java does instead
    of making a tree bin while the table is under 64 buckets); a bucket that
    would become a tree (9 or more keys in one bucket of a table of 64 or
    more) keeps insertion order, which Java's tree bins may not.
    """
    wanted = len(items)
    capacity = 1
    while capacity < wanted:
        capacity <<= 1
    threshold = capacity           # the constructor's tableSizeFor(n) until the first put
    table: Optional[List[list]] = None
    values: dict = {}
    size = 0

    def spread(h: int) -> int:
        return h ^ (h >> 16)

    def resize(new_capacity: int) -> List[list]:
        new_table: List[list] = [[] for _ in range(new_capacity)]
        for bucket in table or []:
            for key, h in bucket:
                new_table[spread(h) & (new_capacity - 1)].append((key, h))
        return new_table

    for key, h, value in items:
        h &= 0xFFFFFFFF
        if table is None:
            table = resize(threshold)
            threshold = int(len(table) * 0.75)
        if key in values:
            values[key] = value
            continue
        values[key] = value
        bucket = table[spread(h) & (len(table) - 1)]
        bucket.append((key, h))
        grow = len(bucket) >= 9 and len(table) < 64
        size += 1
        if grow:
            table = resize(len(table) * 2)
            threshold = int(len(table) * 0.75)
        if size > threshold:
            table = resize(len(table) * 2)
            threshold = int(len(table) * 0.75)
    return [(key, values[key]) for bucket in table or [] for key, _ in bucket]


def kafka_voters_record(voters: VotersRecord) -> VotersRecord:
    """The Voters record Kafka writes for the voter set ``voters`` describes.

    Kafka keeps a voter set as maps (``VoterSet.fromVotersRecord``) and writes
    it back with ``toVotersRecord(0)``: voters and each voter's endpoints come
    out in ``HashMap`` order, listener names upper-cased, the last of two
    voters (or endpoints) with one id (or name) wins, version 0, no unknown
    tagged fields.  A record Kafka wrote is already in that form.
    """
    voter_items = []
    for voter in voters.voters:
        endpoint_items = []
        for endpoint in voter.endpoints:
            name = endpoint.name.upper()
            endpoint_items.append((name, _java_string_hash(name), (endpoint.host, endpoint.port)))
        endpoints = [VotersRecord.Endpoint(name=name, host=host, port=port)
                     for name, (host, port) in _java_hash_map_order(endpoint_items)]
        feature = VotersRecord.KRaftVersionFeature(
            min_supported_version=voter.kraft_version_feature.min_supported_version,
            max_supported_version=voter.kraft_version_feature.max_supported_version)
        voter_items.append((voter.voter_id, voter.voter_id, VotersRecord.Voter(
            voter_id=voter.voter_id, voter_directory_id=voter.voter_directory_id,
            endpoints=endpoints, kraft_version_feature=feature)))
    return VotersRecord(version=0, voters=[v for _, v in _java_hash_map_order(voter_items)])


def snapshot_writer_for(log_or_state: Union[FileReplicatedLog, KRaftControlState],
                        raw_writer: FileRawSnapshotWriter, last_contained_log_timestamp: int,
                        time_ms: Callable[[], int],
                        max_batch_size: int = MAX_BATCH_SIZE) -> RecordsSnapshotWriter:
    """A :class:`RecordsSnapshotWriter` whose header batch carries the kraft.version
    and the Voters record in force at ``raw_writer.snapshot_id.offset - 1``
    (Kafka's ``KafkaRaftClient.createSnapshot``); give the log's
    :class:`KRaftControlState` to avoid reading the log again.

    Raises :class:`OffsetOutOfRangeError` when the log does not reach that
    offset (or it lies before the snapshot the log continues), and
    ``ValueError`` for a Voters record in force at kraft.version 0 (Kafka's
    writer refuses that too)."""
    if isinstance(log_or_state, KRaftControlState):
        state = log_or_state
    else:
        state = KRaftControlState(log_or_state)
    offset = raw_writer.snapshot_id.offset - 1
    kraft_version = state.kraft_version_at(offset)
    voters = state.voters_at(offset)
    return RecordsSnapshotWriter(raw_writer, last_contained_log_timestamp, time_ms,
                                 kraft_version=kraft_version,
                                 voters=None if voters is None else kafka_voters_record(voters),
                                 max_batch_size=max_batch_size)
