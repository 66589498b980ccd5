"""When the log fsyncs its active segment on its own.

Kafka's raft client asks the log to flush after every leader append and
before acknowledging fetched data, so the default here is :meth:`never`
(the driver calls :meth:`FileReplicatedLog.flush`).  A deployment may also
have the log fsync after every append, or at most every N milliseconds
(checked at each append, and by :meth:`FileReplicatedLog.maybe_flush`,
which a driver can call on a timer).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class FlushPolicy:
    """``interval_ms`` 0: every append; N > 0: when N ms passed since the last
    flush (checked at each append); ``None``: never (the caller flushes)."""

    interval_ms: Optional[int] = None

    def __post_init__(self):
        if self.interval_ms is not None and self.interval_ms < 0:
            raise ValueError(f"flush interval must be >= 0 ms, got {self.interval_ms}")

    @classmethod
    def every_append(cls) -> "FlushPolicy":
        return cls(0)

    @classmethod
    def every(cls, interval_ms: int) -> "FlushPolicy":
        return cls(interval_ms)

    @classmethod
    def never(cls) -> "FlushPolicy":
        return cls(None)

    def is_due(self, now_ms: int, last_flush_ms: int) -> bool:
        """Whether an append at ``now_ms`` should be followed by an fsync."""
        if self.interval_ms is None:
            return False
        return now_ms - last_flush_ms >= self.interval_ms
