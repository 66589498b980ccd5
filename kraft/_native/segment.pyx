# distutils: sources = kraft/_native/src/crc32c.c
# cython: language_level=3
"""Native hot paths of the on-disk log.

Works on the fixed 61-byte header of v2 record batches only (the record
codec lives in ``kraft.records``):

* :func:`scan_batches` walks a segment (or snapshot) batch by batch,
  validating each one, and builds the offset and time index entries and
  the epoch starts on the way; it stops at the first torn or corrupt batch.
* :func:`prepare_append` validates batches handed to an append and, for a
  leader, stamps base offsets and the leader epoch into the headers (these
  fields are outside the CRC, so the CRC stays valid).
* :func:`index_lookup` / :func:`time_index_lookup` binary-search Kafka's
  big-endian index entries.
* :class:`MappedFile` maps a file read-only so reads hand out memoryviews
  of the file's pages without copying, and can make a truncated tail safe
  for views still held by callers.
"""
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_FillInfo
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_CheckExact
from libc.stdint cimport uint8_t, uint32_t, int16_t, int32_t, int64_t, uint64_t

cdef extern from "crc32c.h" nogil:
    uint32_t kraft_crc32c_update(uint32_t crc, const void *buf, size_t length)

cdef extern from "sys/mman.h" nogil:
    void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)
    int munmap(void *addr, size_t length)
    int PROT_READ
    int MAP_SHARED
    int MAP_PRIVATE
    int MAP_FIXED
    int MAP_ANONYMOUS
    void *MAP_FAILED
    int madvise(void *addr, size_t length, int advice)
    int MADV_DONTNEED
    int PROT_WRITE
    int mprotect(void *addr, size_t length, int prot)
    void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...)
    int MREMAP_MAYMOVE
    int MREMAP_FIXED

cdef extern from "unistd.h" nogil:
    long sysconf(int name)
    int _SC_PAGESIZE

cdef extern from "errno.h":
    int errno
    int EINTR

cdef extern from "unistd.h" nogil:
    ssize_t write(int fd, const void *buf, size_t count)

from libc.string cimport memcpy

import logging
import os

from kraft.errors import CorruptRecordError

_log = logging.getLogger("kraft.storage.segment")

# Byte positions inside a v2 batch header (records-and-files.md section 1).
cdef enum:
    BATCH_HEADER_SIZE = 61
    LOG_OVERHEAD = 12
    POS_BASE_OFFSET = 0
    POS_LENGTH = 8
    POS_EPOCH = 12
    POS_MAGIC = 16
    POS_CRC = 17
    POS_ATTRIBUTES = 21
    POS_LAST_OFFSET_DELTA = 23
    POS_BASE_TIMESTAMP = 27
    POS_MAX_TIMESTAMP = 35
    POS_RECORDS_COUNT = 57

cdef struct AppendSummary:
    Py_ssize_t size
    int64_t first
    int64_t last
    int64_t max_ts
    int64_t max_ts_offset

BATCH_OVERHEAD = BATCH_HEADER_SIZE
INDEX_ENTRY_SIZE = 8
TIME_INDEX_ENTRY_SIZE = 12

cdef inline uint32_t be32(const uint8_t *p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | <uint32_t>p[3]

cdef inline uint64_t be64(const uint8_t *p) noexcept nogil:
    return (<uint64_t>be32(p) << 32) | <uint64_t>be32(p + 4)

cdef inline void put32(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = (v >> 24) & 0xFF
    p[1] = (v >> 16) & 0xFF
    p[2] = (v >> 8) & 0xFF
    p[3] = v & 0xFF

cdef inline void put64(uint8_t *p, uint64_t v) noexcept nogil:
    put32(p, <uint32_t>(v >> 32))
    put32(p + 4, <uint32_t>v)


cdef inline str check_header(const uint8_t *p, Py_ssize_t available, Py_ssize_t max_batch_size,
                             bint check_crc, Py_ssize_t *size_out):
    """None if the batch at ``p`` is whole and valid, else why not."""
    cdef int32_t length
    cdef Py_ssize_t size
    cdef uint32_t stored, computed
    cdef int32_t delta
    if available < LOG_OVERHEAD:
        return "truncated batch: only %d bytes left for the 12-byte log overhead" % available
    length = <int32_t>be32(p + POS_LENGTH)
    if length < BATCH_HEADER_SIZE - LOG_OVERHEAD:
        return "batch length %d is smaller than the minimum %d" % (length, BATCH_HEADER_SIZE - LOG_OVERHEAD)
    size = <Py_ssize_t>length + LOG_OVERHEAD
    if max_batch_size > 0 and size > max_batch_size:
        return "batch size %d exceeds the maximum %d" % (size, max_batch_size)
    if size > available:
        return "truncated batch: needs %d bytes, only %d left" % (size, available)
    if p[POS_MAGIC] != 2:
        return "unsupported magic %d (only v2 batches)" % p[POS_MAGIC]
    delta = <int32_t>be32(p + POS_LAST_OFFSET_DELTA)
    if delta < 0:
        return "negative last offset delta %d" % delta
    if check_crc:
        stored = be32(p + POS_CRC)
        with nogil:
            computed = kraft_crc32c_update(0, p + POS_ATTRIBUTES, <size_t>(size - POS_ATTRIBUTES))
        if stored != computed:
            return "CRC mismatch: stored 0x%08x, computed 0x%08x" % (stored, computed)
    size_out[0] = size
    return None


cdef class ScanResult:
    """What :func:`scan_batches` found in a buffer."""

    cdef readonly Py_ssize_t valid_bytes
    cdef readonly object error
    cdef readonly Py_ssize_t batch_count
    cdef readonly int64_t first_offset
    cdef readonly int64_t next_offset
    cdef readonly int64_t max_timestamp
    cdef readonly int64_t offset_of_max_timestamp
    cdef readonly int32_t last_epoch
    cdef readonly list epoch_starts
    cdef readonly bytes offset_index
    cdef readonly bytes time_index
    cdef readonly int64_t first_max_timestamp
    cdef readonly bint epoch_error

    def __repr__(self):
        return ("ScanResult(valid_bytes=%d, batches=%d, offsets=[%d, %d), error=%r)"
                % (self.valid_bytes, self.batch_count, self.first_offset, self.next_offset, self.error))


def scan_batches(buffer, int64_t base_offset=0, Py_ssize_t index_interval_bytes=4096,
                 Py_ssize_t max_batch_size=0, bint check_crc=True, int32_t last_epoch=-1,
                 int64_t expected_offset=-1, bint contiguous=False,
                 int32_t max_epoch=2147483647, bint strict_epochs=False):
    """Scan whole v2 batches from the start of ``buffer`` until the first invalid one.

    ``base_offset`` is the segment's base offset: index entries are relative
    to it and a batch whose last offset does not fit an int32 relative
    offset ends the scan.  ``last_epoch`` is the latest epoch already known;
    every batch with a larger partition leader epoch is reported in
    ``epoch_starts`` as ``(epoch, base offset)``.  ``expected_offset`` >= 0
    requires the first batch to start there (and ``contiguous`` every batch
    to start where the previous ended; otherwise base offsets need only
    increase).  Index entries follow Kafka's recovery rule: an entry for a
    batch when more than ``index_interval_bytes`` were scanned since the
    last entry (``0`` disables the index).
    """
    cdef Py_buffer view
    PyObject_GetBuffer(buffer, &view, PyBUF_SIMPLE)
    cdef const uint8_t *data = <const uint8_t *>view.buf
    cdef Py_ssize_t total = view.len
    cdef Py_ssize_t pos = 0, size = 0, last_index_entry = 0
    cdef int64_t batch_base, batch_last, relative
    cdef int64_t max_ts = -1, max_ts_offset = -1, batch_max_ts
    cdef int64_t last_time_entry_ts = -1
    cdef int32_t epoch
    cdef int64_t next_offset = expected_offset
    cdef bytearray index = bytearray()
    cdef bytearray tindex = bytearray()
    cdef uint8_t entry[12]
    cdef ScanResult result = ScanResult.__new__(ScanResult)
    result.epoch_starts = []
    result.error = None
    result.first_offset = -1
    result.first_max_timestamp = -1
    try:
        while pos < total:
            reason = check_header(data + pos, total - pos, max_batch_size, check_crc, &size)
            if reason is not None:
                result.error = reason
                break
            batch_base = <int64_t>be64(data + pos + POS_BASE_OFFSET)
            batch_last = batch_base + <int32_t>be32(data + pos + POS_LAST_OFFSET_DELTA)
            if batch_base < 0:
                result.error = "negative base offset %d" % batch_base
                break
            if next_offset >= 0 and (batch_base < next_offset or
                                     ((contiguous or result.batch_count == 0) and batch_base != next_offset)):
                result.error = "base offset %d does not follow offset %d" % (batch_base, next_offset - 1)
                break
            relative = batch_last - base_offset
            if batch_base < base_offset or relative > 2147483647:
                result.error = "offsets [%d, %d] do not fit a segment based at %d" % (batch_base, batch_last, base_offset)
                break
            epoch = <int32_t>be32(data + pos + POS_EPOCH)
            if strict_epochs:
                if epoch < 0 or epoch < last_epoch:
                    result.error = ("partition leader epoch %d of the batch at offset %d is below "
                                    "epoch %d of the log before it" % (epoch, batch_base, last_epoch))
                    result.epoch_error = True
                    break
                if epoch > max_epoch:
                    result.error = ("partition leader epoch %d of the batch at offset %d is above "
                                    "the quorum-state epoch %d" % (epoch, batch_base, max_epoch))
                    result.epoch_error = True
                    break
            batch_max_ts = <int64_t>be64(data + pos + POS_MAX_TIMESTAMP)
            if result.batch_count == 0:
                result.first_offset = batch_base
                result.first_max_timestamp = batch_max_ts
            if batch_max_ts > max_ts:
                max_ts = batch_max_ts
                max_ts_offset = batch_last
            if index_interval_bytes > 0 and pos - last_index_entry > index_interval_bytes:
                put32(entry, <uint32_t>relative)
                put32(entry + 4, <uint32_t>pos)
                index += (<char *>entry)[:8]
                if max_ts > last_time_entry_ts:
                    put64(entry, <uint64_t>max_ts)
                    put32(entry + 8, <uint32_t>(max_ts_offset - base_offset))
                    tindex += (<char *>entry)[:12]
                    last_time_entry_ts = max_ts
                last_index_entry = pos
            if epoch >= 0 and epoch > last_epoch:
                result.epoch_starts.append((epoch, batch_base))
                last_epoch = epoch
            next_offset = batch_last + 1
            result.batch_count += 1
            pos += size
        result.valid_bytes = pos
        result.next_offset = next_offset
        result.max_timestamp = max_ts
        result.offset_of_max_timestamp = max_ts_offset
        result.last_epoch = last_epoch
        result.offset_index = bytes(index)
        result.time_index = bytes(tindex)
        return result
    finally:
        PyBuffer_Release(&view)


cdef object validate_and_stamp(uint8_t *data, Py_ssize_t total, bint as_leader,
                               int64_t next_offset, int32_t epoch, int32_t last_epoch,
                               Py_ssize_t max_batch_size, bint new_epoch_cache, bint check_crc,
                               AppendSummary *out):
    """Validate the batches of one append (raising ``ValueError`` and changing
    nothing if they are invalid), then stamp offsets and epoch as leader.
    Fills ``out``; returns the epoch starts as a list, or ``None`` if none."""
    cdef Py_ssize_t pos = 0, size = 0
    cdef int64_t base, last, offset = next_offset, max_ts = -1, max_ts_offset = -1, ts
    cdef int32_t delta, batch_epoch, prev_epoch = last_epoch
    cdef list epoch_starts = None
    if total == 0:
        raise ValueError("attempt to append an empty record set")
    # validate everything before touching a byte
    while pos < total:
        reason = check_header(data + pos, total - pos, max_batch_size, check_crc, &size)
        if reason is not None:
            raise ValueError("batch at position %d: %s" % (pos, reason))
        delta = <int32_t>be32(data + pos + POS_LAST_OFFSET_DELTA)
        if as_leader:
            base = offset
        else:
            base = <int64_t>be64(data + pos + POS_BASE_OFFSET)
            if base != offset:
                raise ValueError("batch at position %d has base offset %d, expected %d"
                                 % (pos, base, offset))
            batch_epoch = <int32_t>be32(data + pos + POS_EPOCH)
            if batch_epoch < prev_epoch:
                raise ValueError("batch at position %d has epoch %d, below the log's epoch %d"
                                 % (pos, batch_epoch, prev_epoch))
            if batch_epoch > prev_epoch or (new_epoch_cache and pos == 0):
                if epoch_starts is None:
                    epoch_starts = []
                epoch_starts.append((batch_epoch, base))
                prev_epoch = batch_epoch
        last = base + delta
        ts = <int64_t>be64(data + pos + POS_MAX_TIMESTAMP)
        if ts > max_ts:
            max_ts = ts
            max_ts_offset = last
        offset = last + 1
        pos += size
    if as_leader:
        if epoch < last_epoch:
            raise ValueError("leader epoch %d is below the log's epoch %d" % (epoch, last_epoch))
        if epoch > last_epoch or new_epoch_cache:
            epoch_starts = [(epoch, next_offset)]
        pos = 0
        offset = next_offset
        while pos < total:
            size = <Py_ssize_t>(<int32_t>be32(data + pos + POS_LENGTH)) + LOG_OVERHEAD
            put64(data + pos + POS_BASE_OFFSET, <uint64_t>offset)
            put32(data + pos + POS_EPOCH, <uint32_t>epoch)
            offset += <int32_t>be32(data + pos + POS_LAST_OFFSET_DELTA) + 1
            pos += size
    out.size = total
    out.first = next_offset
    out.last = offset - 1
    out.max_ts = max_ts
    out.max_ts_offset = max_ts_offset
    return epoch_starts


cdef object acquire_append_buffer(object records, bint as_leader, Py_buffer *view):
    """Get ``records``' bytes into ``view``, writable when stamping as leader
    (a bytearray copy when ``records`` is read-only); returns the object the
    view is on."""
    if as_leader:
        if not PyBytes_CheckExact(records):
            try:
                PyObject_GetBuffer(records, view, PyBUF_WRITABLE)
                return records
            except BufferError:
                pass
        records = bytearray(records)
        PyObject_GetBuffer(records, view, PyBUF_WRITABLE)
    else:
        PyObject_GetBuffer(records, view, PyBUF_SIMPLE)
    return records


def prepare_append(records, bint as_leader, int64_t next_offset, int32_t epoch,
                   int32_t last_epoch=-1, Py_ssize_t max_batch_size=0, bint new_epoch_cache=False,
                   bint check_crc=True):
    """Validate the batches of one append and return what the log needs to know.

    As leader (``as_leader``) the batches get consecutive offsets from
    ``next_offset`` and ``epoch`` as partition leader epoch, written into
    ``records`` in place when it is writable, else into a copy.  As follower
    the first batch must start at ``next_offset``, each batch where the
    previous one ended, and partition leader epochs may never go below
    ``last_epoch`` or the previous batch's.  Epoch starts are reported for
    epochs above ``last_epoch``, and for the first batch whatever its epoch
    when ``new_epoch_cache`` (the cache is empty, ``last_epoch`` a floor).

    ``check_crc`` false skips the CRC check (lengths and headers are still
    checked).  Returns ``(buffer, size, first_offset, last_offset,
    max_timestamp, offset_of_max_timestamp, epoch_starts)``; ``buffer`` is
    what to write and ``size`` its length in bytes.
    Raises ``ValueError`` (and changes nothing) for an invalid append.
    :meth:`NativeLogSegment.append_batches` does the same and writes.
    """
    cdef Py_buffer view
    cdef AppendSummary summary
    out = acquire_append_buffer(records, as_leader, &view)
    try:
        starts = validate_and_stamp(<uint8_t *>view.buf, view.len, as_leader, next_offset, epoch,
                                    last_epoch, max_batch_size, new_epoch_cache, check_crc, &summary)
        return (out, summary.size, summary.first, summary.last, summary.max_ts,
                summary.max_ts_offset, starts if starts is not None else [])
    finally:
        PyBuffer_Release(&view)


def batch_positions(buffer):
    """``(positions, base offsets)`` of the whole batches in ``buffer``, no validation
    beyond the length field; stops at the first batch that does not fit."""
    cdef Py_buffer view
    PyObject_GetBuffer(buffer, &view, PyBUF_SIMPLE)
    cdef const uint8_t *data = <const uint8_t *>view.buf
    cdef Py_ssize_t total = view.len
    cdef Py_ssize_t pos = 0, size
    cdef list positions = [], offsets = []
    try:
        while total - pos >= BATCH_HEADER_SIZE:
            size = <Py_ssize_t>(<int32_t>be32(data + pos + POS_LENGTH)) + LOG_OVERHEAD
            if size < BATCH_HEADER_SIZE or size > total - pos:
                break
            positions.append(pos)
            offsets.append(<int64_t>be64(data + pos))
            pos += size
        return positions, offsets
    finally:
        PyBuffer_Release(&view)


def find_batch_end(buffer, Py_ssize_t start, int64_t target_offset, Py_ssize_t max_bytes):
    """Positions for a read: ``(first, end)`` where ``first`` is the position of the
    batch holding ``target_offset`` (scanning from ``start``) and ``end`` the end of
    the last whole batch within ``max_bytes`` of it (at least one batch).
    ``first`` is -1 when no batch holds or follows the offset."""
    cdef Py_buffer view
    PyObject_GetBuffer(buffer, &view, PyBUF_SIMPLE)
    cdef const uint8_t *data = <const uint8_t *>view.buf
    cdef Py_ssize_t total = view.len
    cdef Py_ssize_t pos = start, size, first = -1, end
    cdef int64_t last
    try:
        while total - pos >= BATCH_HEADER_SIZE:
            size = <Py_ssize_t>(<int32_t>be32(data + pos + POS_LENGTH)) + LOG_OVERHEAD
            if size < BATCH_HEADER_SIZE or size > total - pos:
                break
            last = <int64_t>be64(data + pos) + <int32_t>be32(data + pos + POS_LAST_OFFSET_DELTA)
            if last >= target_offset:
                first = pos
                break
            pos += size
        if first < 0:
            return -1, -1
        end = first + size
        pos = end
        while total - pos >= BATCH_HEADER_SIZE:
            size = <Py_ssize_t>(<int32_t>be32(data + pos + POS_LENGTH)) + LOG_OVERHEAD
            if size < BATCH_HEADER_SIZE or size > total - pos or pos + size - first > max_bytes:
                break
            pos += size
            end = pos
        return first, end
    finally:
        PyBuffer_Release(&view)


def index_lookup(entries, int64_t relative_offset):
    """Kafka's ``OffsetIndex.lookup``: the entry with the largest relative offset
    <= ``relative_offset`` in big-endian 8-byte ``entries``, as
    ``(relative offset, position)``; ``(-1, 0)`` when there is none."""
    cdef Py_buffer view
    PyObject_GetBuffer(entries, &view, PyBUF_SIMPLE)
    cdef const uint8_t *data = <const uint8_t *>view.buf
    cdef Py_ssize_t lo = 0, hi = view.len // 8 - 1, mid, found = -1
    try:
        while lo <= hi:
            mid = (lo + hi) >> 1
            if <int32_t>be32(data + 8 * mid) <= relative_offset:
                found = mid
                lo = mid + 1
            else:
                hi = mid - 1
        if found < 0:
            return -1, 0
        return <int32_t>be32(data + 8 * found), <int32_t>be32(data + 8 * found + 4)
    finally:
        PyBuffer_Release(&view)


def time_index_lookup(entries, int64_t timestamp):
    """Kafka's ``TimeIndex.lookup``: the entry with the largest timestamp <=
    ``timestamp`` in 12-byte ``entries``, as ``(timestamp, relative offset)``;
    ``(-1, 0)`` when there is none."""
    cdef Py_buffer view
    PyObject_GetBuffer(entries, &view, PyBUF_SIMPLE)
    cdef const uint8_t *data = <const uint8_t *>view.buf
    cdef Py_ssize_t lo = 0, hi = view.len // 12 - 1, mid, found = -1
    try:
        while lo <= hi:
            mid = (lo + hi) >> 1
            if <int64_t>be64(data + 12 * mid) <= timestamp:
                found = mid
                lo = mid + 1
            else:
                hi = mid - 1
        if found < 0:
            return -1, 0
        return <int64_t>be64(data + 12 * found), <int32_t>be32(data + 12 * found + 8)
    finally:
        PyBuffer_Release(&view)


cdef inline Py_ssize_t read_varint(const uint8_t *p, Py_ssize_t n, Py_ssize_t *pos, int64_t *out) noexcept:
    """Zig-zag varint; returns 0 on success, -1 if malformed or out of bytes."""
    cdef uint64_t raw = 0
    cdef int shift = 0
    cdef uint8_t b
    while True:
        if pos[0] >= n or shift > 63:
            return -1
        b = p[pos[0]]
        pos[0] += 1
        raw |= <uint64_t>(b & 0x7F) << shift
        if not (b & 0x80):
            break
        shift += 7
    out[0] = <int64_t>(raw >> 1) ^ -(<int64_t>(raw & 1))
    return 0


def control_record_type(batch):
    """The control type (key ``int16`` at bytes 2-3) of the first record of an
    uncompressed control batch, or ``None`` when the batch is not a control batch.
    Raises :class:`CorruptRecordError` if the first record cannot be read."""
    cdef Py_buffer view
    PyObject_GetBuffer(batch, &view, PyBUF_SIMPLE)
    cdef const uint8_t *p = <const uint8_t *>view.buf
    cdef Py_ssize_t n = view.len, pos = BATCH_HEADER_SIZE
    cdef int64_t value
    cdef uint32_t attributes
    try:
        if n < BATCH_HEADER_SIZE:
            raise CorruptRecordError("batch shorter than its 61-byte header")
        attributes = (<uint32_t>p[POS_ATTRIBUTES] << 8) | p[POS_ATTRIBUTES + 1]
        if not (attributes & 0x20):
            return None
        if attributes & 0x07:
            raise CorruptRecordError("compressed control batch")
        if <int32_t>be32(p + POS_RECORDS_COUNT) < 1:
            raise CorruptRecordError("control batch without records")
        # length, attributes, timestampDelta, offsetDelta, keyLength, key
        if read_varint(p, n, &pos, &value) < 0 or value <= 0:
            raise CorruptRecordError("bad record length in control batch")
        pos += 1
        if read_varint(p, n, &pos, &value) < 0 or read_varint(p, n, &pos, &value) < 0:
            raise CorruptRecordError("bad record header in control batch")
        if read_varint(p, n, &pos, &value) < 0 or value < 4 or pos + 4 > n:
            raise CorruptRecordError("control record key shorter than 4 bytes")
        return <int16_t>((p[pos + 2] << 8) | p[pos + 3])
    finally:
        PyBuffer_Release(&view)


cdef Py_ssize_t _page_size = sysconf(_SC_PAGESIZE)


cdef class MappedFile:
    """A read-only shared mapping of ``length`` bytes of a file, as a buffer.

    The mapping may be longer than the file: only the pages the file covers
    may be read, so callers slice it to the file's current size.  Views taken
    with ``memoryview(mapped)[a:b]`` stay valid after :meth:`close` (the pages
    are unmapped when the last view is released) and after
    :meth:`detach_tail`, which replaces the pages past a truncation point with
    anonymous pages so that views into a truncated file never fault: while
    views are held, those pages keep the bytes the file had (a response still
    being written from such a view sends what it was built with), else zeros.
    """

    cdef char *addr
    cdef readonly Py_ssize_t length
    cdef Py_ssize_t map_length
    cdef int exports
    cdef bint closed
    cdef Py_ssize_t file_backed   # pages from here on no longer read the file (see detach_tail)

    def __cinit__(self, int fd, Py_ssize_t length):
        self.addr = NULL
        if length < 0:
            raise ValueError("negative mapping length")
        self.length = length
        self.map_length = ((length + _page_size - 1) // _page_size) * _page_size
        if self.map_length == 0:
            self.map_length = _page_size
        cdef void *p = mmap(NULL, <size_t>self.map_length, PROT_READ, MAP_SHARED, fd, 0)
        if p == MAP_FAILED:
            import os
            raise OSError(errno, "mmap failed: " + os.strerror(errno))
        self.addr = <char *>p
        self.file_backed = self.map_length

    def __getbuffer__(self, Py_buffer *buffer, int flags):
        if self.addr == NULL:
            raise ValueError("mapping is closed")
        PyBuffer_FillInfo(buffer, self, self.addr, self.length, 1, flags)
        self.exports += 1

    def __releasebuffer__(self, Py_buffer *buffer):
        self.exports -= 1
        if self.closed and self.exports == 0:
            self._unmap()

    cdef void _unmap(self):
        if self.addr != NULL:
            munmap(self.addr, <size_t>self.map_length)
            self.addr = NULL

    @property
    def exported(self):
        """Number of buffer views currently held on the mapping."""
        return self.exports

    def detach_tail(self, Py_ssize_t new_size, Py_ssize_t file_size=-1):
        """Stop reading the file from ``new_size`` on: call before truncating the file there.

        Every whole page at or past ``new_size`` is then backed by anonymous memory instead of
        the file, so a view that still covers the cut-off bytes never faults.  When views are
        held and ``file_size`` (the file's size before the truncation) is given, the pages from
        the one holding ``new_size`` up to ``file_size`` first get a private copy of the file's
        bytes, swapped in at once (``mremap``): a view taken before the truncation reads the
        same bytes after it, also once the file grows again over the same positions.  The other
        pages read zeros.
        """
        cdef Py_ssize_t start = ((new_size + _page_size - 1) // _page_size) * _page_size
        cdef Py_ssize_t keep_start, keep_end, n
        cdef void *p
        cdef void *q
        if self.addr == NULL or start >= self.map_length:
            return
        if self.exports > 0 and file_size > new_size:
            keep_start = (max(new_size, 0) // _page_size) * _page_size
            keep_end = min(((file_size + _page_size - 1) // _page_size) * _page_size, self.map_length)
            keep_end = min(keep_end, self.file_backed)
            if keep_end > keep_start:
                n = keep_end - keep_start
                p = mmap(NULL, <size_t>n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                if p == MAP_FAILED:
                    import os
                    raise OSError(errno, "mmap failed: " + os.strerror(errno))
                memcpy(p, self.addr + keep_start, <size_t>n)
                mprotect(p, <size_t>n, PROT_READ)
                q = mremap(p, <size_t>n, <size_t>n, MREMAP_MAYMOVE | MREMAP_FIXED, self.addr + keep_start)
                if q == MAP_FAILED:
                    munmap(p, <size_t>n)
                    import os
                    raise OSError(errno, "mremap failed: " + os.strerror(errno))
                self.file_backed = min(self.file_backed, keep_start)
                start = max(start, keep_end)
        self.file_backed = min(self.file_backed, start)
        if start >= self.map_length:
            return
        p = mmap(self.addr + start, <size_t>(self.map_length - start), PROT_READ,
                 MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0)
        if p == MAP_FAILED:
            import os
            raise OSError(errno, "mmap failed: " + os.strerror(errno))

    def release_pages(self):
        """Drop this mapping's resident pages (``MADV_DONTNEED``): the process's RSS falls,
        the data stays in the page cache, and views still held read it again on access
        (a minor fault per page); pages past a :meth:`detach_tail` read zeros as before."""
        if self.addr == NULL or self.file_backed == 0:
            return
        # only the pages that still read the file: dropping a private copy would zero it
        if madvise(self.addr, <size_t>self.file_backed, MADV_DONTNEED) != 0:
            import os
            raise OSError(errno, "madvise failed: " + os.strerror(errno))

    def close(self):
        """Unmap now if no view is held, else when the last view is released."""
        self.closed = True
        if self.exports == 0:
            self._unmap()

    def __dealloc__(self):
        self._unmap()


cdef inline int bytearray_append(bytearray target, const uint8_t *src, Py_ssize_t n) except -1:
    cdef Py_ssize_t old = PyByteArray_GET_SIZE(target)
    PyByteArray_Resize(target, old + n)
    memcpy(PyByteArray_AS_STRING(target) + old, src, <size_t>n)
    return 0


cdef class NativeLogSegment:
    """The append state and append path of a log segment (``kraft.storage.segment.LogSegment``
    subclasses it and does the rest).

    :meth:`append_batches` validates the batches of one append, stamps them
    as leader, decides whether the segment must roll first, writes them at
    the end of the file and keeps the segment's offsets, timestamps and
    index entries up to date, in one call.  Its limits are set by
    :meth:`set_append_limits`.  ``write_fn`` (``None``: the ``write``
    system call) replaces the write, for tests of failing devices.
    """

    cdef public int fd
    cdef public int64_t base_offset
    cdef public Py_ssize_t size
    cdef public int64_t next_offset
    cdef public int64_t max_timestamp
    cdef public int64_t offset_of_max_timestamp
    cdef public object rolling_based_timestamp
    cdef public int64_t created_ms
    cdef public Py_ssize_t bytes_since_last_index_entry
    cdef public Py_ssize_t index_interval_bytes
    cdef public object offset_index
    cdef public object time_index
    cdef public object write_fn
    cdef Py_ssize_t segment_bytes
    cdef int64_t segment_ms
    cdef Py_ssize_t max_batch_size
    cdef bint check_leader_crc
    cdef object time_ms
    cdef object append_info
    cdef object on_epoch_start

    def __cinit__(self, *args, **kwargs):
        self.fd = -1
        self.max_timestamp = -1
        self.offset_of_max_timestamp = -1
        self.segment_bytes = 2147483647
        self.segment_ms = 9223372036854775807
        self.check_leader_crc = True

    def set_append_limits(self, Py_ssize_t segment_bytes, int64_t segment_ms,
                          Py_ssize_t max_batch_size, bint check_leader_crc, time_ms,
                          append_info, on_epoch_start):
        """``segment.bytes``, ``segment.ms`` (against record timestamps, else
        ``time_ms()`` since ``created_ms``), the largest batch accepted,
        whether a leader's batches get their CRC checked (a follower's always
        do), the type :meth:`append_batches` returns (a class with fields
        ``first_offset`` and ``last_offset`` in its instance ``__dict__``,
        such as a dataclass), and what to call with ``(epoch, start offset)``
        for each epoch an append starts."""
        self.segment_bytes = segment_bytes
        self.segment_ms = segment_ms
        self.max_batch_size = max_batch_size
        self.check_leader_crc = check_leader_crc
        self.time_ms = time_ms
        self.append_info = append_info
        self.on_epoch_start = on_epoch_start

    def append_batches(self, records, bint as_leader, int32_t epoch, int32_t last_epoch,
                       bint new_epoch_cache):
        """Validate, stamp (as leader) and write one append at the end of the segment.

        Calls ``on_epoch_start`` for each epoch the batches start and returns
        an ``append_info`` with the first and last offsets, or
        ``None`` without writing when the segment must roll first (by size,
        by age, or because the offsets no longer fit it); the batches are
        then valid and stamped, and the caller appends them to the new
        segment.  Raises ``ValueError`` (nothing written) for an invalid
        append; on a write error the file is cut back to its previous size
        and the ``OSError`` raised.
        """
        cdef Py_buffer view
        cdef AppendSummary s
        cdef Py_ssize_t position = self.size, done = 0
        cdef ssize_t n = 0
        cdef int err = 0
        cdef int64_t waited
        if self.fd < 0:
            raise ValueError("segment is closed")
        if self.append_info is None:
            raise ValueError("set_append_limits() was not called on this segment")
        out = acquire_append_buffer(records, as_leader, &view)
        try:
            starts = validate_and_stamp(<uint8_t *>view.buf, view.len, as_leader, self.next_offset,
                                        epoch, last_epoch, self.max_batch_size, new_epoch_cache,
                                        self.check_leader_crc or not as_leader, &s)
            if position > 0:
                if s.size > self.segment_bytes - position or s.last - self.base_offset > 2147483647:
                    return None
                rolling = self.rolling_based_timestamp
                if rolling is not None and <int64_t>rolling >= 0:
                    waited = s.max_ts - <int64_t>rolling
                else:
                    waited = <int64_t>self.time_ms() - self.created_ms
                if waited > self.segment_ms:
                    return None
            if self.write_fn is None:
                with nogil:
                    while done < s.size:
                        n = write(self.fd, <const uint8_t *>view.buf + done, <size_t>(s.size - done))
                        if n < 0:
                            if errno == EINTR:
                                continue
                            err = errno
                            break
                        done += n
                if err:
                    self._cut_back(position)
                    raise OSError(err, os.strerror(err))
            else:
                try:
                    data = memoryview(out).cast("B")
                    while done < s.size:
                        done += self.write_fn(self.fd, data[done:])
                except BaseException:
                    self._cut_back(position)
                    raise
            # the bookkeeping of Kafka's LogSegment.append, batch by batch
            self._account_batches(<const uint8_t *>view.buf, s.size, position)
        finally:
            PyBuffer_Release(&view)
        self.size = position + s.size
        if position == 0:
            self.rolling_based_timestamp = s.max_ts
        self.next_offset = s.last + 1
        if starts is not None:
            for start in starts:
                self.on_epoch_start(*start)
        # a frozen dataclass built without its (slow) __init__: fill its __dict__
        info = object.__new__(self.append_info)
        fields = info.__dict__
        fields["first_offset"] = s.first
        fields["last_offset"] = s.last
        return info

    cdef int _account_batches(self, const uint8_t *data, Py_ssize_t total, Py_ssize_t position) except -1:
        # Kafka's LogSegment.append (storage 3.9.2, LogSegment.java:258-273) walks the batches of one
        # append: each batch may raise the largest timestamp so far (kept with that batch's last
        # offset), and a batch that comes more than index.interval.bytes after the last index entry
        # gets an entry of its own (its last offset at its own position) -- so a follower's append
        # of many batches is indexed exactly as the same batches appended one by one
        cdef Py_ssize_t pos = 0, size
        cdef int64_t last, ts
        while pos < total:
            size = <Py_ssize_t>(<int32_t>be32(data + pos + POS_LENGTH)) + LOG_OVERHEAD
            last = <int64_t>be64(data + pos + POS_BASE_OFFSET) + <int32_t>be32(data + pos + POS_LAST_OFFSET_DELTA)
            ts = <int64_t>be64(data + pos + POS_MAX_TIMESTAMP)
            if ts > self.max_timestamp:
                self.max_timestamp = ts
                self.offset_of_max_timestamp = last
            if self.bytes_since_last_index_entry > self.index_interval_bytes:
                self._append_index_entries(last, position + pos)
                self.bytes_since_last_index_entry = 0
            self.bytes_since_last_index_entry += size
            pos += size
        return 0

    cdef int _append_index_entries(self, int64_t last_offset, Py_ssize_t position) except -1:
        # the offset index: (last offset of the batch, its position); offsets and
        # positions only grow within a segment, so the entry follows the last one
        cdef uint8_t entry[12]
        cdef int64_t relative = last_offset - self.base_offset
        cdef int64_t ts = self.max_timestamp
        index = self.offset_index
        put32(entry, <uint32_t>relative)
        put32(entry + 4, <uint32_t>position)
        bytearray_append(index.entries, entry, 8)
        index._last = (relative, position)
        # the time index, when the largest timestamp moved on
        if ts < 0:
            return 0
        index = self.time_index
        last = index._last
        if last is not None and (ts <= <int64_t>last[0] or self.offset_of_max_timestamp < <int64_t>last[1]):
            return 0
        put64(entry, <uint64_t>ts)
        put32(entry + 8, <uint32_t>(self.offset_of_max_timestamp - self.base_offset))
        bytearray_append(index.entries, entry, 12)
        index._last = (ts, self.offset_of_max_timestamp)
        return 0

    def _cut_back(self, Py_ssize_t position):
        try:
            os.ftruncate(self.fd, position)
            os.lseek(self.fd, position, os.SEEK_SET)
        except OSError:
            _log.exception("segment at fd %d: cannot cut back a failed write", self.fd)
