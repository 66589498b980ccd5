"""Kafka's segment indexes: ``.index`` (offset → position) and ``.timeindex``.

``NNNNNNNNNNNNNNNNNNNN.index`` holds 8-byte entries ``int32 relative offset,
int32 position``; ``.timeindex`` holds 12-byte entries ``int64 timestamp,
int32 relative offset``; both big-endian, strictly increasing.  Entries are
kept in memory as the exact file bytes and written to the file on
:meth:`flush` and :meth:`close`.  Kafka preallocates these files while a
segment is active and trims them when it closes; ours are always written at
their trimmed size, which is what Kafka leaves after a clean close.  Every
open of the log rescans its segments and rewrites the indexes, so a missing
or corrupt index file is rebuilt, never trusted.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Tuple

from kraft._native.segment import index_lookup, time_index_lookup
from kraft.storage.fileutil import write_all

_OFFSET_ENTRY = struct.Struct(">ii")
_TIME_ENTRY = struct.Struct(">qi")


class _IndexFile:
    entry_size = 0

    def __init__(self, path: os.PathLike | str, base_offset: int, entries: bytes = b""):
        if len(entries) % self.entry_size:
            raise ValueError(f"index bytes are not a multiple of {self.entry_size}")
        self.path = Path(path)
        self.base_offset = base_offset
        self.entries = bytearray(entries)
        self._written = -1  # bytes of self.entries known to be in the file; -1: rewrite
        self._refresh_last()

    def _refresh_last(self) -> None:
        """Cache the last entry's fields (subclasses)."""

    def __len__(self) -> int:
        return len(self.entries) // self.entry_size

    def flush(self, sync: bool = False) -> None:
        """Write the entries not yet in the file (the whole file after a change)."""
        if self._written == len(self.entries):
            if sync:
                self._fsync()
            return
        if self._written < 0:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            start = 0
        else:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            start = self._written
        try:
            write_all(fd, memoryview(self.entries)[start:])
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        self._written = len(self.entries)

    def _fsync(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _truncate_entries(self, count: int) -> None:
        if count < len(self):
            del self.entries[count * self.entry_size:]
            self._written = -1
            self._refresh_last()

    def reset(self, entries: bytes = b"") -> None:
        self.entries = bytearray(entries)
        self._written = -1
        self._refresh_last()


class OffsetIndex(_IndexFile):
    """Sparse map from offsets to byte positions in one segment's ``.log``."""

    entry_size = 8

    def _refresh_last(self) -> None:
        if self.entries:
            self._last = _OFFSET_ENTRY.unpack_from(self.entries, len(self.entries) - 8)
        else:
            self._last = None

    def append(self, offset: int, position: int) -> None:
        relative = offset - self.base_offset
        if not 0 <= relative < 2**31:
            raise ValueError(f"offset {offset} does not fit segment {self.base_offset}")
        last = self._last
        if last is not None and (relative <= last[0] or position < last[1]):
            raise ValueError(
                f"index entry ({offset}, {position}) is not after the last "
                f"({self.base_offset + last[0]}, {last[1]})")
        self.entries += _OFFSET_ENTRY.pack(relative, position)
        self._last = (relative, position)

    def lookup(self, offset: int) -> Tuple[int, int]:
        """``(offset, position)`` of the last entry at or before ``offset``,
        else ``(base offset, 0)``."""
        relative, position = index_lookup(self.entries, offset - self.base_offset)
        if relative < 0:
            return self.base_offset, 0
        return self.base_offset + relative, position

    def last_entry(self) -> Tuple[int, int]:
        if self._last is None:
            return self.base_offset, 0
        return self.base_offset + self._last[0], self._last[1]

    def truncate_to(self, offset: int) -> None:
        """Drop entries for offsets >= ``offset``."""
        relative = offset - self.base_offset
        count = len(self)
        while count and _OFFSET_ENTRY.unpack_from(self.entries, (count - 1) * 8)[0] >= relative:
            count -= 1
        self._truncate_entries(count)


class TimeIndex(_IndexFile):
    """Sparse map from max timestamps to offsets in one segment."""

    entry_size = 12

    def _refresh_last(self) -> None:
        if self.entries:
            ts, relative = _TIME_ENTRY.unpack_from(self.entries, len(self.entries) - 12)
            self._last = (ts, self.base_offset + relative)
        else:
            self._last = None

    def last_entry(self) -> Tuple[int, int]:
        return self._last if self._last is not None else (-1, self.base_offset)

    def maybe_append(self, timestamp: int, offset: int) -> None:
        """Add ``(timestamp, offset)`` if the timestamp is newer than the last entry's."""
        if timestamp < 0:
            return
        last = self._last
        if last is not None and (timestamp <= last[0] or offset < last[1]):
            return
        self.entries += _TIME_ENTRY.pack(timestamp, offset - self.base_offset)
        self._last = (timestamp, offset)

    def lookup(self, timestamp: int) -> Tuple[int, int]:
        """``(timestamp, offset)`` of the last entry at or before ``timestamp``,
        else ``(-1, base offset)``."""
        ts, relative = time_index_lookup(self.entries, timestamp)
        return ts, self.base_offset + relative

    def truncate_to(self, offset: int) -> None:
        """Drop entries for offsets >= ``offset``."""
        relative = offset - self.base_offset
        count = len(self)
        while count and _TIME_ENTRY.unpack_from(self.entries, (count - 1) * 12)[1] >= relative:
            count -= 1
        self._truncate_entries(count)
