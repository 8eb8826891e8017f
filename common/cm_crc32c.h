/*
 * CRC32C (Castagnoli), as Kafka RecordBatch v2 uses it.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it (about 9 GB/s per stream on the
 * reference machine) and a portable slicing-by-8 table otherwise. The choice is made once,
 * at the first call, and is thread-safe.
 */
#ifndef CM_CRC32C_H
#define CM_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/**
 * Extends `crc` (the value returned for the preceding bytes, 0 to start) over `len` bytes
 * at `buf`. The result is the finished CRC, ready to compare or to extend again.
 */
uint32_t cm_crc32c(uint32_t crc, const void *buf, size_t len);

/** The portable implementation, exposed so tests can check both paths agree. */
uint32_t cm_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/** The hardware implementation; only valid when cm_crc32c_hw_available() is true. */
uint32_t cm_crc32c_hw(uint32_t crc, const void *buf, size_t len);

/** True when the CPU has a CRC32C instruction this build can use. */
int cm_crc32c_hw_available(void);

#endif
