# distutils: sources = kraft/_native/src/crc32c.c
"""Record batches (magic 2) in Cython: the product path of ``kraft.records``.

Same API and behaviour as ``kraft.records._pure``, which documents the byte
layout.  Encoding measures every record, then writes straight into the
result ``bytes`` (one copy of each value, no Python object per record for
plain bytes values).  Decoding parses with C pointers and makes one
``Record`` and one memoryview per value read.
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release
from cpython.exc cimport PyErr_Clear
from cpython.memoryview cimport PyMemoryView_GET_BUFFER
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeUTF8
from libc.stdint cimport INT32_MAX, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

cdef extern from "crc32c.h" nogil:
    uint32_t kraft_crc32c_update(uint32_t crc, const void *buf, size_t len)

cdef extern from "Python.h":
    # Without an exception value, so a refusal can become a clear TypeError.
    int _get_buffer "PyObject_GetBuffer"(object obj, Py_buffer *view, int flags)
    # Given a memoryview, a new view sharing its managed buffer (one allocation).
    object PyMemoryView_FromObject(object obj)


cdef inline object _subview(object template, const uint8_t *start, Py_ssize_t length):
    """A memoryview of start[0:length] inside template's buffer (1-D, bytes).

    Equivalent to slicing template, minus the slice and index objects that
    slicing creates: a new view of the same managed buffer (which keeps the
    exporter alive and counts the export), narrowed in place the way CPython
    narrows a slice of a contiguous 1-D view.
    """
    cdef object view = PyMemoryView_FromObject(template)
    cdef Py_buffer *buffer = PyMemoryView_GET_BUFFER(view)
    buffer.buf = <void *>start
    buffer.len = length
    buffer.shape[0] = length
    return view

import time as _time

from kraft.errors import CorruptRecordError, CrcMismatchError

__all__ = ["BatchIterator", "Record", "RecordBatch", "decode_batches", "encode_batch"]

cdef tuple _NO_HEADERS = ()
cdef str CREATE_TIME = "CreateTime"
cdef str LOG_APPEND_TIME = "LogAppendTime"

# kraft.records imports this module, so its submodules are imported on first
# use rather than here (importing this module first would be circular).
cdef object _codecs_module = None
cdef object _constants_module = None


cdef object _codecs():
    global _codecs_module
    if _codecs_module is None:
        from kraft.records import compression
        _codecs_module = compression
    return _codecs_module


cdef object _constants():
    global _constants_module
    if _constants_module is None:
        from kraft.records import constants
        _constants_module = constants
    return _constants_module

cdef enum:
    LOG_OVERHEAD = 12
    HEADER_SIZE = 61
    MIN_BATCH_LENGTH = 49
    MAGIC = 2
    MAGIC_OFFSET = 16
    CRC_OFFSET = 17
    ATTRIBUTES_OFFSET = 21
    COMPRESSION_MASK = 0x07
    TIMESTAMP_TYPE_MASK = 0x08
    TRANSACTIONAL_MASK = 0x10
    CONTROL_MASK = 0x20


# -- bytes in and out ---------------------------------------------------------

cdef inline int64_t _get_i64(const uint8_t *p) noexcept nogil:
    return <int64_t>(
        (<uint64_t>p[0] << 56) | (<uint64_t>p[1] << 48) | (<uint64_t>p[2] << 40) | (<uint64_t>p[3] << 32)
        | (<uint64_t>p[4] << 24) | (<uint64_t>p[5] << 16) | (<uint64_t>p[6] << 8) | <uint64_t>p[7]
    )


cdef inline uint32_t _get_u32(const uint8_t *p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | <uint32_t>p[3]


cdef inline int16_t _get_i16(const uint8_t *p) noexcept nogil:
    return <int16_t>((<uint16_t>p[0] << 8) | <uint16_t>p[1])


cdef inline uint8_t *_put_i64(uint8_t *p, int64_t value) noexcept nogil:
    cdef uint64_t v = <uint64_t>value
    p[0] = <uint8_t>(v >> 56); p[1] = <uint8_t>(v >> 48); p[2] = <uint8_t>(v >> 40); p[3] = <uint8_t>(v >> 32)
    p[4] = <uint8_t>(v >> 24); p[5] = <uint8_t>(v >> 16); p[6] = <uint8_t>(v >> 8); p[7] = <uint8_t>v
    return p + 8


cdef inline uint8_t *_put_u32(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = <uint8_t>(v >> 24); p[1] = <uint8_t>(v >> 16); p[2] = <uint8_t>(v >> 8); p[3] = <uint8_t>v
    return p + 4


cdef inline uint8_t *_put_i16(uint8_t *p, int16_t value) noexcept nogil:
    cdef uint16_t v = <uint16_t>value
    p[0] = <uint8_t>(v >> 8); p[1] = <uint8_t>v
    return p + 2


cdef inline int64_t _add64(int64_t a, int64_t b) noexcept nogil:
    """a + b wrapping around like Java's long arithmetic (no C overflow)."""
    return <int64_t>(<uint64_t>a + <uint64_t>b)


cdef inline Py_ssize_t _varint_size(int64_t value) noexcept nogil:
    cdef uint64_t u = (<uint64_t>value << 1) ^ <uint64_t>(value >> 63)
    cdef Py_ssize_t size = 1
    while u >= 0x80:
        u >>= 7
        size += 1
    return size


def record_size(int64_t offset_delta, int64_t value_length):
    """Bytes of one record with a null key, timestamp delta 0, no headers and a value of
    ``value_length`` bytes, at ``offset_delta`` from its batch's base offset (length prefix
    included): :func:`kraft.records.sizes.record_size`, called once per record by the leader's
    accumulator."""
    cdef int64_t body = 4 + _varint_size(offset_delta) + _varint_size(value_length) + value_length
    return body + _varint_size(body)


cdef inline uint8_t *_put_varint(uint8_t *p, int64_t value) noexcept nogil:
    cdef uint64_t u = (<uint64_t>value << 1) ^ <uint64_t>(value >> 63)
    while u >= 0x80:
        p[0] = <uint8_t>((u & 0x7F) | 0x80)
        p += 1
        u >>= 7
    p[0] = <uint8_t>u
    return p + 1


cdef inline Py_ssize_t _field_size(Py_ssize_t length) noexcept nogil:
    """Size of a nullable length-prefixed field (-1: null)."""
    return 1 if length < 0 else _varint_size(length) + length


cdef inline uint8_t *_put_field(uint8_t *p, const uint8_t *data, Py_ssize_t length) noexcept nogil:
    p = _put_varint(p, length)
    if length > 0:
        memcpy(p, data, length)
        p += length
    return p


# -- parsing ------------------------------------------------------------------

cdef enum:
    OK = 0
    E_VARINT_TRUNCATED
    E_VARINT_TOO_LONG
    E_VARINT_OVERFLOW
    E_RECORD_LENGTH
    E_NEGATIVE_LENGTH
    E_LENGTH_PAST_END
    E_HEADER_COUNT
    E_NULL_HEADER_KEY
    E_RECORD_SIZE


cdef struct Cursor:
    const uint8_t *data
    Py_ssize_t pos
    Py_ssize_t end
    int error
    Py_ssize_t error_pos


cdef struct RecordFields:
    Py_ssize_t start           # the record's first byte (its length)
    int64_t timestamp_delta
    int32_t offset_delta
    Py_ssize_t key_pos
    Py_ssize_t key_len         # -1: null
    Py_ssize_t value_pos
    Py_ssize_t value_len       # -1: null
    Py_ssize_t headers_pos
    int32_t header_count


cdef inline int _fail(Cursor *c, int code, Py_ssize_t at) noexcept nogil:
    c.error = code
    c.error_pos = at
    return code


cdef inline int64_t _read_varint(Cursor *c, int max_bytes) noexcept nogil:
    """A zig-zag varint of at most max_bytes bytes (5: int32, 10: int64).

    Stricter than Kafka, which drops the bits of a last byte that do not fit.
    """
    cdef uint64_t result = 0
    cdef uint64_t byte
    cdef int index
    cdef Py_ssize_t start = c.pos
    if c.pos < c.end and c.data[c.pos] < 0x80:
        byte = c.data[c.pos]
        c.pos += 1
        return <int64_t>(byte >> 1) ^ -<int64_t>(byte & 1)
    for index in range(max_bytes):
        if c.pos >= c.end:
            _fail(c, E_VARINT_TRUNCATED, start)
            return 0
        byte = c.data[c.pos]
        c.pos += 1
        if index == max_bytes - 1:
            if byte & 0x80:
                _fail(c, E_VARINT_TOO_LONG, start)
                return 0
            if byte > (0x0F if max_bytes == 5 else 0x01):
                _fail(c, E_VARINT_OVERFLOW, start)
                return 0
        result |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            break
    if max_bytes == 5:
        return <int32_t>((<uint32_t>result >> 1) ^ (0 - (<uint32_t>result & 1)))
    return <int64_t>((result >> 1) ^ (0 - (result & 1)))


cdef inline Py_ssize_t _read_length(Cursor *c) noexcept nogil:
    """A field length: -1 (null) or a length that fits in what is left."""
    cdef Py_ssize_t at = c.pos
    cdef Py_ssize_t length = <Py_ssize_t>_read_varint(c, 5)
    if c.error:
        return 0
    if length < -1:
        _fail(c, E_NEGATIVE_LENGTH, at)
        return 0
    if length > c.end - c.pos:
        _fail(c, E_LENGTH_PAST_END, at)
        return 0
    return length


cdef int _parse_record(Cursor *c, RecordFields *f) noexcept nogil:
    """Parse and check one record at c.pos (headers are walked, not built)."""
    cdef Py_ssize_t length, record_end, outer_end = c.end, key_len, value_len
    cdef int32_t i
    f.start = c.pos
    length = <Py_ssize_t>_read_varint(c, 5)
    if c.error:
        return c.error
    if length <= 0 or length > c.end - c.pos:
        return _fail(c, E_RECORD_LENGTH, f.start)
    record_end = c.pos + length
    c.end = record_end
    c.pos += 1  # attributes, unused
    f.timestamp_delta = _read_varint(c, 10)
    if c.error:
        return c.error
    f.offset_delta = <int32_t>_read_varint(c, 5)
    if c.error:
        return c.error
    f.key_len = _read_length(c)
    if c.error:
        return c.error
    f.key_pos = c.pos
    if f.key_len > 0:
        c.pos += f.key_len
    f.value_len = _read_length(c)
    if c.error:
        return c.error
    f.value_pos = c.pos
    if f.value_len > 0:
        c.pos += f.value_len
    f.header_count = <int32_t>_read_varint(c, 5)
    if c.error:
        return c.error
    if f.header_count < 0:
        return _fail(c, E_HEADER_COUNT, f.start)
    f.headers_pos = c.pos
    for i in range(f.header_count):
        key_len = _read_length(c)
        if c.error:
            return c.error
        if key_len < 0:
            return _fail(c, E_NULL_HEADER_KEY, f.start)
        c.pos += key_len
        value_len = _read_length(c)
        if c.error:
            return c.error
        if value_len > 0:
            c.pos += value_len
    if c.pos != record_end:
        return _fail(c, E_RECORD_SIZE, f.start)
    c.end = outer_end
    return OK


cdef str _describe(int code, Py_ssize_t at, Py_ssize_t index):
    where = f"record {index} at byte {at} of the records"
    if code == E_VARINT_TRUNCATED:
        return f"varint runs past the end of the record ({where})"
    if code == E_VARINT_TOO_LONG:
        return f"varint is too long ({where})"
    if code == E_VARINT_OVERFLOW:
        return f"varint overflows its type ({where})"
    if code == E_RECORD_LENGTH:
        return f"bad record length ({where})"
    if code == E_NEGATIVE_LENGTH:
        return f"negative length other than -1 ({where})"
    if code == E_LENGTH_PAST_END:
        return f"length runs past the end of the record ({where})"
    if code == E_HEADER_COUNT:
        return f"negative header count ({where})"
    if code == E_NULL_HEADER_KEY:
        return f"null header key ({where})"
    return f"record length disagrees with its fields ({where})"


# -- records ------------------------------------------------------------------

@cython.freelist(256)
@cython.no_gc  # holds only bytes-like values and header tuples: no cycles
cdef class Record:
    """One record: ``value``, ``key``, ``headers``, ``timestamp`` and ``offset``.

    To encode, build ``Record(value, key=None, headers=(), timestamp=None)``;
    headers are ``(str, bytes | None)`` pairs and the timestamp is in
    milliseconds (None: the batch's timestamp).  Decoded records also carry
    their ``offset``, and their key and value are memoryviews into the batch.
    """
    cdef readonly object value
    cdef readonly object key
    cdef readonly tuple headers
    cdef int64_t _timestamp
    cdef int64_t _offset
    cdef bint _has_timestamp
    cdef bint _has_offset

    def __init__(self, value, key=None, headers=(), timestamp=None, offset=None):
        self.value = value
        self.key = key
        self.headers = headers if type(headers) is tuple else tuple(headers)
        self._has_timestamp = timestamp is not None
        if self._has_timestamp:
            self._timestamp = timestamp
        self._has_offset = offset is not None
        if self._has_offset:
            self._offset = offset

    @property
    def timestamp(self):
        return self._timestamp if self._has_timestamp else None

    @property
    def offset(self):
        return self._offset if self._has_offset else None

    def __eq__(self, other):
        if not hasattr(other, "headers") or not hasattr(other, "offset"):
            return NotImplemented
        return (self.offset, self.timestamp, self.key, self.value, self.headers) == (
            other.offset, other.timestamp, other.key, other.value, tuple(other.headers)
        )

    __hash__ = None

    def __repr__(self):
        def show(data):
            return None if data is None else bytes(data)

        headers = tuple((key, show(value)) for key, value in self.headers)
        return (
            f"Record(offset={self.offset}, timestamp={self.timestamp}, key={show(self.key)!r}, "
            f"value={show(self.value)!r}, headers={headers!r})"
        )


# -- encoding -----------------------------------------------------------------

cdef struct Borrowed:
    Py_buffer view
    bint held


cdef inline Py_ssize_t _borrow(object data, str what, Borrowed *borrowed, const uint8_t **ptr) except -2:
    """Point ptr at data's bytes; -1 for None.  Release with _unborrow."""
    borrowed.held = False
    if data is None:
        return -1
    if PyBytes_CheckExact(data):
        ptr[0] = <const uint8_t *>PyBytes_AS_STRING(data)
        return PyBytes_GET_SIZE(data)
    if _get_buffer(data, &borrowed.view, PyBUF_SIMPLE) == -1:
        PyErr_Clear()
        raise TypeError(f"record {what} must be a contiguous bytes-like object or None, not {type(data).__name__}")
    borrowed.held = True
    ptr[0] = <const uint8_t *>borrowed.view.buf
    return borrowed.view.len


cdef inline void _unborrow(Borrowed *borrowed) noexcept:
    if borrowed.held:
        PyBuffer_Release(&borrowed.view)
        borrowed.held = False


cdef inline int64_t _timestamp_delta(int64_t timestamp, int64_t base) except? -1:
    cdef int64_t delta = <int64_t>(<uint64_t>timestamp - <uint64_t>base)
    if ((timestamp ^ base) & (timestamp ^ delta)) < 0:
        raise OverflowError(f"timestamp {timestamp} is too far from the base timestamp {base}")
    return delta


cdef Py_ssize_t _encode_record(Record record, int64_t offset_delta, int64_t timestamp_delta,
                               uint8_t *out, uint8_t *end) except -1:
    """Size of a record; with out, also write it there (never past end)."""
    cdef Borrowed key_view, value_view, header_view
    cdef const uint8_t *key_ptr = NULL
    cdef const uint8_t *value_ptr = NULL
    cdef const uint8_t *header_ptr = NULL
    cdef const char *key_chars
    cdef Py_ssize_t key_len, value_len, header_key_len, header_value_len, body, size
    cdef tuple headers = record.headers
    cdef uint8_t *p
    key_view.held = False
    value_view.held = False
    header_view.held = False
    try:
        key_len = _borrow(record.key, "key", &key_view, &key_ptr)
        value_len = _borrow(record.value, "value", &value_view, &value_ptr)
        body = 1 + _varint_size(timestamp_delta) + _varint_size(offset_delta)
        body += _field_size(key_len) + _field_size(value_len) + _varint_size(len(headers))
        for header in headers:
            header_key, header_value = header
            _check_header_key(header_key)
            PyUnicode_AsUTF8AndSize(header_key, &header_key_len)  # cached in the str
            header_value_len = _borrow(header_value, "header value", &header_view, &header_ptr)
            _unborrow(&header_view)
            body += _field_size(header_key_len) + _field_size(header_value_len)
        size = _varint_size(body) + body
        if out == NULL:
            return size
        if end - out < size:
            raise RuntimeError("a record changed while it was being encoded")
        p = _put_varint(out, body)
        p[0] = 0  # attributes
        p = _put_varint(p + 1, timestamp_delta)
        p = _put_varint(p, offset_delta)
        p = _put_field(p, key_ptr, key_len)
        p = _put_field(p, value_ptr, value_len)
        p = _put_varint(p, len(headers))
        for header in headers:
            header_key, header_value = header
            _check_header_key(header_key)
            key_chars = PyUnicode_AsUTF8AndSize(header_key, &header_key_len)
            header_value_len = _borrow(header_value, "header value", &header_view, &header_ptr)
            try:
                if end - p < _field_size(header_key_len) + _field_size(header_value_len):
                    raise RuntimeError("a record changed while it was being encoded")
                p = _put_field(p, <const uint8_t *>key_chars, header_key_len)
                p = _put_field(p, header_ptr, header_value_len)
            finally:
                _unborrow(&header_view)
        if p - out != size:
            raise RuntimeError("a record changed while it was being encoded")
        return size
    finally:
        _unborrow(&key_view)
        _unborrow(&value_view)


cdef inline int _check_header_key(object header_key) except -1:
    if not isinstance(header_key, str):
        raise TypeError(f"header keys must be str, not {type(header_key).__name__}")
    return 0


cdef Record _as_record(object item):
    """A Record for anything encode_batch accepts that is not plain bytes."""
    if type(item) is Record:
        return <Record>item
    if hasattr(item, "headers") and hasattr(item, "value"):  # another Record type
        return Record(item.value, item.key, item.headers, item.timestamp, getattr(item, "offset", None))
    return Record(item)


def encode_batch(
    records,
    *,
    int64_t base_offset=0,
    int32_t partition_leader_epoch=0,
    timestamp=None,
    compression="none",
    bint is_control=False,
    bint is_transactional=False,
    int64_t producer_id=-1,
    int16_t producer_epoch=-1,
    int32_t base_sequence=-1,
    log_append_time=None,
):
    """Encode one record batch (magic 2) and return its bytes.

    ``records`` holds ``Record``s or plain bytes-like values.  A record
    without a timestamp gets ``timestamp`` (default: now, in ms); the batch's
    base timestamp is its first record's and its max timestamp the largest.
    Records without an offset follow the previous one (the first gets
    ``base_offset``).  ``log_append_time`` marks the batch LogAppendTime with
    that max timestamp.  ``compression`` is a name or id (see
    ``kraft.records.compression``).
    """
    cdef int codec = 0 if compression == "none" else _codecs().codec_id(compression)
    cdef int64_t default_timestamp = (<int64_t>(_time.time() * 1000)) if timestamp is None else timestamp
    cdef list items = records if type(records) is list else list(records)
    cdef Py_ssize_t count = len(items), index, records_size = 0, size, value_len
    cdef int64_t base_timestamp, max_timestamp, record_timestamp, offset_delta = -1, delta
    cdef int64_t last_offset_delta
    cdef bint has_records = False
    cdef object item, body, out, compressed
    cdef Record record
    cdef uint8_t *p
    cdef uint8_t *end
    cdef uint8_t *start
    cdef int attributes = codec

    if count == 0:
        raise ValueError("a record batch needs at least one record")
    if count > INT32_MAX:
        raise OverflowError("too many records for one batch")

    # Pass 1: measure.  Anything not bytes or Record is turned into a Record
    # (in a copy of the list) so both passes see the same objects.  The base
    # timestamp is the first record's.
    base_timestamp = max_timestamp = default_timestamp
    for index in range(count):
        item = items[index]
        if PyBytes_CheckExact(item):
            value_len = PyBytes_GET_SIZE(item)
            offset_delta += 1
            if index == 0:
                base_timestamp = max_timestamp = default_timestamp
            delta = _timestamp_delta(default_timestamp, base_timestamp)
            size = 3 + _varint_size(delta) + _varint_size(offset_delta) + _field_size(value_len)
            records_size += _varint_size(size) + size
            if default_timestamp > max_timestamp:
                max_timestamp = default_timestamp
        else:
            if type(item) is not Record:
                if items is records:
                    items = list(items)
                item = _as_record(item)
                items[index] = item
            record = <Record>item
            record_timestamp = record._timestamp if record._has_timestamp else default_timestamp
            if index == 0:
                base_timestamp = max_timestamp = record_timestamp
            if record._has_offset:
                delta = record._offset - base_offset
                if delta <= offset_delta:
                    raise ValueError(f"record offsets must increase from base_offset, got {record._offset}")
                offset_delta = delta
            else:
                offset_delta += 1
            delta = _timestamp_delta(record_timestamp, base_timestamp)
            records_size += _encode_record(record, offset_delta, delta, NULL, NULL)
            if record_timestamp > max_timestamp:
                max_timestamp = record_timestamp
        if offset_delta > INT32_MAX:
            raise OverflowError(f"offset delta {offset_delta} does not fit in 32 bits")
    last_offset_delta = offset_delta

    # Pass 2: write the records after the header (or into a scratch buffer
    # that is then compressed).
    if codec == 0:
        if records_size > INT32_MAX - MIN_BATCH_LENGTH:
            raise OverflowError(f"a batch of {records_size} bytes of records is too large")
        out = PyBytes_FromStringAndSize(NULL, HEADER_SIZE + records_size)
        start = <uint8_t *>PyBytes_AS_STRING(out)
        p = start + HEADER_SIZE
    else:
        body = PyBytes_FromStringAndSize(NULL, records_size)
        start = NULL
        p = <uint8_t *>PyBytes_AS_STRING(body)
    end = p + records_size
    offset_delta = -1
    for index in range(count):
        item = items[index]
        if PyBytes_CheckExact(item):
            value_len = PyBytes_GET_SIZE(item)
            offset_delta += 1
            delta = default_timestamp - base_timestamp
            size = 3 + _varint_size(delta) + _varint_size(offset_delta) + _field_size(value_len)
            if end - p < _varint_size(size) + size:
                raise RuntimeError("the records changed while they were being encoded")
            p = _put_varint(p, size)
            p[0] = 0  # attributes
            p = _put_varint(p + 1, delta)
            p = _put_varint(p, offset_delta)
            p[0] = 1  # null key
            p = _put_field(p + 1, <const uint8_t *>PyBytes_AS_STRING(item), value_len)
            p[0] = 0  # no headers
            p += 1
        else:
            record = <Record>item
            record_timestamp = record._timestamp if record._has_timestamp else default_timestamp
            offset_delta = (record._offset - base_offset) if record._has_offset else offset_delta + 1
            p += _encode_record(record, offset_delta, record_timestamp - base_timestamp, p, end)
    if p != end:
        raise RuntimeError("the records changed while they were being encoded")

    if codec != 0:
        compressed = _codecs().compress(codec, body)
        records_size = len(compressed)
        if records_size > INT32_MAX - MIN_BATCH_LENGTH:
            raise OverflowError(f"a batch of {records_size} compressed bytes is too large")
        out = PyBytes_FromStringAndSize(NULL, HEADER_SIZE + records_size)
        start = <uint8_t *>PyBytes_AS_STRING(out)
        memcpy(start + HEADER_SIZE, PyBytes_AS_STRING(compressed), records_size)

    if log_append_time is not None:
        attributes |= TIMESTAMP_TYPE_MASK
        max_timestamp = log_append_time
    if is_transactional:
        attributes |= TRANSACTIONAL_MASK
    if is_control:
        attributes |= CONTROL_MASK
    p = _put_i64(start, base_offset)
    p = _put_u32(p, <uint32_t>(MIN_BATCH_LENGTH + records_size))
    p = _put_u32(p, <uint32_t>partition_leader_epoch)
    p[0] = MAGIC
    p = _put_i16(p + 5, <int16_t>attributes)  # the CRC goes in the 4 bytes skipped
    p = _put_u32(p, <uint32_t>last_offset_delta)
    p = _put_i64(p, base_timestamp)
    p = _put_i64(p, max_timestamp)
    p = _put_i64(p, producer_id)
    p = _put_i16(p, producer_epoch)
    p = _put_u32(p, <uint32_t>base_sequence)
    _put_u32(p, <uint32_t>count)
    _put_u32(start + CRC_OFFSET, kraft_crc32c_update(0, start + ATTRIBUTES_OFFSET,
                                                     HEADER_SIZE - ATTRIBUTES_OFFSET + records_size))
    return out


# -- decoding -----------------------------------------------------------------

cdef class RecordBatch:
    """One record batch read from a buffer, without copying it.

    The header fields are attributes; iterating yields ``Record``s whose key
    and value are memoryviews into the batch (or into its decompressed
    records).  ``validate()`` checks the CRC and every record.
    ``RecordBatch(buffer, position=0)`` reads a buffer holding exactly one
    batch (``position`` is only used in error messages).
    """
    cdef object _source            # memoryview the batch lies in
    cdef const uint8_t *_data      # the batch's first byte
    cdef readonly Py_ssize_t position
    cdef readonly Py_ssize_t size_in_bytes
    cdef readonly int64_t base_offset
    cdef readonly int32_t partition_leader_epoch
    cdef readonly int magic
    cdef readonly uint32_t crc
    cdef readonly int attributes
    cdef int32_t _last_offset_delta
    cdef readonly int64_t base_timestamp
    cdef readonly int64_t max_timestamp
    cdef readonly int64_t producer_id
    cdef readonly int producer_epoch
    cdef readonly int32_t base_sequence
    cdef readonly int32_t record_count
    cdef object _max_decompressed_size
    # The records, once located (decompressed if need be).
    cdef bint _records_ready
    cdef object _records_owner     # memoryview the records lie in
    cdef const uint8_t *_records
    cdef Py_ssize_t _records_len

    def __init__(self, buffer, Py_ssize_t position=0, max_decompressed_size=None):
        source = memoryview(buffer).cast("B")
        self._setup(source, <const uint8_t *>PyMemoryView_GET_BUFFER(source).buf, len(source), position,
                    max_decompressed_size)

    cdef int _setup(self, object source, const uint8_t *data, Py_ssize_t size, Py_ssize_t position,
                    object max_decompressed_size) except -1:
        self._source = source
        self._data = data
        self.position = position
        self._max_decompressed_size = max_decompressed_size
        if size < HEADER_SIZE:
            raise CorruptRecordError(
                f"record batch of {size} bytes is shorter than its {HEADER_SIZE}-byte header", position=position
            )
        self.base_offset = _get_i64(data)
        self.size_in_bytes = <int32_t>_get_u32(data + 8) + <Py_ssize_t>LOG_OVERHEAD
        self.partition_leader_epoch = <int32_t>_get_u32(data + 12)
        self.magic = <signed char>data[16]
        self.crc = _get_u32(data + 17)
        self.attributes = _get_i16(data + 21)
        self._last_offset_delta = <int32_t>_get_u32(data + 23)
        self.base_timestamp = _get_i64(data + 27)
        self.max_timestamp = _get_i64(data + 35)
        self.producer_id = _get_i64(data + 43)
        self.producer_epoch = _get_i16(data + 51)
        self.base_sequence = <int32_t>_get_u32(data + 53)
        self.record_count = <int32_t>_get_u32(data + 57)
        if self.magic != MAGIC:
            raise self._corrupt(f"unsupported magic {self.magic} (only {MAGIC} is read)")
        if self.size_in_bytes != size:
            raise self._corrupt(f"batch length {self.size_in_bytes - LOG_OVERHEAD} disagrees with the {size} bytes given")
        if self.record_count < 0:
            raise self._corrupt(f"negative record count {self.record_count}")
        if (self.attributes & COMPRESSION_MASK) > 4:
            raise self._corrupt(f"unknown compression codec {self.attributes & COMPRESSION_MASK}")
        return 0

    cdef object _corrupt(self, str message):
        return CorruptRecordError(message, base_offset=self.base_offset, position=self.position)

    @property
    def last_offset(self):
        return _add64(self.base_offset, self._last_offset_delta)

    @property
    def compression(self):
        return _codecs().CODEC_NAMES[self.attributes & COMPRESSION_MASK]

    @property
    def timestamp_type(self):
        return LOG_APPEND_TIME if self.attributes & TIMESTAMP_TYPE_MASK else CREATE_TIME

    @property
    def is_transactional(self):
        return bool(self.attributes & TRANSACTIONAL_MASK)

    @property
    def is_control(self):
        return bool(self.attributes & CONTROL_MASK)

    @property
    def buffer(self):
        """The batch's bytes, exactly as read (a memoryview)."""
        cdef Py_ssize_t start = self._data - <const uint8_t *>PyMemoryView_GET_BUFFER(self._source).buf
        return self._source[start:start + self.size_in_bytes]

    def __len__(self):
        return self.record_count

    def compute_crc(self):
        """The CRC-32C of the batch's bytes (what ``crc`` should be)."""
        cdef uint32_t crc
        cdef const uint8_t *start = self._data + ATTRIBUTES_OFFSET
        cdef size_t length = self.size_in_bytes - ATTRIBUTES_OFFSET
        if length >= 1 << 20:
            with nogil:
                crc = kraft_crc32c_update(0, start, length)
        else:
            crc = kraft_crc32c_update(0, start, length)
        return crc

    def is_valid_crc(self):
        return self.compute_crc() == self.crc

    def check_crc(self):
        """Raise ``CrcMismatchError`` unless the stored CRC matches."""
        computed = self.compute_crc()
        if computed != self.crc:
            raise CrcMismatchError(
                f"record batch CRC mismatch: stored {self.crc:#010x}, computed {computed:#010x}",
                base_offset=self.base_offset,
                position=self.position,
            )

    cdef int _locate_records(self) except -1:
        cdef int codec = self.attributes & COMPRESSION_MASK
        cdef object raw
        if self._records_ready:
            return 0
        if codec == 0:
            self._records_owner = self._source
            self._records = self._data + HEADER_SIZE
            self._records_len = self.size_in_bytes - HEADER_SIZE
        else:
            codecs = _codecs()
            limit = codecs.MAX_DECOMPRESSED_SIZE if self._max_decompressed_size is None \
                else self._max_decompressed_size
            try:
                raw = codecs.decompress(codec, self.buffer[HEADER_SIZE:], limit)
            except codecs.DecompressionError as exc:
                raise self._corrupt(str(exc)) from None
            self._records_owner = memoryview(raw)
            self._records = <const uint8_t *>PyBytes_AS_STRING(raw)
            self._records_len = PyBytes_GET_SIZE(raw)
        self._records_ready = True
        return 0

    cdef int _raise_parse_error(self, Cursor *c, Py_ssize_t index) except -1:
        raise self._corrupt(_describe(c.error, c.error_pos, index))

    cdef int _check_end(self, Cursor *c, Py_ssize_t index) except -1:
        """After index records: raise if records are missing or bytes remain."""
        if index < self.record_count:
            raise self._corrupt(
                f"record count {self.record_count} but the records end after {index}"
            )
        if c.pos != c.end:
            raise self._corrupt(f"{c.end - c.pos} bytes left after the {self.record_count} records")
        return 0

    def validate(self):
        """Check the CRC and every record; raise ``CorruptRecordError``."""
        cdef Cursor c
        cdef RecordFields f
        cdef int32_t index
        self.check_crc()
        self._locate_records()
        c.data = self._records
        c.pos = 0
        c.end = self._records_len
        c.error = OK
        for index in range(self.record_count):
            if c.pos >= c.end:
                self._check_end(&c, index)
            if _parse_record(&c, &f) != OK:
                self._raise_parse_error(&c, index)
        self._check_end(&c, self.record_count)

    cdef tuple _headers(self, Py_ssize_t pos, int32_t count):
        """The (key, value) pairs of a record's headers (already checked)."""
        cdef Cursor c
        cdef Py_ssize_t key_len, value_len
        cdef int32_t i
        cdef tuple headers = PyTuple_New(count)
        cdef tuple pair
        c.data = self._records
        c.pos = pos
        c.end = self._records_len
        c.error = OK
        for i in range(count):
            key_len = _read_length(&c)
            key = PyUnicode_DecodeUTF8(<const char *>c.data + c.pos, key_len, "replace")
            c.pos += key_len
            value_len = _read_length(&c)
            if value_len < 0:
                value = None
            else:
                value = PyBytes_FromStringAndSize(<const char *>c.data + c.pos, value_len)
                c.pos += value_len
            pair = (key, value)
            Py_INCREF(pair)
            PyTuple_SET_ITEM(headers, i, pair)
        return headers

    def __iter__(self):
        self._locate_records()
        return _RecordIterator(self)

    def values(self):
        """The records' values (memoryviews, or None for null values), in order."""
        cdef Cursor c
        cdef RecordFields f
        cdef int32_t index
        cdef list result = []
        cdef object owner
        self._locate_records()
        owner = self._records_owner
        c.data = self._records
        c.pos = 0
        c.end = self._records_len
        c.error = OK
        for index in range(self.record_count):
            if c.pos >= c.end:
                self._check_end(&c, index)
            if _parse_record(&c, &f) != OK:
                self._raise_parse_error(&c, index)
            if f.value_len < 0:
                result.append(None)
            else:
                result.append(_subview(owner, self._records + f.value_pos, f.value_len))
        self._check_end(&c, self.record_count)
        return result

    def __repr__(self):
        return (
            f"RecordBatch(base_offset={self.base_offset}, last_offset={self.last_offset}, "
            f"record_count={self.record_count}, size_in_bytes={self.size_in_bytes}, "
            f"compression={self.compression!r}, is_control={self.is_control})"
        )


@cython.final
cdef class _RecordIterator:
    cdef RecordBatch _batch
    cdef Cursor _cursor
    cdef int32_t _index
    cdef bint _log_append_time

    def __cinit__(self, RecordBatch batch):
        self._batch = batch
        self._cursor.data = batch._records
        self._cursor.pos = 0
        self._cursor.end = batch._records_len
        self._cursor.error = OK
        self._index = 0
        self._log_append_time = (batch.attributes & TIMESTAMP_TYPE_MASK) != 0

    def __iter__(self):
        return self

    def __next__(self):
        cdef RecordBatch batch = self._batch
        cdef RecordFields f
        cdef Record record
        if self._index >= batch.record_count:
            batch._check_end(&self._cursor, self._index)
            raise StopIteration
        if self._cursor.pos >= self._cursor.end:
            batch._check_end(&self._cursor, self._index)
        if _parse_record(&self._cursor, &f) != OK:
            batch._raise_parse_error(&self._cursor, self._index)
        self._index += 1
        record = Record.__new__(Record)
        if f.value_len >= 0:
            record.value = _subview(batch._records_owner, batch._records + f.value_pos, f.value_len)
        if f.key_len >= 0:
            record.key = _subview(batch._records_owner, batch._records + f.key_pos, f.key_len)
        record.headers = _NO_HEADERS if f.header_count == 0 else batch._headers(f.headers_pos, f.header_count)
        record._timestamp = batch.max_timestamp if self._log_append_time \
            else _add64(batch.base_timestamp, f.timestamp_delta)
        record._has_timestamp = True
        record._offset = _add64(batch.base_offset, f.offset_delta)
        record._has_offset = True
        return record


cdef class BatchIterator:
    """Iterates over the batches of a buffer.

    Stops cleanly at a trailing partial batch (as in a Fetch response cut at
    its size limit); afterwards ``trailing_bytes`` is its size (0 when the
    buffer ended on a batch boundary) and ``position`` where it starts.
    """
    cdef object _source
    cdef const uint8_t *_data
    cdef Py_ssize_t _size
    cdef readonly Py_ssize_t position
    cdef readonly Py_ssize_t trailing_bytes
    cdef bint _check_crc
    cdef Py_ssize_t _max_batch_size
    cdef object _max_decompressed_size

    def __init__(self, buffer, check_crc=True, max_batch_size=None, max_decompressed_size=None):
        source = memoryview(buffer)
        if not source.c_contiguous:
            raise TypeError(f"record batches must be read from a contiguous buffer, not a strided {type(buffer).__name__}")
        if source.ndim != 1 or source.format != "B":
            source = source.cast("B")
        self._source = source
        self._data = <const uint8_t *>PyMemoryView_GET_BUFFER(source).buf
        self._size = PyMemoryView_GET_BUFFER(source).len
        self._check_crc = check_crc
        self._max_batch_size = _constants().MAX_BATCH_SIZE if max_batch_size is None else max_batch_size
        self._max_decompressed_size = max_decompressed_size
        self.position = 0
        self.trailing_bytes = 0

    def __iter__(self):
        return self

    def __next__(self):
        cdef Py_ssize_t position = self.position
        cdef Py_ssize_t remaining = self._size - position
        cdef const uint8_t *data = self._data + position
        cdef int64_t base_offset
        cdef int32_t batch_length
        cdef Py_ssize_t size
        cdef uint32_t crc
        cdef RecordBatch batch
        if remaining < MAGIC_OFFSET + 1:
            self.trailing_bytes = remaining
            raise StopIteration
        base_offset = _get_i64(data)
        batch_length = <int32_t>_get_u32(data + 8)
        if batch_length < MIN_BATCH_LENGTH:
            raise CorruptRecordError(
                f"batch length {batch_length} is less than the minimum {MIN_BATCH_LENGTH}",
                base_offset=base_offset, position=position,
            )
        size = <Py_ssize_t>batch_length + LOG_OVERHEAD
        if size > self._max_batch_size:
            raise CorruptRecordError(
                f"batch size {size} exceeds the maximum {self._max_batch_size}",
                base_offset=base_offset, position=position,
            )
        if data[MAGIC_OFFSET] != MAGIC:
            raise CorruptRecordError(
                f"unsupported magic {<signed char>data[MAGIC_OFFSET]} (only {MAGIC} is read)",
                base_offset=base_offset, position=position,
            )
        if remaining < size:
            self.trailing_bytes = remaining
            raise StopIteration
        batch = RecordBatch.__new__(RecordBatch)
        batch._setup(self._source, data, size, position, self._max_decompressed_size)
        if self._check_crc:
            if size >= 1 << 20:
                with nogil:
                    crc = kraft_crc32c_update(0, data + ATTRIBUTES_OFFSET, size - ATTRIBUTES_OFFSET)
            else:
                crc = kraft_crc32c_update(0, data + ATTRIBUTES_OFFSET, size - ATTRIBUTES_OFFSET)
            if crc != batch.crc:
                batch.check_crc()
        self.position = position + size
        return batch


def decode_batches(buffer, *, check_crc=True, max_batch_size=None, max_decompressed_size=None):
    """Iterate over the record batches in ``buffer`` (any bytes-like object).

    Each batch's CRC is checked as it is reached unless ``check_crc`` is
    false.  A trailing partial batch ends the iteration and is reported in
    the iterator's ``trailing_bytes``; anything malformed raises
    ``CorruptRecordError`` (``CrcMismatchError`` for a bad CRC).
    """
    return BatchIterator(buffer, check_crc, max_batch_size, max_decompressed_size)
