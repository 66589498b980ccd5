"""The Voters control record (KIP-853) as the core writes and reads it.

A leader that changes the voters appends one control batch holding one
``VotersRecord`` (key type 6, value version 0), as Kafka's
``BatchAccumulator.appendVotersRecord`` does; the new set is in force from that
record's offset, committed or not.  A follower reads the Voters and
KRaftVersion records of the control batches it fetches, so the voter set it
acts on follows its log.

The batch is always in Kafka's record format, also in :class:`~kraft.core.memory.MemoryLog`
(whose own compact batches carry a zero CRC: :func:`control_records_in` reads only
batches with a CRC, i.e. Kafka's).
"""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from typing import Iterator, Optional

from kraft.protocol import messages
from kraft.core.types import Endpoint, Endpoints, ReplicaKey, Voter, VoterSet

__all__ = ["VotersControl", "encode_voters_batch", "voter_set_from_record", "voters_record", "control_records_in"]

#: Kafka's VotersRecord and KRaftVersionRecord value versions (ControlRecordUtils.*_CURRENT_VERSION).
VOTERS_RECORD_VERSION = 0
KRAFT_VERSION_RECORD_VERSION = 0
_KRAFT_VERSION_TYPE = 5
_VOTERS_TYPE = 6
_CRC_AT = 17  # base offset 8, length 4, leader epoch 4, magic 1


@dataclass(frozen=True)
class VotersControl:
    """A leader batch holding one Voters record: ``voters`` from its offset on.

    With ``kraft_version`` set, a KRaftVersion record comes first in the same batch (what a new
    leader writes at the start of its epoch when the log holds no Voters record yet)."""

    voters: VoterSet
    version: int = VOTERS_RECORD_VERSION
    kraft_version: Optional[int] = None

    @property
    def record_count(self) -> int:
        return 1 if self.kraft_version is None else 2


def voters_record(voters: VoterSet) -> "messages.VotersRecord":
    """Kafka's ``VoterSet.toVotersRecord``: each voter's key, listeners and kraft.version range."""
    m = messages.VotersRecord
    return m(version=VOTERS_RECORD_VERSION, voters=[
        m.Voter(voter_id=v.key.id, voter_directory_id=_wire_uuid(v.key.directory_or_zero),
                endpoints=[m.Endpoint(name=e.name, host=e.host, port=e.port) for e in v.endpoints],
                kraft_version_feature=m.KRaftVersionFeature(min_supported_version=v.kraft_versions[0],
                                                           max_supported_version=v.kraft_versions[1]))
        for v in voters.voters()])


def voter_set_from_record(record) -> VoterSet:
    """The voter set a ``VotersRecord`` holds."""
    return VoterSet(
        Voter(ReplicaKey.of(v.voter_id, uuid.UUID(bytes=bytes(v.voter_directory_id))),
              Endpoints(Endpoint(e.name, e.host, e.port) for e in v.endpoints),
              (v.kraft_version_feature.min_supported_version, v.kraft_version_feature.max_supported_version))
        for v in record.voters)


def encode_voters_batch(control: VotersControl, base_offset: int, epoch: int, append_time_ms: int) -> bytes:
    """The control batch of ``control`` in Kafka's format."""
    from kraft.records.control import encode_control_batch
    records = [voters_record(control.voters)]
    if control.kraft_version is not None:
        records.insert(0, messages.KRaftVersionRecord(version=KRAFT_VERSION_RECORD_VERSION,
                                                      kraft_version=control.kraft_version))
    return encode_control_batch(records, base_offset=base_offset, partition_leader_epoch=epoch,
                                timestamp=append_time_ms)


def voters_batch_size(control: VotersControl) -> int:
    return len(encode_voters_batch(control, 0, 0, 0))


def control_records_in(records, headers) -> Iterator[tuple[int, str, object]]:
    """``(offset, kind, value)`` for each KRaftVersion (``"kraft.version"``, the level) and Voters
    (``"voters"``, a :class:`VoterSet`) record in the control batches of ``records``."""
    from kraft.records import decode_batches
    from kraft.records.control import decode_control_key, decode_control_value
    view = memoryview(records)
    for h in headers:
        if not h.is_control:
            continue
        (crc,) = struct.unpack_from(">I", view, h.position + _CRC_AT)
        if crc == 0:  # MemoryLog's compact LeaderChange batch
            continue
        for batch in decode_batches(view[h.position:h.position + h.size], check_crc=False):
            for record in batch:
                key = decode_control_key(record.key)
                if key.type_id == _VOTERS_TYPE:
                    yield record.offset, "voters", voter_set_from_record(
                        decode_control_value(key.type, record.value))
                elif key.type_id == _KRAFT_VERSION_TYPE:
                    yield record.offset, "kraft.version", decode_control_value(
                        key.type, record.value).kraft_version


def _wire_uuid(value: uuid.UUID):
    from kraft.protocol import Uuid
    return Uuid(value.bytes)
