"""Snapshot files: naming, the raw writer and reader, chunked reads for FetchSnapshot.

A snapshot with id (end offset, epoch) holds every record below the end
offset, as batches whose offsets start at 0 inside the file::

    00000000000000000010-0000000002.checkpoint            published
    00000000000000000010-0000000002-<random>.checkpoint.part   being written
    00000000000000000010-0000000002.checkpoint.deleted    marked for deletion

A writer appends to the ``.part`` file; :meth:`FileRawSnapshotWriter.freeze`
checks the content (whole batches with valid CRCs, offsets from 0, a
SnapshotHeader control record first and a SnapshotFooter last), fsyncs it,
makes it read-only, renames it to ``.checkpoint`` and fsyncs the directory.

The first batch, the header batch, holds what Kafka's ``RecordsSnapshotWriter``
puts there: a SnapshotHeader record, then, when kraft.version >= 1, a
KRaftVersion record and the Voters record in force at the snapshot's last
contained offset.  :func:`decode_header_batch` checks that layout whenever a
snapshot is validated (on publish and on open) and gives what it says as a
:class:`SnapshotHeaderBatch`.
"""
from __future__ import annotations

import mmap
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional

from kraft._native.segment import batch_positions, control_record_type, scan_batches
from kraft.core.log import OffsetAndEpoch
from kraft.errors import CorruptRecordError
from kraft.protocol.messages import (
    KRaftVersionRecord,
    SnapshotFooterRecord,
    SnapshotHeaderRecord,
    VotersRecord,
)
from kraft.records import RecordBatch, decode_batches, encode_batch
from kraft.records.constants import KRAFT_MAX_BATCH_SIZE as MAX_BATCH_SIZE
from kraft.records.constants import RECORD_BATCH_OVERHEAD as BATCH_HEADER_SIZE
from kraft.records.sizes import record_size
from kraft.records.control import (
    ControlRecordType,
    decode_control_key,
    decode_control_value,
    encode_control_batch,
)
from kraft.storage.errors import CorruptSnapshotError, RecordBatchTooLargeError
from kraft.storage.fileutil import fsync_dir, write_all

SUFFIX = ".checkpoint"
PARTIAL_SUFFIX = ".checkpoint.part"
DELETED_SUFFIX = ".checkpoint.deleted"

SNAPSHOT_FOOTER_TYPE = 4
#: The kraft.version feature levels known (Kafka 3.9's ``KRaftVersion``: 0 static
#: voters, 1 voters in KRaftVersion/Voters control records).
SUPPORTED_KRAFT_VERSIONS = (0, 1)


def snapshot_id_prefix(snapshot_id: OffsetAndEpoch) -> str:
    if snapshot_id.offset < 0 or not 0 <= snapshot_id.epoch < 2**31:
        raise ValueError(f"invalid snapshot id {snapshot_id}")
    return f"{snapshot_id.offset:020d}-{snapshot_id.epoch:010d}"


def snapshot_file_name(snapshot_id: OffsetAndEpoch) -> str:
    """``<20-digit end offset>-<10-digit epoch>.checkpoint``."""
    return snapshot_id_prefix(snapshot_id) + SUFFIX


@dataclass(frozen=True)
class SnapshotPath:
    path: Path
    snapshot_id: OffsetAndEpoch
    partial: bool
    deleted: bool


def parse_snapshot_path(path: os.PathLike | str) -> Optional[SnapshotPath]:
    """Kafka's ``Snapshots.parse``: the id and kind of a snapshot file, or ``None``."""
    path = Path(path)
    name = path.name
    if name.endswith(PARTIAL_SUFFIX):
        partial, deleted = True, False
    elif name.endswith(DELETED_SUFFIX):
        partial, deleted = False, True
    elif name.endswith(SUFFIX):
        partial, deleted = False, False
    else:
        return None
    offset, dash, epoch = name[0:20], name[20:21], name[21:31]
    if dash != "-" or not (offset.isdigit() and epoch.isdigit()) or not offset.isascii():
        return None
    if not partial and name[31:] not in (SUFFIX, DELETED_SUFFIX):
        return None
    return SnapshotPath(path, OffsetAndEpoch(int(offset), int(epoch)), partial, deleted)


def validate_snapshot_bytes(data, path=None, require_footer: bool = True) -> int:
    """Check a snapshot's content; returns its batch count.

    Raises :class:`CorruptSnapshotError` naming ``path`` if the bytes are not
    whole v2 batches with valid CRCs and offsets counting from 0, or do not
    start with a SnapshotHeader control batch (and, if ``require_footer``,
    end with a SnapshotFooter one).
    """
    size = len(data)
    if size == 0:
        raise CorruptSnapshotError("snapshot is empty (no SnapshotHeader batch)", path)
    result = scan_batches(data, 0, 0, MAX_BATCH_SIZE, True, -1, 0, True)
    if result.error is not None:
        raise CorruptSnapshotError(
            f"invalid batch at position {result.valid_bytes}: {result.error}", path)
    positions, _ = batch_positions(data)
    decode_header_batch(memoryview(data)[positions[0]:_end(positions, 0, size)], path)
    if require_footer:
        try:
            last = control_record_type(memoryview(data)[positions[-1]:size])
        except CorruptRecordError as e:
            raise CorruptSnapshotError(str(e), path) from None
        if last != SNAPSHOT_FOOTER_TYPE:
            raise CorruptSnapshotError("last batch is not a SnapshotFooter control batch", path)
    return result.batch_count


def _end(positions: List[int], i: int, size: int) -> int:
    return positions[i + 1] if i + 1 < len(positions) else size


@dataclass(frozen=True)
class SnapshotHeaderBatch:
    """What a snapshot's first control batch says.

    ``kraft_version`` is ``None`` when the batch has no KRaftVersion record
    (Kafka writes none at kraft.version 0, which is then in force);
    ``voters`` is the Voters record, or ``None``.
    """

    last_contained_log_timestamp: int
    kraft_version: Optional[int]
    voters: Optional[VotersRecord]


def decode_header_batch(batch, path=None) -> SnapshotHeaderBatch:
    """Decode and check a snapshot's header batch (its first batch).

    It must be a control batch whose records are, in Kafka's order, a
    SnapshotHeader, optionally a KRaftVersion with a supported kraft.version,
    and optionally (only after a KRaftVersion of 1 or more) a Voters record.
    Anything else raises :class:`CorruptSnapshotError` naming ``path``.
    """
    try:
        decoded = RecordBatch(batch)
        if not decoded.is_control:
            raise CorruptSnapshotError("first batch is not a SnapshotHeader control batch", path)
        records = list(decoded)
        if not records:
            raise CorruptSnapshotError("header batch has no records", path)
        types = [decode_control_key(record.key).type for record in records]
        if types[0] is not ControlRecordType.SNAPSHOT_HEADER:
            raise CorruptSnapshotError(
                f"first batch is not a SnapshotHeader control batch (its first record is "
                f"{types[0].name})", path)
        header = decode_control_value(types[0], records[0].value)
        kraft_version = voters = None
        for record, record_type in zip(records[1:], types[1:]):
            where = f"record at offset {record.offset} of the header batch"
            if record_type is ControlRecordType.KRAFT_VERSION and kraft_version is None and voters is None:
                kraft_version = decode_control_value(record_type, record.value).kraft_version
                if kraft_version not in SUPPORTED_KRAFT_VERSIONS:
                    raise CorruptSnapshotError(
                        f"unsupported kraft.version {kraft_version} in the KRaftVersion {where}", path)
            elif record_type is ControlRecordType.KRAFT_VOTERS and voters is None:
                if kraft_version is None or kraft_version < 1:
                    state = "no KRaftVersion record" if kraft_version is None else "kraft.version 0"
                    raise CorruptSnapshotError(
                        f"Voters {where} follows {state} (voters need kraft.version >= 1)", path)
                voters = decode_control_value(record_type, record.value)
            else:
                raise CorruptSnapshotError(
                    f"unexpected {record_type.name} {where} (expected SnapshotHeader, then "
                    f"KRaftVersion and Voters, each at most once)", path)
    except CorruptRecordError as e:
        raise CorruptSnapshotError(f"unreadable header batch: {e}", path) from None
    return SnapshotHeaderBatch(header.last_contained_log_timestamp, kraft_version, voters)


class FileRawSnapshotWriter:
    """Writes one snapshot to a ``.part`` file and publishes it on :meth:`freeze`."""

    def __init__(self, directory: Path, snapshot_id: OffsetAndEpoch,
                 on_frozen: Optional[Callable[[OffsetAndEpoch], None]] = None):
        self.directory = Path(directory)
        self.snapshot_id = snapshot_id
        self._on_frozen = on_frozen
        prefix = snapshot_id_prefix(snapshot_id)
        self.partial_path = self.directory / f"{prefix}-{secrets.randbits(63)}{PARTIAL_SUFFIX}"
        self.path = self.directory / (prefix + SUFFIX)
        self._fd = os.open(self.partial_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._size = 0
        self._frozen = False

    @classmethod
    def create(cls, directory: os.PathLike | str, snapshot_id: OffsetAndEpoch,
               on_frozen: Optional[Callable[[OffsetAndEpoch], None]] = None) -> "FileRawSnapshotWriter":
        return cls(Path(directory), snapshot_id, on_frozen)

    def size_in_bytes(self) -> int:
        return self._size

    @property
    def is_frozen(self) -> bool:
        return self._frozen

    def append(self, records) -> None:
        """Append bytes: whole batches, or a downloaded chunk in file order."""
        if self._frozen:
            raise RuntimeError(f"snapshot {self.snapshot_id} is already frozen")
        if self._fd < 0:
            raise RuntimeError(f"snapshot writer {self.snapshot_id} is closed")
        write_all(self._fd, records)
        self._size += len(memoryview(records).cast("B"))

    def freeze(self) -> None:
        """Validate, fsync, make read-only and atomically publish the snapshot."""
        if self._frozen:
            raise RuntimeError(f"snapshot {self.snapshot_id} is already frozen")
        if self._fd < 0:
            raise RuntimeError(f"snapshot writer {self.snapshot_id} is closed")
        os.fsync(self._fd)
        with open(self.partial_path, "rb") as f:
            with _map(f.fileno(), self._size) as data:
                validate_snapshot_bytes(data, self.partial_path)
        os.close(self._fd)
        self._fd = -1
        os.chmod(self.partial_path, 0o444)
        os.replace(self.partial_path, self.path)
        fsync_dir(self.directory)
        self._frozen = True
        if self._on_frozen is not None:
            self._on_frozen(self.snapshot_id)

    def close(self) -> None:
        """Abandon the snapshot if it was not frozen (its ``.part`` file goes)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if not self._frozen:
            try:
                self.partial_path.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RecordsSnapshotWriter:
    """Writes a snapshot in Kafka's ``RecordsSnapshotWriter`` layout.

    A control batch at offset 0 with the SnapshotHeader record (and, for
    kraft.version >= 1, a KRaftVersion record and the ``voters`` record when
    given), then data batches with offsets counting on from it, then a
    SnapshotFooter control batch on :meth:`freeze`.  Every batch carries the
    snapshot's epoch and the writer clock's time when the batch was started.

    Records are packed as Kafka 3.9's ``BatchAccumulator`` packs them: the
    records of one :meth:`append` always share a batch; they join the open
    batch if it has room within ``max_batch_size`` bytes, else that batch is
    written and the records start a new one, which is then written at once
    too (Kafka drains its completed batches after such an append, and a
    drain closes the open batch).  An append that cannot fit one batch
    raises :class:`RecordBatchTooLargeError`.  Kafka's raft client uses 8 MiB.

    >>> writer = RecordsSnapshotWriter(log.create_new_snapshot(sid), last_ts, clock)  # doctest: +SKIP
    >>> writer.append([b"record-1", b"record-2"]); writer.freeze()                    # doctest: +SKIP
    """

    def __init__(self, raw: FileRawSnapshotWriter, last_contained_log_timestamp: int,
                 time_ms: Callable[[], int], kraft_version: int = 0, voters=None,
                 max_batch_size: int = MAX_BATCH_SIZE):
        if kraft_version not in SUPPORTED_KRAFT_VERSIONS:
            raise ValueError(f"unsupported kraft.version {kraft_version}")
        if kraft_version == 0 and voters is not None:
            raise ValueError("a voters record needs kraft.version >= 1")
        if not BATCH_HEADER_SIZE < max_batch_size <= 2**31 - 1:
            raise ValueError(f"max_batch_size {max_batch_size} must exceed the "
                             f"{BATCH_HEADER_SIZE}-byte batch header")
        self.raw = raw
        self.max_batch_size = max_batch_size
        self._time_ms = time_ms
        self._epoch = raw.snapshot_id.epoch
        messages = [SnapshotHeaderRecord(version=0, last_contained_log_timestamp=last_contained_log_timestamp)]
        if kraft_version >= 1:
            messages.append(KRaftVersionRecord(version=0, kraft_version=kraft_version))
            if voters is not None:
                messages.append(voters)
        raw.append(encode_control_batch(messages, base_offset=0, partition_leader_epoch=self._epoch,
                                        timestamp=time_ms()))
        self._next_offset = len(messages)
        # the open batch: its records, base offset, size in bytes (header included), time
        self._values: Optional[list] = None
        self._base_offset = 0
        self._size = 0
        self._timestamp = 0

    @property
    def snapshot_id(self) -> OffsetAndEpoch:
        return self.raw.snapshot_id

    @property
    def is_frozen(self) -> bool:
        return self.raw.is_frozen

    def append(self, values) -> None:
        """Add records (bytes-like values) to the snapshot, in one batch."""
        if self.raw.is_frozen:
            raise RuntimeError(f"snapshot {self.snapshot_id} is already frozen")
        values = [memoryview(v).cast("B") for v in values]
        if self._values is None:
            self._start_batch()
        needed = self._bytes_needed(values)
        if self._size + needed > self.max_batch_size:
            if BATCH_HEADER_SIZE + needed > self.max_batch_size:
                raise RecordBatchTooLargeError(
                    f"{len(values)} records need {BATCH_HEADER_SIZE + needed} bytes, more than "
                    f"the maximum batch size {self.max_batch_size}")
            self._complete_batch()
            self._start_batch()
            needed = self._bytes_needed(values)
            drain = True
        else:
            drain = False
        self._values.extend(values)
        self._size += needed
        self._next_offset += len(values)
        if drain:
            self._complete_batch()

    def _bytes_needed(self, values) -> int:
        delta = self._next_offset - self._base_offset
        total = 0
        for v in values:
            total += record_size(delta, len(v))
            delta += 1
        return total

    def _start_batch(self) -> None:
        self._values = []
        self._base_offset = self._next_offset
        self._size = BATCH_HEADER_SIZE
        self._timestamp = self._time_ms()

    def _complete_batch(self) -> None:
        if self._values:
            self.raw.append(encode_batch(self._values, base_offset=self._base_offset,
                                         partition_leader_epoch=self._epoch,
                                         timestamp=self._timestamp))
        self._values = None

    def freeze(self) -> None:
        """Write the open batch and the SnapshotFooter batch, then validate,
        fsync and publish."""
        if self.raw.is_frozen:
            raise RuntimeError(f"snapshot {self.snapshot_id} is already frozen")
        self._complete_batch()
        self.raw.append(encode_control_batch(SnapshotFooterRecord(version=0), base_offset=self._next_offset,
                                             partition_leader_epoch=self._epoch, timestamp=self._time_ms()))
        self.raw.freeze()

    def close(self) -> None:
        self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _map:
    """A read-only mmap of a file that may be empty (mmap refuses length 0)."""

    def __init__(self, fd: int, size: int):
        self.mm = mmap.mmap(fd, size, access=mmap.ACCESS_READ) if size else None

    def __enter__(self):
        return memoryview(self.mm) if self.mm is not None else memoryview(b"")

    def __exit__(self, *exc):
        if self.mm is not None:
            try:
                self.mm.close()
            except BufferError:
                pass


@dataclass(frozen=True)
class SnapshotBatch:
    """One batch of a snapshot, by position, with its raw bytes (a view)."""

    position: int
    base_offset: int
    is_control: bool
    data: memoryview


class FileRawSnapshotReader:
    """A published snapshot, mapped read-only: whole-file and chunked reads."""

    def __init__(self, path: Path, snapshot_id: OffsetAndEpoch, validate: bool = True):
        self.path = path
        self.snapshot_id = snapshot_id
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                self._mm = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) if size else None
        except OSError as e:
            raise CorruptSnapshotError(f"cannot open: {e}", path) from e
        self._view = memoryview(self._mm) if self._mm is not None else memoryview(b"")
        self._header: Optional[SnapshotHeaderBatch] = None
        if validate:
            validate_snapshot_bytes(self._view, path, require_footer=False)

    @classmethod
    def open(cls, directory: os.PathLike | str, snapshot_id: OffsetAndEpoch,
             validate: bool = True) -> "FileRawSnapshotReader":
        path = Path(directory) / snapshot_file_name(snapshot_id)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such snapshot")
        return cls(path, snapshot_id, validate)

    def size_in_bytes(self) -> int:
        return len(self._view)

    def records(self) -> memoryview:
        """The whole file, without copying."""
        return self._view

    def read(self, position: int, max_bytes: int) -> memoryview:
        """Up to ``max_bytes`` from ``position``, for a FetchSnapshot response
        (the chunk may cut a batch; the follower appends chunks in order)."""
        if position < 0 or max_bytes < 0:
            raise ValueError(f"invalid snapshot read ({position}, {max_bytes})")
        if position > len(self._view):
            raise ValueError(
                f"position {position} is past the end of snapshot {self.snapshot_id} "
                f"({len(self._view)} bytes)")
        return self._view[position:position + max_bytes]

    def batches(self) -> Iterator[SnapshotBatch]:
        """The snapshot's batches in file order, as views."""
        positions, offsets = batch_positions(self._view)
        size = len(self._view)
        for i, (pos, base) in enumerate(zip(positions, offsets)):
            data = self._view[pos:_end(positions, i, size)]
            yield SnapshotBatch(pos, base, bool(data[22] & 0x20), data)

    def record_batches(self):
        """The batches as :class:`kraft.records.RecordBatch` (iterate one for its
        records; keys and values are views into the file)."""
        return decode_batches(self._view)

    def header(self) -> SnapshotHeaderBatch:
        """The header batch's SnapshotHeader, KRaftVersion and Voters records
        (decoded once); :class:`CorruptSnapshotError` if it is malformed."""
        if self._header is None:
            view = self._view
            size = int.from_bytes(view[8:12], "big", signed=True) + 12 if len(view) >= 12 else 0
            if not BATCH_HEADER_SIZE <= size <= len(view):
                raise CorruptSnapshotError("snapshot does not start with a whole batch", self.path)
            self._header = decode_header_batch(view[:size], self.path)
        return self._header

    def last_contained_log_timestamp(self) -> int:
        """``LastContainedLogTimestamp`` of the SnapshotHeader record."""
        return self.header().last_contained_log_timestamp

    def close(self) -> None:
        """Release the mapping (kept by the OS until views still held go)."""
        if self._mm is not None:
            try:
                self._view.release()
                self._mm.close()
            except BufferError:
                pass  # callers still hold views; the mapping goes with them
