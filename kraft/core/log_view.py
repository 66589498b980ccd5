"""The node's collaborators for effects and for its view of the log.

* :class:`Outbox` collects the effects of one ``start``/``step``/``poll`` call, in order.
* :class:`LogView` is the log as the node sees it within a call: the end offset and
  epoch including appends the driver has not applied yet, and the high watermark.
  Every change of the log the core asks for goes through it: it emits the effect,
  moves its end and keeps the voter-set history in step: appends (leader's and
  follower's) add the voter sets and kraft.versions their control records hold,
  truncation drops those recorded past the new end, and a snapshot install starts
  the history afresh from the snapshot, read once the driver has installed it.  The
  history is loaded from the log at the first call.

The RPC modules use these, the quorum state and the node's public methods; none
writes another object's private state.
"""
from __future__ import annotations

from typing import Optional

from kraft.core.effects import (
    AppendAsFollower, AppendAsLeader, Flush, InstallSnapshot, Output, TruncateToEndOffset, UpdateHighWatermark,
)
from kraft.core.log import OffsetAndEpoch

__all__ = ["LogView", "Outbox"]


class Outbox:
    """Where the effects of the current call go (``None`` between calls)."""

    __slots__ = ("output",)

    def __init__(self):
        self.output: Optional[Output] = None

    def begin(self) -> Output:
        self.output = Output()
        return self.output

    def emit(self, effect) -> None:
        self.output.effects.append(effect)

    def take(self) -> Output:
        out, self.output = self.output, None
        return out


class LogView:
    """End offset, high watermark, append and truncate, as the node sees the log during a call."""

    __slots__ = ("end", "high_watermark", "_outbox", "_history", "_reload")

    def __init__(self, outbox: Outbox, history):
        #: log end offset and last fetched epoch, including appends not yet applied
        self.end = OffsetAndEpoch(0, 0)
        #: the high watermark as this node knows it (``None`` until known)
        self.high_watermark: Optional[int] = None
        self._outbox = outbox
        self._history = history
        #: whether the history must be read from the log at the next sync
        self._reload = True

    def sync(self, log) -> None:
        """Read the end from the log (the driver applied every effect of the last call)."""
        self.end = OffsetAndEpoch(log.end_offset, log.last_fetched_epoch())
        if self._reload:
            self._reload = False
            self._history.load(log)

    def set_high_watermark(self, offset: int) -> None:
        self.high_watermark = offset
        self._outbox.emit(UpdateHighWatermark(offset))

    def append_as_leader(self, batch, epoch: int) -> None:
        self._outbox.emit(AppendAsLeader(batch))
        self.end = OffsetAndEpoch(batch.last_offset + 1, epoch)
        if batch.control_records:
            self._history.append_leader_batch(batch)

    def append_as_follower(self, records, last_epoch: int, last_offset: int, headers=None) -> None:
        """Fetched batches (then flushed) ending at ``last_offset`` in ``last_epoch``
        (``headers``: their :func:`~kraft.core.batches.scan_batches`, if known)."""
        emit = self._outbox.emit
        emit(AppendAsFollower(records, last_epoch, last_offset))
        emit(Flush())
        self.end = OffsetAndEpoch(last_offset + 1, max(self.end.epoch, last_epoch))
        self._history.append_records(records, headers)

    def truncate(self, diverging: OffsetAndEpoch, new_end: int) -> None:
        self._outbox.emit(TruncateToEndOffset(diverging, new_end, high_watermark=self.high_watermark))
        self.end = OffsetAndEpoch(new_end, self.end.epoch)
        self._history.truncate_new_entries(new_end)

    def install_snapshot(self, snapshot_id: OffsetAndEpoch) -> None:
        self._outbox.emit(InstallSnapshot(snapshot_id))
        self.end = OffsetAndEpoch(snapshot_id.offset, snapshot_id.epoch)
        self._history.clear()
        self._reload = True   # the snapshot's own records, once the driver has installed it
