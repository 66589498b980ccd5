# C declarations of kraft/_native/src/crc32c.c, for modules that cimport them.
# A module that uses them must also compile the C file:
#     # distutils: sources = kraft/_native/src/crc32c.c
from libc.stdint cimport uint32_t

cdef extern from "crc32c.h" nogil:
    uint32_t kraft_crc32c_update(uint32_t crc, const void *buf, size_t len)
    uint32_t kraft_crc32c_portable(uint32_t crc, const void *buf, size_t len)
    int kraft_crc32c_hw_available()
    int kraft_crc32c_vpclmul_available()
    uint32_t kraft_crc32c_sse42(uint32_t crc, const void *buf, size_t len)
    uint32_t kraft_crc32c_vpclmul(uint32_t crc, const void *buf, size_t len)
