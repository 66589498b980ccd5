"""Control records: the records of control batches (attribute bit 5).

A control record's key is 4 bytes, ``int16 version`` (0) and ``int16 type``;
its value depends on the type.  KRaft writes LEADER_CHANGE, SNAPSHOT_HEADER,
SNAPSHOT_FOOTER, KRAFT_VERSION and KRAFT_VOTERS, whose values are the
flexible messages of :mod:`kraft.protocol.messages` at version 0; Kafka's
transactions write ABORT and COMMIT markers (``EndTransactionMarker``).

``encode_control_batch(messages, ...)`` builds a control batch of one or
more messages the way Kafka's raft writer does (uncompressed, CreateTime,
every record at the batch timestamp, null producer fields);
``decode_control_record(record)`` gives back ``(type, message)``;
``read_control_batch(batch)`` reads every record of a control batch, the one
reader the in-memory log, the log on disk and the core's voter-set history use.
"""
from __future__ import annotations

import dataclasses
import enum
import struct
from typing import NamedTuple

from kraft.errors import CorruptRecordError, KraftError
from kraft.protocol.messages import (
    KRaftVersionRecord,
    LeaderChangeMessage,
    SnapshotFooterRecord,
    SnapshotHeaderRecord,
    VotersRecord,
)
from kraft.records import Record, encode_batch

__all__ = [
    "ControlRecordKey",
    "ControlRecordType",
    "EndTransactionMarker",
    "decode_control_key",
    "decode_control_record",
    "decode_control_value",
    "encode_control_batch",
    "encode_control_key",
    "encode_control_record",
    "read_control_batch",
]

#: The control key version written (readers parse any version >= 0 as it).
CONTROL_KEY_VERSION = 0
#: The value version KRaft writes and reads for all five of its messages.
CONTROL_VALUE_VERSION = 0

_KEY = struct.Struct(">hh")
_END_TXN = struct.Struct(">hi")


class ControlRecordType(enum.IntEnum):
    """Kafka's control record types (the ``type`` of the key)."""

    ABORT = 0
    COMMIT = 1
    LEADER_CHANGE = 2
    SNAPSHOT_HEADER = 3
    SNAPSHOT_FOOTER = 4
    KRAFT_VERSION = 5
    KRAFT_VOTERS = 6
    UNKNOWN = -1  # any other id read from a key


class ControlRecordKey(NamedTuple):
    version: int
    type: ControlRecordType
    type_id: int  # as read; differs from type only for UNKNOWN


@dataclasses.dataclass(frozen=True)
class EndTransactionMarker:
    """The value of an ABORT or COMMIT control record."""

    coordinator_epoch: int
    version: int = 0

    def encode(self, version: int = 0) -> bytes:
        return _END_TXN.pack(version, self.coordinator_epoch)


_MESSAGES = {
    ControlRecordType.LEADER_CHANGE: LeaderChangeMessage,
    ControlRecordType.SNAPSHOT_HEADER: SnapshotHeaderRecord,
    ControlRecordType.SNAPSHOT_FOOTER: SnapshotFooterRecord,
    ControlRecordType.KRAFT_VERSION: KRaftVersionRecord,
    ControlRecordType.KRAFT_VOTERS: VotersRecord,
}
_TYPES = {message: record_type for record_type, message in _MESSAGES.items()}


def encode_control_key(record_type: ControlRecordType | int) -> bytes:
    """The 4-byte key of a control record of ``record_type``."""
    return _KEY.pack(CONTROL_KEY_VERSION, int(record_type))


def decode_control_key(key) -> ControlRecordKey:
    """Read a control record key; raise ``CorruptRecordError`` if it is not one.

    Like Kafka, a key version above 0 is read as version 0 and an unknown type
    id is ``ControlRecordType.UNKNOWN``.
    """
    if key is None or len(key) < _KEY.size:
        size = "null" if key is None else f"{len(key)} bytes"
        raise CorruptRecordError(f"control record key must have at least {_KEY.size} bytes, found {size}")
    version, type_id = _KEY.unpack_from(key)
    if version < 0:
        raise CorruptRecordError(f"invalid control record key version {version}")
    try:
        record_type = ControlRecordType(type_id)
    except ValueError:
        record_type = ControlRecordType.UNKNOWN
    return ControlRecordKey(version, record_type, type_id)


def control_record_type(message) -> ControlRecordType:
    """The control record type whose value ``message`` is."""
    if isinstance(message, EndTransactionMarker):
        raise KraftError("an EndTransactionMarker is ABORT or COMMIT: pass the type explicitly")
    try:
        return _TYPES[type(message)]
    except KeyError:
        raise TypeError(f"{type(message).__name__} is not the value of a control record") from None


def encode_control_record(message, record_type: ControlRecordType | None = None) -> Record:
    """A ``Record`` holding ``message`` as a control record (key and value).

    The type follows from the message's class; give ``record_type`` (ABORT
    or COMMIT) for an ``EndTransactionMarker``.
    """
    if record_type is None:
        record_type = control_record_type(message)
    return Record(message.encode(CONTROL_VALUE_VERSION), key=encode_control_key(record_type))


def decode_control_value(record_type: ControlRecordType, value):
    """The message a control record of ``record_type`` holds in ``value``."""
    if value is None:
        raise CorruptRecordError(f"{record_type.name} control record has a null value")
    if record_type in (ControlRecordType.ABORT, ControlRecordType.COMMIT):
        if len(value) < _END_TXN.size:
            raise CorruptRecordError(
                f"end transaction marker must have at least {_END_TXN.size} bytes, found {len(value)}"
            )
        version, coordinator_epoch = _END_TXN.unpack_from(value)
        if version < 0:
            raise CorruptRecordError(f"invalid end transaction marker version {version}")
        return EndTransactionMarker(coordinator_epoch, version)
    message = _MESSAGES.get(record_type)
    if message is None:
        raise CorruptRecordError(f"unknown control record type {record_type!r}")
    try:
        return message.decode(value, CONTROL_VALUE_VERSION)
    except KraftError as exc:
        raise CorruptRecordError(f"bad {message.__name__} in a {record_type.name} control record: {exc}") from exc


def decode_control_record(record):
    """``(ControlRecordType, message)`` for a record of a control batch."""
    record_type = decode_control_key(record.key).type
    return record_type, decode_control_value(record_type, record.value)


def encode_control_batch(messages, *, base_offset: int = 0, partition_leader_epoch: int = 0,
                         timestamp: int | None = None, is_transactional: bool = False,
                         producer_id: int = -1, producer_epoch: int = -1) -> bytes:
    """A control batch holding ``messages``, as Kafka's raft writer builds it.

    ``messages`` is a control message, or a list of them; an item may also be
    a ``(ControlRecordType, message)`` pair (needed for transaction markers,
    whose batches also take ``is_transactional`` and the producer fields).
    """
    if not isinstance(messages, (list, tuple)):
        messages = [messages]
    records = []
    for item in messages:
        if isinstance(item, tuple):
            record_type, message = item
            records.append(encode_control_record(message, ControlRecordType(record_type)))
        else:
            records.append(encode_control_record(item))
    return encode_batch(records, base_offset=base_offset, partition_leader_epoch=partition_leader_epoch,
                        timestamp=timestamp, is_control=True, is_transactional=is_transactional,
                        producer_id=producer_id, producer_epoch=producer_epoch)


def read_control_batch(batch, wanted=None):
    """``[(offset, ControlRecordType, message)]`` for the records of the control batch
    ``batch`` (a ``RecordBatch``), in order: a batch may hold several (a leader's
    start-of-epoch batch holds LeaderChange, KRaftVersion and Voters).

    Only the values of types in ``wanted`` (all when ``None``) are decoded; the
    others come with ``None`` as message.  A record that does not decode raises
    ``CorruptRecordError`` whose ``offset`` attribute is the record's offset.
    """
    out = []
    for record in batch:
        offset = record.offset
        try:
            record_type = decode_control_key(record.key).type
            message = None
            if wanted is None or record_type in wanted:
                message = decode_control_value(record_type, record.value)
        except CorruptRecordError as exc:
            exc.offset = offset
            raise
        out.append((offset, record_type, message))
    return out
