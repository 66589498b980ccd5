/*
 * CRC-32C (Castagnoli), as Kafka stores it in record batch headers.
 *
 * kraft_crc32c_update(0, data, n) is the value Kafka writes; passing a
 * previous result as `crc` continues the checksum over more data, so
 * kraft_crc32c_update(kraft_crc32c_update(0, a, na), b, nb) equals the CRC of
 * a followed by b.  The pre- and post-inversion are handled inside.
 *
 * The fast path uses the SSE4.2 crc32 instruction on three interleaved
 * streams, and folds large buffers with AVX-512 VPCLMULQDQ where the CPU has
 * it; both are chosen at run time.  Other CPUs use slicing-by-8 tables.
 * Every function is safe to call without the GIL and from several threads.
 */
#ifndef KRAFT_CRC32C_H
#define KRAFT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CRC-32C of buf[0:len), continuing from crc (0 to start). */
uint32_t kraft_crc32c_update(uint32_t crc, const void *buf, size_t len);

/* The same, always with the portable table-driven code. */
uint32_t kraft_crc32c_portable(uint32_t crc, const void *buf, size_t len);

/* 1 if kraft_crc32c_update uses the SSE4.2 instruction on this CPU. */
int kraft_crc32c_hw_available(void);

/* 1 if it also folds large buffers with AVX-512 VPCLMULQDQ. */
int kraft_crc32c_vpclmul_available(void);

/* One path each, for tests and benchmarks; a path the CPU lacks falls back
 * to the next slower one (vpclmul -> sse42 -> portable). */
uint32_t kraft_crc32c_sse42(uint32_t crc, const void *buf, size_t len);
uint32_t kraft_crc32c_vpclmul(uint32_t crc, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* KRAFT_CRC32C_H */
