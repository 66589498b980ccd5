"""One log segment: ``<20-digit base offset>.log`` with its ``.index`` and ``.timeindex``.

The ``.log`` file holds v2 record batches back to back, exactly as on the
wire.  Appends are plain ``write`` calls at the end of the file; reads are
memoryviews of a read-only mapping of the file (no copy), cut at batch
boundaries.  Opening a segment scans it batch by batch (CRC included) with
the native scanner, truncates a torn or corrupt tail and rebuilds both
indexes, as Kafka's ``LogSegment.recover`` does.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import List, Optional, Tuple

from kraft._native.segment import MappedFile, NativeLogSegment, find_batch_end, scan_batches
from kraft.storage.index import OffsetIndex, TimeIndex

log = logging.getLogger(__name__)

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
DELETED_SUFFIX = ".deleted"

# Extra room mapped beyond the active segment's size limit, so that the
# mapping rarely needs to be replaced while the segment grows.
_MAP_SLACK = 16 * 1024 * 1024
_MAX_INT32 = 2**31 - 1


def file_name_prefix(offset: int) -> str:
    """Kafka's 20-digit zero-padded offset used in segment and snapshot names."""
    if offset < 0:
        raise ValueError(f"negative offset {offset}")
    return f"{offset:020d}"


class LogSegment(NativeLogSegment):
    """A segment file and its indexes; the log owns the ordering between segments.

    The append path (:meth:`append_batches`, :meth:`set_append_limits`) and the
    append state (``size``, ``next_offset``, timestamps, index accounting) live
    in the native base class.
    """

    def __init__(self, directory: Path, base_offset: int, index_interval_bytes: int,
                 reserve_bytes: int):
        self.directory = Path(directory)
        self.base_offset = base_offset
        self.index_interval_bytes = index_interval_bytes
        self.reserve_bytes = reserve_bytes
        prefix = file_name_prefix(base_offset)
        self.path = self.directory / (prefix + LOG_SUFFIX)
        self.offset_index = OffsetIndex(self.directory / (prefix + INDEX_SUFFIX), base_offset)
        self.time_index = TimeIndex(self.directory / (prefix + TIME_INDEX_SUFFIX), base_offset)
        self.size = 0
        self.next_offset = base_offset
        self.max_timestamp = -1
        self.offset_of_max_timestamp = -1
        self.rolling_based_timestamp: Optional[int] = None
        self.created_ms = 0  # set by the log: when the segment was created or opened
        self.bytes_since_last_index_entry = 0
        self.truncated_bytes = 0
        self.fd = -1
        self._map: Optional[MappedFile] = None
        #: mappings replaced by a longer one while views of them were still held (a Fetch response
        #: being written): a truncation must detach their tails too
        self._superseded: list[MappedFile] = []

    # --- opening --------------------------------------------------------------
    @classmethod
    def create(cls, directory: Path, base_offset: int, index_interval_bytes: int = 4096,
               reserve_bytes: int = 0) -> "LogSegment":
        """A new empty segment (an existing file of that name is emptied)."""
        seg = cls(directory, base_offset, index_interval_bytes, reserve_bytes)
        seg.fd = os.open(seg.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        seg.offset_index.flush()
        seg.time_index.flush()
        return seg

    @classmethod
    def open(cls, directory: Path, base_offset: int, index_interval_bytes: int = 4096,
             reserve_bytes: int = 0, last_epoch: int = -1,
             max_batch_size: int = 0, max_epoch: Optional[int] = None,
             strict_epochs: bool = False) -> Tuple["LogSegment", list]:
        """Open and recover an existing segment.

        Returns the segment and the ``(epoch, start offset)`` pairs of epochs
        above ``last_epoch`` seen in it.  A torn or corrupt tail is cut off
        (and logged); the indexes are rebuilt from the valid batches.  With
        ``strict_epochs``, a batch whose partition leader epoch goes below the
        log's (``last_epoch`` or an earlier batch's) or above ``max_epoch`` is
        corrupt too: the batch CRC does not cover that field.
        """
        seg = cls(directory, base_offset, index_interval_bytes, reserve_bytes)
        seg.fd = os.open(seg.path, os.O_RDWR)
        try:
            file_size = os.fstat(seg.fd).st_size
            mapping = MappedFile(seg.fd, file_size)
            try:
                result = scan_batches(mapping, base_offset, index_interval_bytes,
                                      max_batch_size, True, last_epoch, base_offset, True,
                                      _MAX_INT32 if max_epoch is None else max_epoch,
                                      strict_epochs)
            finally:
                mapping.close()
            if result.error is not None and result.valid_bytes < file_size:
                # an epoch that contradicts the log is never a torn write: say it louder
                (log.error if result.epoch_error else log.warning)(
                    "segment %s: corrupt batch at offset %d (position %d): %s; truncating "
                    "the log there (%d bytes)", seg.path, result.next_offset,
                    result.valid_bytes, result.error, file_size - result.valid_bytes)
                os.ftruncate(seg.fd, result.valid_bytes)
                os.fsync(seg.fd)
                seg.truncated_bytes = file_size - result.valid_bytes
            seg.size = result.valid_bytes
            os.lseek(seg.fd, seg.size, os.SEEK_SET)
            if result.batch_count:
                seg.next_offset = result.next_offset
                seg.rolling_based_timestamp = result.first_max_timestamp
                seg.max_timestamp = result.max_timestamp
                seg.offset_of_max_timestamp = result.offset_of_max_timestamp
            seg.offset_index.reset(result.offset_index)
            seg.time_index.reset(result.time_index)
            seg._note_inactive_time_entry()
            seg.bytes_since_last_index_entry = seg.size - seg.offset_index.last_entry()[1]
            seg.offset_index.flush()
            seg.time_index.flush()
        except BaseException:
            seg.close()
            raise
        return seg, result.epoch_starts

    def _note_inactive_time_entry(self) -> None:
        # Kafka adds the largest timestamp seen when a segment is recovered or
        # becomes inactive, whatever the index interval.
        if self.max_timestamp >= 0:
            self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp)

    # --- reading --------------------------------------------------------------
    def _mapping(self) -> MappedFile:
        if self._map is None or self._map.length < self.size:
            if self._map is not None:
                if self._map.exported:
                    self._superseded.append(self._map)
                self._map.close()
            self._map = MappedFile(self.fd, max(self.size, self.reserve_bytes))
        return self._map

    def read(self, offset: int, max_bytes: int) -> Optional[memoryview]:
        """Batches from the one holding ``offset``, up to ``max_bytes`` (but at
        least one whole batch); ``None`` if no batch here holds or follows it."""
        if offset >= self.next_offset or self.size == 0:
            return None
        _, start = self.offset_index.lookup(max(offset, self.base_offset))
        view = memoryview(self._mapping())[:self.size]
        first, end = find_batch_end(view, start, offset, max(max_bytes, 0))
        if first < 0:
            return None
        return view[first:end]

    def release_pages(self) -> None:
        """Drop the resident pages of this segment's mapping (see ``MappedFile.release_pages``):
        views handed out stay valid and read the same bytes."""
        if self._map is not None:
            self._map.release_pages()

    def view(self) -> memoryview:
        """The whole segment's bytes (for scanning and tests)."""
        return memoryview(self._mapping())[:self.size]

    def position_of(self, offset: int) -> Optional[int]:
        """Byte position of the first batch whose last offset is >= ``offset``."""
        if offset >= self.next_offset:
            return None
        _, start = self.offset_index.lookup(max(offset, self.base_offset))
        first, _ = find_batch_end(self.view(), start, offset, 0)
        return None if first < 0 else first

    # --- changing -------------------------------------------------------------
    def truncate_to(self, offset: int) -> int:
        """Drop every batch at or after ``offset`` (batch-aligned: a batch holding
        ``offset`` goes whole).  Returns the number of bytes removed."""
        if offset >= self.next_offset:
            return 0
        position = self.position_of(offset)
        if position is None:
            return 0
        removed = self.size - position
        self._detach_mapping(position)
        os.ftruncate(self.fd, position)
        os.lseek(self.fd, position, os.SEEK_SET)
        self.size = position
        self.offset_index.truncate_to(offset)
        self.time_index.truncate_to(offset)
        # recompute what the scan knows about the kept batches
        if position == 0:
            self.next_offset = self.base_offset
            self.max_timestamp = self.offset_of_max_timestamp = -1
            self.rolling_based_timestamp = None
        else:
            result = scan_batches(self.view(), self.base_offset, 0, 0, False)
            self.next_offset = result.next_offset
            self.max_timestamp = result.max_timestamp
            self.offset_of_max_timestamp = result.offset_of_max_timestamp
        self.bytes_since_last_index_entry = self.size - self.offset_index.last_entry()[1]
        self.offset_index.flush()
        self.time_index.flush()
        return removed

    def _detach_mapping(self, keep_bytes: int) -> None:
        # views still held (a Fetch response being written, say) keep reading the cut-off bytes
        if self._map is not None:
            self._map.detach_tail(keep_bytes, self.size)
            self._map.close()
            self._map = None
        self._superseded = [m for m in self._superseded if m.exported]
        for older in self._superseded:
            older.detach_tail(keep_bytes, self.size)

    def flush(self) -> None:
        """fsync the segment's data.

        Index entries are written when the segment rolls, is truncated or
        closes: every open of the log rebuilds the indexes from the data, so
        fsyncing them with the data would buy nothing.
        """
        os.fsync(self.fd)

    def on_become_inactive(self) -> None:
        """Called on roll: final time-index entry, indexes written and fsynced."""
        self._note_inactive_time_entry()
        os.fsync(self.fd)
        self.offset_index.flush(sync=True)
        self.time_index.flush(sync=True)
        self.reserve_bytes = 0

    def close(self) -> None:
        if self.fd >= 0:
            self._note_inactive_time_entry()
            self.offset_index.flush()
            self.time_index.flush()
            os.close(self.fd)
            self.fd = -1
        if self._map is not None:
            self._map.close()
            self._map = None

    def _release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self._map is not None:
            self._map.close()   # views still held stay readable until released
            self._map = None

    def _files(self) -> List[Path]:
        # with Kafka's producer-state snapshot and transaction index, if Kafka wrote the log
        return [self.path, self.offset_index.path, self.time_index.path,
                self.path.with_suffix(".snapshot"), self.path.with_suffix(".txnindex")]

    def delete(self) -> None:
        """Close and remove the segment and its indexes now."""
        self._release()
        for path in self._files():
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def mark_deleted(self) -> List[Path]:
        """Close the segment and rename its files to ``<name>.deleted`` (Kafka's
        asynchronous deletion: the files go later, or on the next open).
        Returns the renamed paths."""
        self._release()
        marked = []
        for path in self._files():
            target = path.with_name(path.name + DELETED_SUFFIX)
            try:
                os.replace(path, target)
            except FileNotFoundError:
                continue
            marked.append(target)
        return marked

    def __repr__(self) -> str:
        return (f"LogSegment(base_offset={self.base_offset}, next_offset={self.next_offset}, "
                f"size={self.size})")
