#include "cm_b64.h"

static const char cm_b64__std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void cm_b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = cm_b64__std[v >> 18];
        out[o++] = cm_b64__std[(v >> 12) & 63];
        out[o++] = cm_b64__std[(v >> 6) & 63];
        out[o++] = cm_b64__std[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = cm_b64__std[v >> 18];
        out[o++] = cm_b64__std[(v >> 12) & 63];
        out[o++] = i + 1 < n ? cm_b64__std[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
}

static int cm_b64__val(char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

long cm_b64_decode(const char *in, size_t n, bool url, uint8_t *out)
{
    size_t pad = 0;
    while (pad < 2 && n > 0 && in[n - 1] == '=') {
        n--;
        pad++;
    }
    if (!url && (n + pad) % 4 != 0)
        return -1;
    if (n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0))
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = cm_b64__val(in[i], url);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* The leftover bits must be zero, or two texts would decode to the same bytes. */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return -1;
    return (long)o;
}
