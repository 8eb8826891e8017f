#include "cm_crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define CM_CRC32C__POLY 0x82f63b78u /* reflected Castagnoli polynomial */

static uint32_t cm_crc32c__table[8][256];
static pthread_once_t cm_crc32c__once = PTHREAD_ONCE_INIT;
static int cm_crc32c__hw;

static void cm_crc32c__init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CM_CRC32C__POLY : c >> 1;
        cm_crc32c__table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++)
        for (int t = 1; t < 8; t++)
            cm_crc32c__table[t][n] = (cm_crc32c__table[t - 1][n] >> 8) ^
                                     cm_crc32c__table[0][cm_crc32c__table[t - 1][n] & 0xff];
#if defined(__x86_64__)
    __builtin_cpu_init();
    cm_crc32c__hw = __builtin_cpu_supports("sse4.2");
#endif
}

int cm_crc32c_hw_available(void)
{
    pthread_once(&cm_crc32c__once, cm_crc32c__init);
    return cm_crc32c__hw;
}

uint32_t cm_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&cm_crc32c__once, cm_crc32c__init);
    const unsigned char *p = buf;
    crc = ~crc;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc; /* little-endian: the running CRC folds into the low four bytes */
        crc = cm_crc32c__table[7][w & 0xff] ^ cm_crc32c__table[6][(w >> 8) & 0xff] ^
              cm_crc32c__table[5][(w >> 16) & 0xff] ^ cm_crc32c__table[4][(w >> 24) & 0xff] ^
              cm_crc32c__table[3][(w >> 32) & 0xff] ^ cm_crc32c__table[2][(w >> 40) & 0xff] ^
              cm_crc32c__table[1][(w >> 48) & 0xff] ^ cm_crc32c__table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        crc = (crc >> 8) ^ cm_crc32c__table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t cm_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint64_t c = ~crc;
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}
#else
uint32_t cm_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    return cm_crc32c_sw(crc, buf, len);
}
#endif

uint32_t cm_crc32c(uint32_t crc, const void *buf, size_t len)
{
    return cm_crc32c_hw_available() ? cm_crc32c_hw(crc, buf, len) : cm_crc32c_sw(crc, buf, len);
}
