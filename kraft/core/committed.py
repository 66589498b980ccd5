"""The committed batch as listeners receive it, over either log (memory or disk)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from kraft.core.effects import LeaderChangeMessage

__all__ = ["Batch"]


@dataclass(frozen=True)
class Batch:
    """A committed batch as listeners receive it: data records, or none for a control batch.

    ``size_in_bytes`` (keyword only, required) is the batch's exact size as a
    Kafka record batch v2, uncompressed, as the raft layer writes it: the
    61-byte header and the records.  Kafka's controller counts it towards
    ``metadata.log.max.record.bytes.between.snapshots``.
    """

    base_offset: int
    last_offset: int
    epoch: int
    append_time_ms: int
    records: tuple = ()
    control: Optional[LeaderChangeMessage] = None
    size_in_bytes: int = field(kw_only=True)
