# distutils: sources = kraft/_native/src/crc32c.c
"""CRC-32C (Castagnoli) over any contiguous buffer, as Kafka stores it."""
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_CheckBuffer
from cpython.exc cimport PyErr_Clear
from libc.stdint cimport uint32_t

cdef extern from "Python.h":
    # Declared without an exception value so a refusal can be turned into a
    # TypeError without the cost of a try block on the fast path.
    int _get_buffer "PyObject_GetBuffer"(object obj, Py_buffer *view, int flags)

# Below this many bytes the GIL is kept: releasing it costs more than the CRC.
cdef Py_ssize_t GIL_RELEASE_THRESHOLD = 32768


ctypedef uint32_t (*crc_function)(uint32_t, const void *, size_t) noexcept nogil


cdef inline uint32_t _checksum(object data, uint32_t value, crc_function function) except? 0xFFFFFFFF:
    cdef Py_buffer view
    cdef uint32_t result
    if _get_buffer(data, &view, PyBUF_SIMPLE) == -1:
        PyErr_Clear()
        raise _buffer_error(data)
    try:
        if view.len >= GIL_RELEASE_THRESHOLD:
            with nogil:
                result = function(value, view.buf, <size_t>view.len)
        else:
            result = function(value, view.buf, <size_t>view.len)
    finally:
        PyBuffer_Release(&view)
    return result


cdef object _buffer_error(object data):
    if PyObject_CheckBuffer(data):
        return TypeError(
            f"crc32c needs a contiguous buffer; this {type(data).__name__} is not contiguous"
        )
    return TypeError(f"crc32c needs a bytes-like object, not {type(data).__name__}")


def crc32c(data, uint32_t value=0):
    """Return the CRC-32C of ``data``, continuing from ``value``.

    ``data`` is any contiguous buffer (bytes, bytearray, memoryview, numpy
    array); it is read in place.  ``crc32c(b, crc32c(a))`` equals
    ``crc32c(a + b)``.  The GIL is released for large buffers.
    """
    return _checksum(data, value, kraft_crc32c_update)


def crc32c_portable(data, uint32_t value=0):
    """``crc32c`` computed with the table-driven code only (for tests)."""
    return _checksum(data, value, kraft_crc32c_portable)


def crc32c_sse42(data, uint32_t value=0):
    """``crc32c`` with the SSE4.2 instruction only (tables without it; for tests)."""
    return _checksum(data, value, kraft_crc32c_sse42)


def crc32c_vpclmul(data, uint32_t value=0):
    """``crc32c`` folding with AVX-512 VPCLMULQDQ from 256 bytes (for tests;
    falls back to ``crc32c_sse42`` on CPUs without it)."""
    return _checksum(data, value, kraft_crc32c_vpclmul)


def hardware_available():
    """True if ``crc32c`` uses the CPU's SSE4.2 crc32 instruction."""
    return kraft_crc32c_hw_available() != 0


def vpclmul_available():
    """True if ``crc32c`` also folds large buffers with AVX-512 VPCLMULQDQ."""
    return kraft_crc32c_vpclmul_available() != 0
