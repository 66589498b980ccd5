"""Record batches (magic 2) in plain Python: the readable twin of the Cython
codec in ``kraft._native.records`` and the oracle the tests compare it with.

Layout (big-endian): baseOffset int64, batchLength int32,
partitionLeaderEpoch int32, magic int8, crc uint32, attributes int16,
lastOffsetDelta int32, baseTimestamp int64, maxTimestamp int64, producerId
int64, producerEpoch int16, baseSequence int32, recordsCount int32, then the
records (or one compressed stream of them).  The CRC-32C covers attributes to
the end.  Each record: varint length, int8 attributes, varlong
timestampDelta, varint offsetDelta, varint key length (-1 = null) and key,
varint value length (-1 = null) and value, varint header count, and per
header a varint key length, UTF-8 key, varint value length (-1 = null), value.
"""
from __future__ import annotations

import struct
import time

from kraft.checksum import crc32c
from kraft.errors import CorruptRecordError, CrcMismatchError
from kraft.records import compression as codecs_
from kraft.records.constants import (
    ATTRIBUTES_OFFSET,
    COMPRESSION_MASK,
    CONTROL_MASK,
    CREATE_TIME,
    LOG_APPEND_TIME,
    LOG_OVERHEAD,
    MAGIC,
    MAGIC_OFFSET,
    MAX_BATCH_SIZE,
    MIN_BATCH_LENGTH,
    RECORD_BATCH_OVERHEAD,
    TIMESTAMP_TYPE_MASK,
    TRANSACTIONAL_MASK,
)

__all__ = ["BatchIterator", "Record", "RecordBatch", "decode_batches", "encode_batch"]

_HEADER = struct.Struct(">qiibIhiqqqhii")
_INT32 = (-(1 << 31), (1 << 31) - 1)
_INT64 = (-(1 << 63), (1 << 63) - 1)
_INT16 = (-(1 << 15), (1 << 15) - 1)


class Record:
    """One record: ``value``, ``key``, ``headers``, ``timestamp`` and ``offset``.

    To encode, build ``Record(value, key=None, headers=(), timestamp=None)``;
    headers are ``(str, bytes | None)`` pairs and the timestamp is in
    milliseconds (None: the batch's timestamp).  Decoded records also carry
    their ``offset``, and their key and value are memoryviews into the batch.
    """

    __slots__ = ("value", "key", "headers", "timestamp", "offset")

    def __init__(self, value, key=None, headers=(), timestamp=None, offset=None):
        setattr_ = object.__setattr__
        setattr_(self, "value", value)
        setattr_(self, "key", key)
        setattr_(self, "headers", tuple(headers))
        setattr_(self, "timestamp", timestamp)
        setattr_(self, "offset", offset)

    def __setattr__(self, name, value):
        raise AttributeError(f"Record is read-only; cannot set {name!r}")

    def _fields(self):
        return (self.offset, self.timestamp, self.key, self.value, self.headers)

    def __eq__(self, other):
        if not hasattr(other, "headers") or not hasattr(other, "offset"):
            return NotImplemented
        return self._fields() == (other.offset, other.timestamp, other.key, other.value, tuple(other.headers))

    __hash__ = None

    def __repr__(self):
        def show(data):
            return None if data is None else bytes(data)

        headers = tuple((key, show(value)) for key, value in self.headers)
        return (
            f"Record(offset={self.offset}, timestamp={self.timestamp}, key={show(self.key)!r}, "
            f"value={show(self.value)!r}, headers={headers!r})"
        )


# -- encoding ---------------------------------------------------------------


def _write_varint(out: bytearray, value: int) -> None:
    """Append ``value`` zig-zag encoded as a (32- or 64-bit) varint."""
    unsigned = (value << 1) ^ (value >> 63)
    while unsigned >= 0x80:
        out.append((unsigned & 0x7F) | 0x80)
        unsigned >>= 7
    out.append(unsigned)


def _write_bytes(out: bytearray, data) -> None:
    if data is None:
        out.append(1)  # varint -1
        return
    _write_varint(out, len(data))
    out += data


def _check_range(name: str, value: int, bounds: tuple[int, int]) -> None:
    """TypeError for a non-integer, OverflowError out of range (as the Cython
    codec's C conversions do)."""
    if not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    if not bounds[0] <= value <= bounds[1]:
        raise OverflowError(f"{name} must be in [{bounds[0]}, {bounds[1]}], not {value}")


def _as_bytes(name: str, data):
    if data is None:
        return None
    try:
        return memoryview(data).cast("B")
    except TypeError:
        raise TypeError(
            f"record {name} must be a contiguous bytes-like object or None, not {type(data).__name__}"
        ) from None


def _write_record(out, offset_delta, timestamp_delta, key, value, headers):
    body = bytearray(b"\x00")  # attributes
    _write_varint(body, timestamp_delta)
    _write_varint(body, offset_delta)
    _write_bytes(body, _as_bytes("key", key))
    _write_bytes(body, _as_bytes("value", value))
    _write_varint(body, len(headers))
    for header in headers:
        header_key, header_value = header
        if not isinstance(header_key, str):
            raise TypeError(f"header keys must be str, not {type(header_key).__name__}")
        _write_bytes(body, header_key.encode("utf-8"))
        _write_bytes(body, _as_bytes("header value", header_value))
    _write_varint(out, len(body))
    out += body


def encode_batch(
    records,
    *,
    base_offset=0,
    partition_leader_epoch=0,
    timestamp=None,
    compression="none",
    is_control=False,
    is_transactional=False,
    producer_id=-1,
    producer_epoch=-1,
    base_sequence=-1,
    log_append_time=None,
) -> bytes:
    """Encode one record batch (magic 2) and return its bytes.

    ``records`` holds ``Record``s or plain bytes-like values.  A record
    without a timestamp gets ``timestamp`` (default: now, in ms); the batch's
    base timestamp is its first record's and its max timestamp the largest.
    Records without an offset follow the previous one (the first gets
    ``base_offset``).  ``log_append_time`` marks the batch LogAppendTime with
    that max timestamp.  ``compression`` is a name or id (see
    ``kraft.records.compression``).
    """
    codec = _codec(compression)
    _check_range("base_offset", base_offset, _INT64)
    _check_range("partition_leader_epoch", partition_leader_epoch, _INT32)
    _check_range("producer_id", producer_id, _INT64)
    _check_range("producer_epoch", producer_epoch, _INT16)
    _check_range("base_sequence", base_sequence, _INT32)
    if timestamp is None:
        timestamp = int(time.time() * 1000)
    _check_range("timestamp", timestamp, _INT64)
    records = list(records)
    if not records:
        raise ValueError("a record batch needs at least one record")

    body = bytearray()
    base_timestamp = None
    max_timestamp = None
    offset_delta = -1
    for record in records:
        if hasattr(record, "headers"):
            record_timestamp = timestamp if record.timestamp is None else record.timestamp
            if record.offset is None:
                offset_delta += 1
            else:
                if record.offset - base_offset <= offset_delta:
                    raise ValueError(f"record offsets must increase from base_offset, got {record.offset}")
                offset_delta = record.offset - base_offset
            key, value, headers = record.key, record.value, record.headers
        else:
            record_timestamp = timestamp
            offset_delta += 1
            key, value, headers = None, record, ()
        _check_range("record timestamp", record_timestamp, _INT64)
        _check_range("offset delta", offset_delta, _INT32)
        if base_timestamp is None:
            base_timestamp = max_timestamp = record_timestamp
        _check_range("timestamp delta", record_timestamp - base_timestamp, _INT64)
        max_timestamp = max(max_timestamp, record_timestamp)
        _write_record(body, offset_delta, record_timestamp - base_timestamp, key, value, headers)

    attributes = codec
    if log_append_time is not None:
        _check_range("log_append_time", log_append_time, _INT64)
        attributes |= TIMESTAMP_TYPE_MASK
        max_timestamp = log_append_time
    if is_transactional:
        attributes |= TRANSACTIONAL_MASK
    if is_control:
        attributes |= CONTROL_MASK
    if codec:
        body = codecs_.compress(codec, body)
    batch_length = RECORD_BATCH_OVERHEAD - LOG_OVERHEAD + len(body)
    _check_range("batch size", batch_length, _INT32)
    header = bytearray(
        _HEADER.pack(
            base_offset, batch_length, partition_leader_epoch, MAGIC, 0, attributes, offset_delta,
            base_timestamp, max_timestamp, producer_id, producer_epoch, base_sequence, len(records),
        )
    )
    header += body
    struct.pack_into(">I", header, 17, crc32c(memoryview(header)[ATTRIBUTES_OFFSET:]))
    return bytes(header)


def _codec(compression_name) -> int:
    return codecs_.codec_id(compression_name)


# -- decoding ---------------------------------------------------------------


def _add64(a: int, b: int) -> int:
    """a + b wrapping around like Java's long arithmetic (only corrupt or
    hostile batches ever wrap)."""
    return (a + b + (1 << 63)) % (1 << 64) - (1 << 63)


class _Malformed(Exception):
    """A record is malformed; ``RecordBatch`` adds the batch's coordinates."""


def _read_varint(data, position: int, end: int, max_bytes: int) -> tuple[int, int]:
    """Read a zig-zag varint of at most ``max_bytes`` bytes (5: int32, 10: int64)."""
    unsigned = 0
    for index in range(max_bytes):
        if position >= end:
            raise _Malformed(f"varint runs past the end of the record at byte {position}")
        byte = data[position]
        position += 1
        unsigned |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            bits = 32 if max_bytes == 5 else 64
            if unsigned >> bits:
                raise _Malformed(f"varint overflows {bits} bits at byte {position - 1}")
            return (unsigned >> 1) ^ -(unsigned & 1), position
    raise _Malformed(f"varint longer than {max_bytes} bytes at byte {position - max_bytes}")


def _read_length(data, position: int, end: int, what: str):
    length, position = _read_varint(data, position, end, 5)
    if length < -1:
        raise _Malformed(f"negative {what} length {length}")
    if length > end - position:
        raise _Malformed(f"{what} length {length} runs past the end of the record")
    return length, position


class RecordBatch:
    """One record batch read from a buffer, without copying it.

    The header fields are attributes; iterating yields ``Record``s whose key
    and value are memoryviews into the batch (or into its decompressed
    records).  ``validate()`` checks the CRC and every record.
    """

    def __init__(self, buffer, position: int = 0, max_decompressed_size: int | None = None):
        view = memoryview(buffer).cast("B")
        if len(view) < RECORD_BATCH_OVERHEAD:
            raise CorruptRecordError(
                f"record batch of {len(view)} bytes is shorter than its {RECORD_BATCH_OVERHEAD}-byte header",
                position=position,
            )
        (
            self.base_offset, batch_length, self.partition_leader_epoch, self.magic, self.crc,
            self.attributes, last_offset_delta, self.base_timestamp, self.max_timestamp,
            self.producer_id, self.producer_epoch, self.base_sequence, self.record_count,
        ) = _HEADER.unpack_from(view)
        self.position = position
        self.size_in_bytes = batch_length + LOG_OVERHEAD
        if self.magic != MAGIC:
            raise self._corrupt(f"unsupported magic {self.magic} (only {MAGIC} is read)")
        if self.size_in_bytes != len(view):
            raise self._corrupt(f"batch length {batch_length} disagrees with the {len(view)} bytes given")
        if self.record_count < 0:
            raise self._corrupt(f"negative record count {self.record_count}")
        codec = self.attributes & COMPRESSION_MASK
        if codec >= len(codecs_.CODEC_NAMES):
            raise self._corrupt(f"unknown compression codec {codec}")
        self.last_offset = _add64(self.base_offset, last_offset_delta)
        self.compression = codecs_.CODEC_NAMES[codec]
        self.timestamp_type = LOG_APPEND_TIME if self.attributes & TIMESTAMP_TYPE_MASK else CREATE_TIME
        self.is_transactional = bool(self.attributes & TRANSACTIONAL_MASK)
        self.is_control = bool(self.attributes & CONTROL_MASK)
        self._view = view
        if max_decompressed_size is None:
            max_decompressed_size = codecs_.MAX_DECOMPRESSED_SIZE
        self._max_decompressed_size = max_decompressed_size
        self._records = None

    @property
    def buffer(self) -> memoryview:
        """The batch's bytes, exactly as read."""
        return self._view

    def __len__(self):
        return self.record_count

    def _corrupt(self, message: str) -> CorruptRecordError:
        return CorruptRecordError(message, base_offset=self.base_offset, position=self.position)

    def compute_crc(self) -> int:
        """The CRC-32C of the batch's bytes (what ``crc`` should be)."""
        return crc32c(self._view[ATTRIBUTES_OFFSET:])

    def is_valid_crc(self) -> bool:
        return self.compute_crc() == self.crc

    def check_crc(self) -> None:
        """Raise ``CrcMismatchError`` unless the stored CRC matches."""
        computed = self.compute_crc()
        if computed != self.crc:
            raise CrcMismatchError(
                f"record batch CRC mismatch: stored {self.crc:#010x}, computed {computed:#010x}",
                base_offset=self.base_offset,
                position=self.position,
            )

    def validate(self) -> None:
        """Check the CRC and parse every record; raise ``CorruptRecordError``."""
        self.check_crc()
        for _ in self:
            pass

    def _record_bytes(self) -> memoryview:
        if self._records is None:
            raw = self._view[RECORD_BATCH_OVERHEAD:]
            codec = self.attributes & COMPRESSION_MASK
            if codec:
                try:
                    raw = memoryview(codecs_.decompress(codec, raw, self._max_decompressed_size))
                except codecs_.DecompressionError as exc:
                    raise self._corrupt(str(exc)) from None
            self._records = raw
        return self._records

    def __iter__(self):
        data = self._record_bytes()
        end = len(data)
        position = 0
        log_append_time = self.timestamp_type == LOG_APPEND_TIME
        try:
            for index in range(self.record_count):
                if position >= end:
                    raise _Malformed(
                        f"record count {self.record_count} but the records end after {index}"
                    )
                length, position = _read_varint(data, position, end, 5)
                if length <= 0 or length > end - position:
                    raise _Malformed(f"record {index} has bad length {length} ({end - position} bytes left)")
                record_end = position + length
                position += 1  # attributes
                timestamp_delta, position = _read_varint(data, position, record_end, 10)
                offset_delta, position = _read_varint(data, position, record_end, 5)
                key_length, position = _read_length(data, position, record_end, "key")
                key = None if key_length < 0 else data[position : position + key_length]
                position += max(key_length, 0)
                value_length, position = _read_length(data, position, record_end, "value")
                value = None if value_length < 0 else data[position : position + value_length]
                position += max(value_length, 0)
                count, position = _read_varint(data, position, record_end, 5)
                if count < 0:
                    raise _Malformed(f"negative header count {count}")
                headers = []
                for _ in range(count):
                    header_key_length, position = _read_length(data, position, record_end, "header key")
                    if header_key_length < 0:
                        raise _Malformed("null header key")
                    # Java decodes malformed UTF-8 to U+FFFD rather than failing.
                    header_key = str(data[position : position + header_key_length], "utf-8", "replace")
                    position += header_key_length
                    header_value_length, position = _read_length(data, position, record_end, "header value")
                    header_value = None
                    if header_value_length >= 0:
                        header_value = bytes(data[position : position + header_value_length])
                        position += header_value_length
                    headers.append((header_key, header_value))
                if position != record_end:
                    raise _Malformed(f"record {index} declares {length} bytes but holds {length - (record_end - position)}")
                if log_append_time:
                    timestamp = self.max_timestamp
                else:
                    timestamp = _add64(self.base_timestamp, timestamp_delta)
                yield Record(value, key, headers, timestamp, _add64(self.base_offset, offset_delta))
            if position != end:
                raise _Malformed(f"{end - position} bytes left after the {self.record_count} records")
        except _Malformed as exc:
            raise self._corrupt(str(exc)) from None

    def values(self) -> list:
        """The records' values (memoryviews, or None), in order."""
        return [record.value for record in self]

    def __repr__(self):
        return (
            f"RecordBatch(base_offset={self.base_offset}, last_offset={self.last_offset}, "
            f"record_count={self.record_count}, size_in_bytes={self.size_in_bytes}, "
            f"compression={self.compression!r}, is_control={self.is_control})"
        )


class BatchIterator:
    """Iterates over the batches of a buffer.

    Stops cleanly at a trailing partial batch (as in a Fetch response cut at
    its size limit); afterwards ``trailing_bytes`` is its size (0 when the
    buffer ended on a batch boundary) and ``position`` where it starts.
    """

    def __init__(self, buffer, check_crc=True, max_batch_size=None, max_decompressed_size=None):
        self._view = memoryview(buffer).cast("B")
        self._check_crc = check_crc
        self._max_batch_size = MAX_BATCH_SIZE if max_batch_size is None else max_batch_size
        self._max_decompressed_size = max_decompressed_size
        self.position = 0
        self.trailing_bytes = 0

    def __iter__(self):
        return self

    def __next__(self) -> RecordBatch:
        view = self._view
        position = self.position
        remaining = len(view) - position
        if remaining < MAGIC_OFFSET + 1:
            self.trailing_bytes = remaining
            raise StopIteration
        base_offset, batch_length = struct.unpack_from(">qi", view, position)
        if batch_length < MIN_BATCH_LENGTH:
            raise CorruptRecordError(
                f"batch length {batch_length} is less than the minimum {MIN_BATCH_LENGTH}",
                base_offset=base_offset, position=position,
            )
        if batch_length + LOG_OVERHEAD > self._max_batch_size:
            raise CorruptRecordError(
                f"batch size {batch_length + LOG_OVERHEAD} exceeds the maximum {self._max_batch_size}",
                base_offset=base_offset, position=position,
            )
        magic = view[position + MAGIC_OFFSET]
        if magic != MAGIC:
            raise CorruptRecordError(
                f"unsupported magic {magic} (only {MAGIC} is read)", base_offset=base_offset, position=position
            )
        size = batch_length + LOG_OVERHEAD
        if remaining < size:
            self.trailing_bytes = remaining
            raise StopIteration
        batch = RecordBatch(view[position : position + size], position, self._max_decompressed_size)
        if self._check_crc:
            batch.check_crc()
        self.position = position + size
        return batch


def decode_batches(buffer, *, check_crc=True, max_batch_size=None, max_decompressed_size=None) -> BatchIterator:
    """Iterate over the record batches in ``buffer`` (any bytes-like object).

    Each batch's CRC is checked as it is reached unless ``check_crc`` is
    false.  A trailing partial batch ends the iteration and is reported in
    the iterator's ``trailing_bytes``; anything malformed raises
    ``CorruptRecordError`` (``CrcMismatchError`` for a bad CRC).
    ``max_batch_size`` (default ``MAX_BATCH_SIZE``) bounds a batch's declared
    size and ``max_decompressed_size`` (default ``MAX_DECOMPRESSED_SIZE``) its
    records once decompressed.
    """
    return BatchIterator(buffer, check_crc, max_batch_size, max_decompressed_size)
