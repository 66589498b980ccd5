"""The leader-epoch cache and its ``leader-epoch-checkpoint`` file.

The file is Kafka's checkpoint text format, ``\\n`` line endings::

    0          format version
    2          number of entries
    1 0        "<epoch> <start offset>", ascending
    3 57

The cache maps each leader epoch to the first offset written in it and
answers "where does epoch E end" for DivergingEpoch handling.  Additions and
truncations of the end are written through at once (fsynced; Kafka does not
wait for the disk on truncation), so that opening the log can hold the
batches' epochs, which no CRC covers, against this file; moving the start
(retention) is written without waiting, as a stale start is harmless.
"""
from __future__ import annotations

import bisect
import os
from pathlib import Path
from typing import List, Optional, Tuple

from kraft.storage.errors import LeaderEpochCheckpointError
from kraft.storage.fileutil import atomic_write

FILE_NAME = "leader-epoch-checkpoint"
CHECKPOINT_VERSION = 0
UNDEFINED_EPOCH = -1
UNDEFINED_EPOCH_OFFSET = -1


def format_checkpoint(entries: List[Tuple[int, int]]) -> bytes:
    lines = [str(CHECKPOINT_VERSION), str(len(entries))]
    lines += [f"{epoch} {offset}" for epoch, offset in entries]
    return ("\n".join(lines) + "\n").encode("ascii")


def parse_checkpoint(data: bytes, path=None) -> List[Tuple[int, int]]:
    """Entries of a checkpoint file; :class:`LeaderEpochCheckpointError` if malformed."""
    try:
        lines = data.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise LeaderEpochCheckpointError("not ASCII text", path) from None
    if lines and lines[-1] == "":
        lines.pop()
    try:
        version = int(lines[0])
        count = int(lines[1])
    except (IndexError, ValueError):
        raise LeaderEpochCheckpointError("malformed version or entry-count line", path) from None
    if version != CHECKPOINT_VERSION:
        raise LeaderEpochCheckpointError(f"unrecognised checkpoint version {version}", path)
    body = lines[2:]
    if len(body) != count:
        raise LeaderEpochCheckpointError(
            f"expected {count} entries but found {len(body)}", path)
    entries = []
    for line in body:
        parts = line.split()
        if len(parts) != 2:
            raise LeaderEpochCheckpointError(f"malformed entry line {line!r}", path)
        try:
            epoch, offset = int(parts[0]), int(parts[1])
        except ValueError:
            raise LeaderEpochCheckpointError(f"malformed entry line {line!r}", path) from None
        if epoch < 0 or offset < 0:
            raise LeaderEpochCheckpointError(f"negative value in entry {line!r}", path)
        entries.append((epoch, offset))
    for (e1, o1), (e2, o2) in zip(entries, entries[1:]):
        if e2 <= e1 or o2 < o1:
            raise LeaderEpochCheckpointError("entries are not ascending", path)
    return entries


class LeaderEpochCache:
    """Epoch → start offset, ascending in both; backed by a checkpoint file.

    ``path`` may be ``None`` for a cache that lives only in memory.
    """

    def __init__(self, path: Optional[os.PathLike | str] = None,
                 entries: Optional[List[Tuple[int, int]]] = None):
        self.path = None if path is None else Path(path)
        self._epochs: List[int] = []
        self._offsets: List[int] = []
        for epoch, offset in entries or ():
            self._epochs.append(epoch)
            self._offsets.append(offset)

    @classmethod
    def load(cls, path: os.PathLike | str) -> "LeaderEpochCache":
        """Read the checkpoint at ``path`` (an empty cache if it does not exist)."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return cls(path)
        return cls(path, parse_checkpoint(data, path))

    # --- queries --------------------------------------------------------------
    def entries(self) -> List[Tuple[int, int]]:
        return list(zip(self._epochs, self._offsets))

    def latest_epoch(self) -> Optional[int]:
        return self._epochs[-1] if self._epochs else None

    def epoch_for_offset(self, offset: int) -> Optional[int]:
        """The epoch whose range holds ``offset``, if the cache knows one."""
        i = bisect.bisect_right(self._offsets, offset)
        return self._epochs[i - 1] if i else None

    def end_offset_for(self, requested_epoch: int, log_end_offset: int) -> Tuple[int, int]:
        """``(epoch, end offset)`` as Kafka's ``endOffsetFor``; ``(-1, -1)`` if undefined."""
        if requested_epoch == UNDEFINED_EPOCH:
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if self._epochs and self._epochs[-1] == requested_epoch:
            return requested_epoch, log_end_offset
        higher = bisect.bisect_right(self._epochs, requested_epoch)
        if higher == len(self._epochs):
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if higher == 0:
            return requested_epoch, self._offsets[0]
        return self._epochs[higher - 1], self._offsets[higher]

    # --- changes ----------------------------------------------------------------
    def assign(self, epoch: int, start_offset: int, flush: bool = True) -> bool:
        """Record that ``epoch`` starts at ``start_offset``; True if the cache changed.

        Trailing entries with an epoch >= ``epoch`` or a start offset >=
        ``start_offset`` are dropped first, keeping both columns increasing.
        """
        if epoch < 0 or start_offset < 0:
            raise ValueError(f"invalid leader epoch entry ({epoch}, {start_offset})")
        if self._epochs:
            last_epoch, last_offset = self._epochs[-1], self._offsets[-1]
            if last_epoch == epoch and last_offset <= start_offset:
                return False
        while self._epochs and (self._epochs[-1] >= epoch or self._offsets[-1] >= start_offset):
            self._epochs.pop()
            self._offsets.pop()
        self._epochs.append(epoch)
        self._offsets.append(start_offset)
        if flush:
            self.write(sync=True)
        return True

    def truncate_from_end(self, end_offset: int) -> None:
        """Drop entries starting at or after ``end_offset`` (log truncated to it)."""
        changed = False
        while self._offsets and self._offsets[-1] >= end_offset:
            self._epochs.pop()
            self._offsets.pop()
            changed = True
        if changed:
            # fsynced (Kafka does not wait here): opening the log checks the batches'
            # epochs against this file, so a stale one must never outlive the truncation
            self.write(sync=True)

    def truncate_from_start(self, start_offset: int) -> None:
        """Drop entries starting at or before ``start_offset``, keeping the last of
        them re-based at ``start_offset`` (log start advanced to it)."""
        i = bisect.bisect_right(self._offsets, start_offset)
        if i == 0:
            return
        kept_epoch = self._epochs[i - 1]
        del self._epochs[:i]
        del self._offsets[:i]
        self._epochs.insert(0, kept_epoch)
        self._offsets.insert(0, start_offset)
        self.write(sync=False)

    def clear(self) -> None:
        self._epochs.clear()
        self._offsets.clear()
        self.write(sync=True)

    def write(self, sync: bool = True) -> None:
        """Write the checkpoint file (temp file + rename; fsynced when ``sync``)."""
        if self.path is None:
            return
        data = format_checkpoint(self.entries())
        if sync:
            atomic_write(self.path, data)
        else:
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, self.path)
