"""Applying a core :class:`~kraft.core.effects.Output` to a log, a quorum-state
store and a transport, in order.  Shared by the simulator and real drivers."""
from __future__ import annotations

import logging
from typing import Callable, Optional, Protocol

from kraft.core.effects import (
    AbandonSnapshotDownload, AppendAsFollower, AppendAsLeader, AppendSnapshotChunk, CheckApiVersions, CleanLog, Flush,
    InitializeLeaderEpoch, InstallSnapshot, LeaderBatch, LogMessage, Output, PersistElection, Respond, Send,
    StartSnapshotDownload, TruncateToEndOffset, UpdateHighWatermark,
)
from kraft.core.errors import FatalRaftError
from kraft.core.log import ReplicatedLog
from kraft.core.types import ElectionState
from kraft.errors import KraftError

logger = logging.getLogger("kraft.core.apply")


class ElectionStore(Protocol):
    def write_election_state(self, election: ElectionState) -> None:
        """Write the quorum-state durably (fsync) before returning."""
        ...


class Transport(Protocol):
    def send(self, effect: Send) -> None: ...

    def respond(self, effect: Respond) -> None: ...


class SnapshotDownloads:
    """The snapshots being downloaded into one log, by snapshot id.

    Whoever applies a log's effects owns one beside the log (a driver, a simulated node),
    and replaces it when it replaces the log: a download in progress lives as long as the
    log it writes into.
    """

    __slots__ = ("writers",)

    def __init__(self):
        self.writers: dict = {}

    def take_all(self) -> list:
        """The writers of every download in progress, forgotten here (to close, or to drop)."""
        writers = list(self.writers.values())
        self.writers.clear()
        return writers

    def close_all(self) -> None:
        for writer in self.take_all():
            writer.close()


def _apply_snapshot_effect(log: ReplicatedLog, downloads: SnapshotDownloads, effect) -> None:
    writers = downloads.writers
    kind = type(effect)
    if kind is StartSnapshotDownload:
        writer = log.create_new_snapshot(effect.snapshot_id)
        if writer is None:
            raise FatalRaftError(f"cannot create snapshot {effect.snapshot_id} to download into")
        writers[effect.snapshot_id] = writer
    elif kind is AppendSnapshotChunk:
        writers[effect.snapshot_id].append(effect.data)
    elif kind is AbandonSnapshotDownload:
        writer = writers.pop(effect.snapshot_id, None)
        if writer is not None:
            writer.close()
    elif kind is InstallSnapshot:
        writer = writers.pop(effect.snapshot_id)
        try:
            writer.freeze()
        except KraftError as e:
            # Bytes that are not a valid snapshot are dropped with their partial file and the log is
            # left as it was: the core reads the log end again at its next step, fetches from there
            # and is sent to the leader's snapshot once more.
            writer.close()
            logger.error("Discarded the downloaded snapshot %s: %s; the log keeps %d-%d", effect.snapshot_id, e,
                         log.start_offset, log.end_offset)
            return
        writer.close()
        start, end = log.start_offset, log.end_offset
        if not log.truncate_to_latest_snapshot():
            raise FatalRaftError(f"the log did not truncate fully to the downloaded snapshot {effect.snapshot_id}")
        logger.info("Truncated the log fully, from [%d, %d) to start at offset %d: snapshot %s installed "
                    "from the leader", start, end, log.start_offset, effect.snapshot_id)


def _truncate(log: ReplicatedLog, effect: TruncateToEndOffset) -> None:
    before = log.end_offset
    log.truncate_to_end_offset(effect.diverging)
    after = log.end_offset      # whole batches go: it may be below the offset asked for
    if after < before:
        hw = "unknown" if effect.high_watermark is None else effect.high_watermark
        logger.info("Truncated the log from end offset %d to %d: %s (the leader's diverging end offset %d in "
                    "epoch %d; high watermark %s)", before, after, effect.reason, effect.diverging.offset,
                    effect.diverging.epoch, hw)


def apply_output(
    output: Output,
    *,
    log: ReplicatedLog,
    store: ElectionStore,
    transport: Transport,
    encode_batch: Callable[[LeaderBatch], bytes],
    downloads: SnapshotDownloads,
    background_flush: Optional[Callable[[], None]] = None,
) -> None:
    """Apply every effect of ``output`` in order; stop at the first exception.

    ``background_flush``: starts a flush off the caller's loop, for ``Flush(background=True)``
    (the caller wakes the core when it ends); without it every flush is done here."""
    for effect in output.effects:
        kind = type(effect)
        if kind is Send:
            transport.send(effect)
        elif kind is Respond:
            transport.respond(effect)
        elif kind is AppendAsLeader:
            log.append_as_leader(encode_batch(effect.batch), effect.batch.epoch)
        elif kind is AppendAsFollower:
            log.append_as_follower(effect.records, effect.epoch)
        elif kind is Flush:
            if effect.background and background_flush is not None:
                background_flush()
            else:
                log.flush(False)
        elif kind is UpdateHighWatermark:
            log.update_high_watermark(effect.offset)
        elif kind is PersistElection:
            store.write_election_state(effect.election)
        elif kind is TruncateToEndOffset:
            _truncate(log, effect)
        elif kind is InitializeLeaderEpoch:
            log.initialize_leader_epoch(effect.epoch)
        elif kind is CleanLog:
            log.maybe_clean()
        elif kind is CheckApiVersions:
            check = getattr(transport, "check_api_versions", None)
            if check is not None:  # without one the check times out in the core (REQUEST_TIMED_OUT)
                check(effect)
        elif kind in (StartSnapshotDownload, AppendSnapshotChunk, AbandonSnapshotDownload, InstallSnapshot):
            _apply_snapshot_effect(log, downloads, effect)
        elif kind is LogMessage:
            logger.log(effect.level, "%s", effect.message)
        else:
            raise TypeError(f"unknown effect {effect!r}")
