"""``FileReplicatedLog``: the raft partition's log on disk, as Kafka's ``KafkaMetadataLog``.

>>> from kraft.storage import FileReplicatedLog, LogConfig, FlushPolicy   # doctest: +SKIP
>>> log = FileReplicatedLog.open("/tmp/kraft-logs/__raft_performance_test-0",
...                              LogConfig(flush_policy=FlushPolicy.every_append()))
>>> info = log.append_as_leader(batches, epoch=3)      # offsets assigned from log.end_offset
>>> log.read(info.first_offset, 1 << 20).records        # memoryview of the segment, batch-aligned

The partition directory holds segments (``<base offset>.log`` + ``.index`` +
``.timeindex``), ``leader-epoch-checkpoint``, snapshots
(``<end offset>-<epoch>.checkpoint``) and, managed separately by
:class:`~kraft.storage.quorum_state.QuorumStateStore`, ``quorum-state``.

Opening the log recovers it: every segment is scanned batch by batch (as
Kafka's metadata log does on every start), a torn or corrupt tail is cut off
at the last valid batch, indexes and the epoch cache are rebuilt from what
was scanned, partial (``.part``) and deleted (``.deleted``) files are removed,
retained snapshots are validated, and a log that is behind its latest
snapshot is reset to it.

Retention is Kafka's: :meth:`FileReplicatedLog.maybe_clean` (which a driver
calls now and then; Kafka's raft client does at most once a minute) drops the
oldest snapshots, and the segments wholly before the next one, while the log
and snapshots exceed ``LogConfig.retention_max_bytes`` or a snapshot is older
than ``retention_ms``; the latest snapshot always stays.  Deleted segments and
snapshots are renamed to ``*.deleted`` at once and removed
``file_delete_delay_ms`` later, so readers still holding them finish first.

>>> log.maybe_clean()                                       # doctest: +SKIP
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from kraft.core.log import (
    LogAppendInfo,
    LogFetchInfo,
    OffsetAndEpoch,
    ValidationKind,
    ValidOffsetAndEpoch,
)
from kraft.records.constants import KRAFT_MAX_BATCH_SIZE as MAX_BATCH_SIZE
from kraft.records.constants import RECORD_BATCH_OVERHEAD
from kraft.storage import epoch_cache as epoch_cache_mod
from kraft.storage.epoch_cache import LeaderEpochCache
from kraft.storage.errors import (
    InvalidAppendError,
    LeaderEpochCheckpointError,
    OffsetOutOfRangeError,
    StorageError,
)
from kraft.storage.fileutil import fsync_dir
from kraft.storage.flush import FlushPolicy
from kraft.storage.quorum_state import FILE_NAME as QUORUM_STATE_FILE, QuorumStateStore
from kraft.storage.segment import INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, LogSegment
from kraft.storage.snapshots import (
    DELETED_SUFFIX,
    FileRawSnapshotReader,
    FileRawSnapshotWriter,
    parse_snapshot_path,
    snapshot_file_name,
)

log = logging.getLogger(__name__)

GiB = 1024 * 1024 * 1024
#: After this many bytes served by :meth:`FileReplicatedLog.read`, the segments' resident mapped
#: pages are dropped, so that reading the log does not grow the process's RSS without bound.
RELEASE_MAPPED_EVERY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class LogConfig:
    """Settings of the metadata log (Kafka's names in the comments)."""

    segment_bytes: int = GiB                      # metadata.log.segment.bytes
    segment_ms: int = 7 * 24 * 60 * 60 * 1000     # metadata.log.segment.ms
    index_interval_bytes: int = 4096              # index.interval.bytes
    max_batch_size: int = MAX_BATCH_SIZE          # max.message.bytes of the metadata log
    flush_policy: FlushPolicy = field(default_factory=FlushPolicy.never)
    # Kafka checks every appended batch's CRC; a leader appending batches its
    # own accumulator just built may skip that (followers always check).
    verify_leader_crc: bool = True
    retention_max_bytes: int = 100 * 1024 * 1024  # metadata.max.retention.bytes (-1: no limit)
    retention_ms: int = 7 * 24 * 60 * 60 * 1000   # metadata.max.retention.ms (-1: no limit)
    file_delete_delay_ms: int = 60_000            # file.delete.delay.ms

    def __post_init__(self):
        if not RECORD_BATCH_OVERHEAD <= self.segment_bytes <= 2**31 - 1:
            # index entries hold int32 positions, as Kafka's (segment.bytes is an int)
            raise ValueError(f"segment_bytes {self.segment_bytes} is not within 61..2^31-1")
        if self.segment_ms <= 0 or self.index_interval_bytes < 0 or self.max_batch_size < RECORD_BATCH_OVERHEAD:
            raise ValueError("invalid log configuration")
        if self.retention_max_bytes < -1 or self.retention_ms < -1 or self.file_delete_delay_ms < 0:
            raise ValueError("invalid retention configuration")


def _epoch_at(entries: List[tuple], offset: int) -> Optional[int]:
    """The epoch that ``(epoch, start offset)`` entries give ``offset``."""
    found = None
    for epoch, start in entries:
        if start > offset:
            break
        found = epoch
    return found


def _first_disagreement(a: List[tuple], b: List[tuple], low: int, end: int) -> Optional[int]:
    """The first offset of ``[low, end)`` where two epoch histories differ, if any."""
    points = sorted({low} | {o for _, o in a if low < o < end} | {o for _, o in b if low < o < end})
    for offset in points:
        if _epoch_at(a, offset) != _epoch_at(b, offset):
            return offset
    return None


@dataclass(frozen=True)
class BackgroundFlush:
    """A flush that runs off the event loop (:meth:`FileReplicatedLog.begin_background_flush`)."""

    #: a duplicate of the active segment's descriptor, closed by ``complete_background_flush``
    fd: int
    #: the log end offset when the flush began: what it makes durable
    end_offset: int
    truncations: int
    path: Path


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class FileReplicatedLog:
    """The :class:`kraft.core.log.ReplicatedLog` contract on Kafka's on-disk layout.

    Not thread-safe: one driver applies every change, in order.
    """

    def __init__(self, directory: Path, config: LogConfig, time_ms: Callable[[], int]):
        self.directory = directory
        self.config = config
        self._time_ms = time_ms
        self._segments: List[LogSegment] = []
        self._start_offset = 0
        self._high_watermark = 0
        self._last_flushed_offset = 0
        self._last_flush_ms = time_ms()
        #: bumped by every truncation: a background flush begun before one no longer vouches for its end
        self._truncations = 0
        self._snapshots: Dict[OffsetAndEpoch, Optional[FileRawSnapshotReader]] = {}
        self._epochs = LeaderEpochCache(directory / epoch_cache_mod.FILE_NAME)
        self._closed = False
        self._failure: Optional[OSError] = None
        # files renamed to *.deleted, removed when due: (due ms, paths, readers to close)
        self._pending_deletions: List[Tuple[int, List[Path], list]] = []
        self._flush_interval_ms = config.flush_policy.interval_ms
        self.release_mapped_every_bytes = RELEASE_MAPPED_EVERY_BYTES
        self._read_since_release = 0

    # --- opening ----------------------------------------------------------------
    @classmethod
    def open(cls, directory: os.PathLike | str, config: Optional[LogConfig] = None,
             time_ms: Optional[Callable[[], int]] = None) -> "FileReplicatedLog":
        """Open (creating if needed) and recover the partition directory."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self = cls(directory, config or LogConfig(), time_ms or _wall_clock_ms)
        try:
            self._load_segments()
            self._recover_snapshots()
            start, end = self._start_offset, self.end_offset
            # the snapshot is the only committed point a restarted node knows (the high watermark
            # is not kept on disk): a log behind it restarts there.  A log already empty at the
            # snapshot's end (a node stopped right after installing it: the epoch cache is empty
            # then, so Kafka's rule truncates it again) lost nothing: no warning
            if self.truncate_to_latest_snapshot() and (start, end) != (self._start_offset,) * 2:
                log.warning("%s: the log [%d, %d) is behind the latest snapshot %s; truncated it fully "
                            "to start at offset %d (recovery)", self.directory, start, end,
                            self.latest_snapshot_id(), self._start_offset)
        except BaseException:
            self._close_segments()
            raise
        # What the recovery scan found may have survived the last crash only in the page cache
        # (rolled segments were fsynced when they rolled): make it durable before calling it flushed.
        self._segments[-1].flush()
        self._last_flushed_offset = self.end_offset
        # Everything a snapshot covers was committed; the rest of the high
        # watermark is unknown until the raft core learns it again.
        latest = self.latest_snapshot_id()
        self._high_watermark = max(self._start_offset,
                                   min(latest.offset if latest else 0, self.end_offset))
        return self

    def _load_segments(self) -> None:
        bases = []
        for entry in os.scandir(self.directory):
            name = entry.name
            if name.endswith(".deleted") or name.endswith(".cleaned") or name.endswith(".swap"):
                if not name.endswith(DELETED_SUFFIX):  # snapshots are handled below
                    os.unlink(entry.path)
                continue
            stem, dot, suffix = name.partition(".")
            if len(stem) != 20 or not stem.isdigit():
                continue
            if "." + suffix == LOG_SUFFIX:
                bases.append(int(stem))
        for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX):
            # an index without its segment is garbage left by an interrupted deletion
            for p in self.directory.glob("*" + suffix):
                if not (p.with_suffix(LOG_SUFFIX)).exists():
                    p.unlink()
        try:
            old = LeaderEpochCache.load(self._epochs.path).entries()
        except LeaderEpochCheckpointError as e:
            log.warning("%s; rebuilding it from the log", e)
            old = None
        max_epoch = self._quorum_state_epoch()
        entries: List[tuple] = []
        last_epoch = -1
        reserve = self.config.segment_bytes + self.config.max_batch_size
        ordered = sorted(bases)
        for i, base in enumerate(ordered):
            segment, starts = LogSegment.open(
                self.directory, base, self.config.index_interval_bytes,
                reserve_bytes=reserve if i == len(ordered) - 1 else 0,
                last_epoch=last_epoch, max_batch_size=self.config.max_batch_size,
                max_epoch=max_epoch, strict_epochs=True)
            self._configure(segment)
            if self._segments and segment.base_offset != self._segments[-1].next_offset:
                # a gap: the previous segment lost its tail or was emptied; what
                # follows cannot continue the log
                segment.close()
                self._drop_segments_from(ordered[i:], self._segments[-1], reserve)
                break
            self._segments.append(segment)
            for epoch, offset in starts:
                entries.append((epoch, offset))
                last_epoch = epoch
            if segment.truncated_bytes and i + 1 < len(ordered):
                # as Kafka's LogLoader: what follows a corrupt segment cannot be trusted
                self._drop_segments_from(ordered[i + 1:], segment, reserve)
                break
        if not self._segments:
            self._segments.append(self._create_segment(0))
            fsync_dir(self.directory)
        if old:
            entries = self._check_epochs_against_checkpoint(old, entries, reserve)
        self._start_offset = self._segments[0].base_offset
        self._epochs = LeaderEpochCache(self._epochs.path, entries)
        if old != entries:
            self._epochs.write(sync=True)
        self._high_watermark = self._start_offset

    def _quorum_state_epoch(self) -> Optional[int]:
        """The epoch in ``quorum-state`` (no batch of the log can be above it: the
        election state is persisted before a node appends in a new epoch), or
        ``None`` when there is no readable file (its reader reports a bad one)."""
        try:
            state = QuorumStateStore(self.directory / QUORUM_STATE_FILE).read_election_state()
        except StorageError:
            return None
        return None if state is None else state.epoch

    def _check_epochs_against_checkpoint(self, checkpoint: List[tuple], scanned: List[tuple],
                                         reserve: int) -> List[tuple]:
        """Cut the log where its batches' epochs stop agreeing with ``leader-epoch-checkpoint``.

        Every epoch start is written to the checkpoint and fsynced before the
        batch holding it can be flushed, and every truncation is written
        (fsynced) before later appends, so on ``[start, end)`` of the log
        the two tell the same story unless one of them was changed behind the
        log's back.  The checkpoint is the witness: from the first offset where
        they disagree, the log is cut (as a CRC failure would), and the epochs
        scanned before it are returned.
        """
        end = self.end_offset
        low = max(checkpoint[0][1], scanned[0][1]) if scanned else checkpoint[0][1]
        if not scanned or low >= end:
            return scanned
        cut = _first_disagreement(checkpoint, scanned, low, end)
        if cut is None:
            return scanned
        index = self._segment_index_for(cut)
        segment = self._segments[index]
        said, found = _epoch_at(checkpoint, cut), _epoch_at(scanned, cut)
        log.error("segment %s: corrupt batch at offset %d: its partition leader epoch %s does "
                  "not match epoch %s of %s; truncating the log there", segment.path, cut,
                  found, said, self._epochs.path.name)
        dropped = self._segments[index + 1:]
        del self._segments[index + 1:]
        for later in dropped:
            later.delete()
        segment.truncate_to(cut)
        os.fsync(segment.fd)
        segment.reserve_bytes = reserve
        if dropped:
            fsync_dir(self.directory)
        return [(e, o) for e, o in scanned if o < self.end_offset]

    def _drop_segments_from(self, bases: List[int], last_kept: LogSegment, reserve: int) -> None:
        for base in bases:
            log.warning("deleting segment %020d: it does not continue %s, which ends at %d",
                        base, last_kept.path, last_kept.next_offset)
            LogSegment(self.directory, base, 0, 0).delete()
        last_kept.reserve_bytes = reserve

    def _recover_snapshots(self) -> None:
        for entry in os.scandir(self.directory):
            parsed = parse_snapshot_path(entry.path)
            if parsed is None:
                continue
            if parsed.partial or parsed.deleted:
                os.unlink(entry.path)
                continue
            if parsed.snapshot_id.offset < self._start_offset:
                log.info("deleting snapshot %s below the log start offset %d",
                         entry.name, self._start_offset)
                os.unlink(entry.path)
                continue
            self._snapshots[parsed.snapshot_id] = FileRawSnapshotReader(
                Path(entry.path), parsed.snapshot_id, validate=True)
        if self._start_offset > 0:
            latest = self.latest_snapshot_id()
            if latest is None or latest.offset < self._start_offset:
                raise StorageError(
                    f"log starts at offset {self._start_offset} but no snapshot reaches it",
                    self.directory)

    # --- reading -----------------------------------------------------------------
    @property
    def start_offset(self) -> int:
        return self._start_offset

    @property
    def end_offset(self) -> int:
        return self._segments[-1].next_offset

    @property
    def high_watermark(self) -> int:
        return self._high_watermark

    @property
    def last_flushed_offset(self) -> int:
        return self._last_flushed_offset

    @property
    def segments(self) -> List[LogSegment]:
        """The segments, oldest first (read-only use)."""
        return list(self._segments)

    def size_in_bytes(self) -> int:
        return sum(s.size for s in self._segments)

    def last_fetched_epoch(self) -> int:
        latest = self._epochs.latest_epoch()
        if latest is not None:
            return latest
        snapshot = self.latest_snapshot_id()
        if snapshot is None:
            return 0
        if snapshot.offset == self._start_offset == self.end_offset:
            return snapshot.epoch
        raise StorageError(
            f"log has no epoch but snapshot {snapshot} does not match its start "
            f"({self._start_offset}) and end ({self.end_offset}) offsets", self.directory)

    def end_offset_for_epoch(self, epoch: int) -> OffsetAndEpoch:
        found_epoch, found_offset = self._epochs.end_offset_for(epoch, self.end_offset)
        if found_offset == epoch_cache_mod.UNDEFINED_EPOCH_OFFSET:
            return OffsetAndEpoch(self.end_offset, self.last_fetched_epoch())
        earliest = self.earliest_snapshot_id()
        if earliest is not None and found_offset == earliest.offset and found_epoch == epoch:
            return earliest
        return OffsetAndEpoch(found_offset, found_epoch)

    def validate_offset_and_epoch(self, offset: int, epoch: int) -> ValidOffsetAndEpoch:
        if self._start_offset == 0 and offset == 0:
            return ValidOffsetAndEpoch(ValidationKind.VALID, OffsetAndEpoch(0, 0))
        earliest = self.earliest_snapshot_id()
        if earliest is not None and (
                offset < self._start_offset
                or (offset == self._start_offset and epoch != earliest.epoch)
                or epoch < earliest.epoch):
            latest = self.latest_snapshot_id()
            return ValidOffsetAndEpoch(ValidationKind.SNAPSHOT, latest)
        end = self.end_offset_for_epoch(epoch)
        if end.epoch != epoch or end.offset < offset:
            return ValidOffsetAndEpoch(ValidationKind.DIVERGING, end)
        return ValidOffsetAndEpoch(ValidationKind.VALID, OffsetAndEpoch(offset, epoch))

    def read(self, start_offset: int, max_bytes: int) -> LogFetchInfo:
        """Whole batches from the one holding ``start_offset``, up to ``max_bytes``
        but at least one batch; a memoryview of the mapped segment (no copy).

        Reads stop at the end of one segment, as Kafka's do.  Reading at the
        end offset returns no bytes; outside ``[start, end]`` raises
        :class:`OffsetOutOfRangeError`.
        """
        end = self.end_offset
        if start_offset < self._start_offset or start_offset > end:
            raise OffsetOutOfRangeError(
                f"offset {start_offset} is outside the log [{self._start_offset}, {end}]")
        if start_offset == end:
            return LogFetchInfo(memoryview(b""), start_offset)
        index = self._segment_index_for(start_offset)
        for segment in self._segments[index:]:
            data = segment.read(start_offset, max_bytes)
            if data is not None:
                self._read_since_release += data.nbytes
                if self._read_since_release >= self.release_mapped_every_bytes:
                    self.release_mapped_pages()
                return LogFetchInfo(data, start_offset)
        return LogFetchInfo(memoryview(b""), start_offset)

    def release_mapped_pages(self) -> None:
        """Drop every segment's resident mapped pages (RSS falls; the page cache keeps the
        data). Views already handed out, in fetch responses still being written, say,
        stay valid: they fault the pages back in from the page cache when read."""
        self._read_since_release = 0
        for segment in self._segments:
            segment.release_pages()

    def _segment_index_for(self, offset: int) -> int:
        lo, hi = 0, len(self._segments) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._segments[mid].base_offset <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo

    # --- appending -----------------------------------------------------------------
    def append_as_leader(self, records, epoch: int) -> LogAppendInfo:
        """Append whole batches, assigning offsets from the end offset and
        stamping ``epoch`` (which may not be below the log's latest epoch).

        The batches' CRCs are checked unless ``LogConfig.verify_leader_crc``
        is false; ``records`` is stamped in place when it is writable."""
        return self._append(records, True, epoch)

    def append_as_follower(self, records, epoch: int) -> LogAppendInfo:
        """Append fetched batches as they are: the first must start at the end
        offset, each where the previous ended, and epochs never go back."""
        return self._append(records, False, epoch)

    def _append(self, records, as_leader: bool, epoch: int) -> LogAppendInfo:
        if self._closed or self._failure is not None:
            self._check_open()
        latest = self._epochs.latest_epoch()
        empty_cache = latest is None
        if empty_cache:
            # a log restarted at a snapshot continues from the snapshot's epoch
            latest = self.latest_snapshot_id().epoch if self._snapshots else -1
        try:
            info = self._segments[-1].append_batches(records, as_leader, epoch, latest, empty_cache)
            if info is None:
                self._roll()
                info = self._segments[-1].append_batches(records, as_leader, epoch, latest, empty_cache)
        except (ValueError, BufferError, TypeError, OverflowError) as e:
            raise InvalidAppendError(str(e)) from None
        interval = self._flush_interval_ms
        if interval is not None and (interval == 0 or self._time_ms() - self._last_flush_ms >= interval):
            self.flush()
        return info

    def _on_epoch_start(self, epoch: int, start_offset: int) -> None:
        try:
            self._epochs.assign(epoch, start_offset)
        except OSError as e:
            # the batches are in the log and the cache is right in memory; the
            # checkpoint file is rebuilt from the segments on the next open
            log.warning("%s: cannot write the leader-epoch checkpoint: %s", self.directory, e)

    def _create_segment(self, base_offset: int) -> LogSegment:
        segment = LogSegment.create(self.directory, base_offset, self.config.index_interval_bytes,
                                    self.config.segment_bytes + self.config.max_batch_size)
        self._configure(segment)
        return segment

    def _configure(self, segment: LogSegment) -> None:
        config = self.config
        segment.created_ms = self._time_ms()
        segment.set_append_limits(config.segment_bytes, config.segment_ms, config.max_batch_size,
                                  config.verify_leader_crc, self._time_ms, LogAppendInfo,
                                  self._on_epoch_start)

    def _roll(self) -> None:
        active = self._segments[-1]
        new = self._create_segment(active.next_offset)
        try:
            fsync_dir(self.directory)
            active.on_become_inactive()
        except BaseException:
            new.delete()
            raise
        self._segments.append(new)

    # --- truncation -------------------------------------------------------------------
    def truncate_to(self, offset: int) -> None:
        """Remove every batch at or after ``offset`` (whole batches)."""
        self._check_open()
        if offset < self._high_watermark:
            raise ValueError(f"cannot truncate to {offset}, below the high watermark "
                             f"{self._high_watermark}")
        if offset >= self.end_offset:
            return
        if offset < self._segments[0].base_offset:
            self._truncate_fully_and_start_at(offset)
            return
        dropped = []
        while len(self._segments) > 1 and self._segments[-1].base_offset > offset:
            dropped.append(self._segments.pop())
        if dropped:
            self._delete_segments(dropped)    # fsyncs the directory: they must not come back
        active = self._segments[-1]
        active.truncate_to(offset)
        active.reserve_bytes = self.config.segment_bytes + self.config.max_batch_size
        self._epochs.truncate_from_end(self.end_offset)
        self._last_flushed_offset = min(self._last_flushed_offset, self.end_offset)
        self._truncations += 1

    def truncate_to_end_offset(self, end: OffsetAndEpoch) -> int:
        if end.epoch == 0:
            offset = min(end.offset, self.end_offset)
        else:
            local = self.end_offset_for_epoch(end.epoch)
            offset = min(local.offset, end.offset) if local.epoch == end.epoch else local.offset
        self.truncate_to(offset)
        return offset

    def _truncate_fully_and_start_at(self, offset: int) -> None:
        old, self._segments = self._segments, []
        self._delete_segments(old, sync=False)
        self._segments = [self._create_segment(offset)]
        fsync_dir(self.directory)
        self._start_offset = offset
        self._epochs.clear()
        self._high_watermark = offset
        self._last_flushed_offset = offset
        self._truncations += 1

    def update_high_watermark(self, offset: int) -> None:
        """Set the high watermark, clamped to ``[start offset, end offset]``."""
        self._high_watermark = min(max(offset, self._start_offset), self.end_offset)

    def initialize_leader_epoch(self, epoch: int) -> None:
        """A new leader's epoch starts at the current end offset."""
        self._epochs.assign(epoch, self.end_offset)

    def flush(self, force_flush_active_segment: bool = False) -> None:
        """fsync everything appended so far."""
        self._check_open()
        if self._last_flushed_offset < self.end_offset or force_flush_active_segment:
            try:
                self._segments[-1].flush()
            except OSError as e:
                # after a failed fsync the kernel may have dropped the dirty pages:
                # what is durable is unknown, so the log takes no more changes
                self._failure = e
                raise StorageError(f"fsync failed, the log accepts no more writes: {e}",
                                   self._segments[-1].path) from e
        self._last_flushed_offset = self.end_offset
        self._last_flush_ms = self._time_ms()

    def begin_background_flush(self) -> Optional[BackgroundFlush]:
        """What another thread must fsync to make everything appended so far durable, or ``None``
        when nothing is unflushed.

        The caller runs ``os.fsync(flush.fd)`` off the event loop (appends go on into the page
        cache meanwhile) and then calls :meth:`complete_background_flush` on the loop's thread
        with the flush and the error, if any.  ``flush.fd`` is a duplicate of the active
        segment's descriptor, so a roll or close meanwhile cannot hand the thread another
        file's descriptor; a segment that rolls meanwhile is fsynced by the roll itself.
        """
        self._check_open()
        end = self.end_offset
        if self._last_flushed_offset >= end:
            return None
        return BackgroundFlush(os.dup(self._segments[-1].fd), end, self._truncations, self._segments[-1].path)

    def complete_background_flush(self, flush: BackgroundFlush, error: Optional[BaseException] = None) -> None:
        """Count ``flush.end_offset`` as flushed (unless the log was truncated meanwhile: then the
        offsets it covered may hold other batches now); a failed fsync fails the log as
        :meth:`flush` does."""
        try:
            os.close(flush.fd)
        except OSError:
            pass
        if error is not None:
            if isinstance(error, OSError):
                self._failure = error
                raise StorageError(f"fsync failed, the log accepts no more writes: {error}", flush.path) from error
            raise error
        if flush.truncations == self._truncations and flush.end_offset > self._last_flushed_offset:
            self._last_flushed_offset = min(flush.end_offset, self.end_offset)
            self._last_flush_ms = self._time_ms()

    def maybe_flush(self) -> bool:
        """Flush if the flush policy says it is due and something is unflushed.

        The policy is checked at every append; a driver that wants the
        "every N ms" bound to hold when appends stop calls this on a timer.
        """
        policy = self.config.flush_policy
        if (self._last_flushed_offset < self.end_offset and policy.interval_ms is not None
                and policy.is_due(self._time_ms(), self._last_flush_ms)):
            self.flush()
            return True
        return False

    # --- snapshots ---------------------------------------------------------------------
    def latest_snapshot_id(self) -> Optional[OffsetAndEpoch]:
        return max(self._snapshots) if self._snapshots else None

    def earliest_snapshot_id(self) -> Optional[OffsetAndEpoch]:
        return min(self._snapshots) if self._snapshots else None

    def snapshot_ids(self) -> List[OffsetAndEpoch]:
        """Every published snapshot id, oldest first."""
        return sorted(self._snapshots)

    def read_snapshot(self, snapshot_id: OffsetAndEpoch) -> Optional[FileRawSnapshotReader]:
        if snapshot_id not in self._snapshots:
            return None
        reader = self._snapshots[snapshot_id]
        if reader is None:
            try:
                reader = FileRawSnapshotReader.open(self.directory, snapshot_id)
            except FileNotFoundError:
                log.warning("snapshot %s has no file %s", snapshot_id,
                            self.directory / snapshot_file_name(snapshot_id))
                del self._snapshots[snapshot_id]
                return None
            self._snapshots[snapshot_id] = reader
        return reader

    def create_new_snapshot(self, snapshot_id: OffsetAndEpoch) -> Optional[FileRawSnapshotWriter]:
        """A writer for a snapshot not yet held (``None`` when it exists).

        Any id is accepted, as the raft core downloads snapshots from the
        leader through this (Kafka's ``createNewSnapshotUnchecked``); a state
        machine snapshotting its own log uses :meth:`create_new_snapshot_checked`.
        """
        if snapshot_id in self._snapshots:
            return None
        return FileRawSnapshotWriter.create(self.directory, snapshot_id, self.on_snapshot_frozen)

    def create_new_snapshot_checked(self, snapshot_id: OffsetAndEpoch) -> Optional[FileRawSnapshotWriter]:
        """Kafka's ``createNewSnapshot``: a snapshot of this log's committed prefix.

        ``None`` below the log start or when it exists; ``ValueError`` beyond
        the high watermark or for an id the log does not hold.
        """
        if snapshot_id.offset < self._start_offset:
            log.info("cannot create snapshot %s below the log start offset %d",
                     snapshot_id, self._start_offset)
            return None
        if snapshot_id.offset > self._high_watermark:
            raise ValueError(f"cannot create snapshot {snapshot_id} beyond the high "
                             f"watermark {self._high_watermark}")
        valid = self.validate_offset_and_epoch(snapshot_id.offset, snapshot_id.epoch)
        if valid.kind is not ValidationKind.VALID:
            raise ValueError(f"snapshot id {snapshot_id} is not valid for the log: {valid}")
        return self.create_new_snapshot(snapshot_id)

    def on_snapshot_frozen(self, snapshot_id: OffsetAndEpoch) -> None:
        self._snapshots.setdefault(snapshot_id, None)

    def delete_before_snapshot(self, snapshot_id: OffsetAndEpoch) -> bool:
        """Advance the log start to ``snapshot_id.offset`` and delete the segments
        and snapshots wholly below it; ``False`` (nothing done) unless the id is a
        known snapshot with ``start < offset <= latest snapshot offset`` and
        ``offset <= high watermark`` (Kafka never moves the log start past it).

        Deleted files are renamed to ``*.deleted`` and removed
        ``file_delete_delay_ms`` later (see :meth:`delete_expired_files`).
        """
        self._check_open()
        latest = self.latest_snapshot_id()
        if (latest is None or snapshot_id not in self._snapshots
                or not self._start_offset < snapshot_id.offset <= latest.offset
                or snapshot_id.offset > self._high_watermark):
            return False
        new_start = snapshot_id.offset
        self._start_offset = new_start
        old = []
        while len(self._segments) > 1 and self._segments[1].base_offset <= new_start:
            old.append(self._segments.pop(0))
        if old:
            self._delete_segments(old)
        self._epochs.truncate_from_start(new_start)
        forgotten = self._forget_snapshots_before(snapshot_id)
        return bool(old) or forgotten > 0

    def _forget_snapshots_before(self, snapshot_id: OffsetAndEpoch) -> int:
        """Kafka's ``forgetSnapshotsBefore`` + ``removeSnapshots``: rename each older
        snapshot to ``.checkpoint.deleted`` and close and delete it later."""
        older = [s for s in self._snapshots if s < snapshot_id]
        marked, readers = [], []
        for s in older:
            reader = self._snapshots.pop(s)
            if reader is not None:
                readers.append(reader)
            path = self.directory / snapshot_file_name(s)
            target = path.with_name(path.name[:-len(".checkpoint")] + DELETED_SUFFIX)
            try:
                os.replace(path, target)
            except FileNotFoundError:
                continue
            marked.append(target)
        if older:
            self._schedule_deletion(marked, readers)
        return len(older)

    def _delete_segments(self, segments: List[LogSegment], sync: bool = True) -> None:
        """Kafka's asynchronous segment deletion: rename to ``.deleted`` now,
        remove after ``file_delete_delay_ms``."""
        marked = []
        for segment in segments:
            marked.extend(segment.mark_deleted())
        if sync:
            fsync_dir(self.directory)
        self._schedule_deletion(marked, [])

    def _schedule_deletion(self, paths: List[Path], readers: list) -> None:
        self._pending_deletions.append(
            (self._time_ms() + self.config.file_delete_delay_ms, paths, readers))
        if self.config.file_delete_delay_ms == 0:
            self.delete_expired_files()

    def delete_expired_files(self, now_ms: Optional[int] = None) -> int:
        """Remove the ``*.deleted`` files whose delay has passed (all of them when
        ``now_ms`` is ``float("inf")``); returns how many files went.  Called by
        :meth:`maybe_clean` and :meth:`close`; files still pending at a crash
        are removed by the next open."""
        now = self._time_ms() if now_ms is None else now_ms
        removed = 0
        keep = []
        for entry in self._pending_deletions:
            due, paths, readers = entry
            if due > now:
                keep.append(entry)
                continue
            for reader in readers:
                reader.close()
            for path in paths:
                try:
                    os.unlink(path)
                    removed += 1
                except FileNotFoundError:
                    pass
        self._pending_deletions = keep
        return removed

    # --- retention (Kafka's KafkaMetadataLog.maybeClean) -------------------------------
    def maybe_clean(self) -> bool:
        """Apply ``retention_max_bytes`` then ``retention_ms`` to the snapshots.

        Oldest first, while a snapshot has a successor: if the log plus all
        snapshots exceed ``retention_max_bytes``, or the snapshot's
        LastContainedLogTimestamp is more than ``retention_ms`` old, the log
        start moves to the successor (:meth:`delete_before_snapshot`), which
        removes the snapshot and the segments wholly before the successor.
        Stops at the first snapshot that is kept; the latest snapshot always
        stays.  Also removes deleted files whose delay has passed.  Kafka's
        raft client calls this at most once a minute.  Returns whether
        anything was deleted.
        """
        self._check_open()
        cleaned = self._clean_snapshots_retention_size()
        cleaned = self._clean_snapshots_retention_ms() or cleaned
        self.delete_expired_files()
        return cleaned

    def _clean_snapshots(self, should_delete: Callable[[OffsetAndEpoch], Optional[str]]) -> bool:
        ids = self.snapshot_ids()
        cleaned = False
        for older, newer in zip(ids, ids[1:]):
            reason = should_delete(older)
            if reason is None or not self.delete_before_snapshot(newer):
                break
            log.info("%s: deleted snapshot %s and the log before %s: %s",
                     self.directory, older, newer, reason)
            cleaned = True
        return cleaned

    def _clean_snapshots_retention_size(self) -> bool:
        limit = self.config.retention_max_bytes
        if limit < 0:
            return False
        sizes = {}
        for snapshot_id in self.snapshot_ids():
            reader = self.read_snapshot(snapshot_id)
            if reader is not None:
                sizes[snapshot_id] = reader.size_in_bytes()
        total = sum(sizes.values())

        def over_size(snapshot_id: OffsetAndEpoch) -> Optional[str]:
            nonlocal total
            if snapshot_id not in sizes:
                return None
            log_size = self.size_in_bytes()
            if log_size + total <= limit:
                return None
            reason = f"log size {log_size} + snapshots {total} bytes exceed {limit}"
            total -= sizes[snapshot_id]
            return reason

        return self._clean_snapshots(over_size)

    def _clean_snapshots_retention_ms(self) -> bool:
        limit = self.config.retention_ms
        if limit < 0:
            return False

        def too_old(snapshot_id: OffsetAndEpoch) -> Optional[str]:
            reader = self.read_snapshot(snapshot_id)
            if reader is None:
                return None
            timestamp = reader.last_contained_log_timestamp()
            now = self._time_ms()
            if now - timestamp <= limit:
                return None
            return f"last contained timestamp {timestamp} is more than {limit} ms before {now}"

        return self._clean_snapshots(too_old)

    def truncate_to_latest_snapshot(self) -> bool:
        """If the latest snapshot is ahead of the log, empty the log and restart it
        at the snapshot's end offset (a follower that installed a snapshot)."""
        latest_epoch = self._epochs.latest_epoch() or 0
        snapshot = self.latest_snapshot_id()
        if snapshot is None or not (
                snapshot.epoch > latest_epoch
                or (snapshot.epoch == latest_epoch and snapshot.offset > self.end_offset)):
            return False
        self._truncate_fully_and_start_at(snapshot.offset)
        self._forget_snapshots_before(snapshot)
        return True

    # --- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Flush and close every file."""
        if self._closed:
            return
        try:
            if self._failure is None:
                self.flush()
        finally:
            self._close_segments()
            for reader in self._snapshots.values():
                if reader is not None:
                    reader.close()
            self.delete_expired_files(float("inf"))   # nobody reads them any more
            self._closed = True

    def _close_segments(self) -> None:
        for segment in self._segments:
            segment.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("log is closed", self.directory)
        if self._failure is not None:
            raise StorageError(f"log failed earlier and is read-only: {self._failure}", self.directory)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
