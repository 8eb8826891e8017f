/*
 * Base64 (RFC 4648): the standard alphabet with padding, as Kafka REST clients send binary
 * keys, values and headers, and the URL-safe alphabet without padding, as JWTs use.
 * Thread-safe.
 */
#ifndef CM_B64_H
#define CM_B64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Bytes cm_b64_encode writes for `n` input bytes, without the NUL. */
static inline size_t cm_b64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/** Standard base64 with padding; writes cm_b64_encoded_len(n) bytes and no NUL. */
void cm_b64_encode(const uint8_t *in, size_t n, char *out);

/**
 * Decodes standard base64 (padding required when `url` is false) or base64url (padding
 * optional) into `out`, which must hold at least n / 4 * 3 + 3 bytes. Returns the decoded
 * length, or -1 when the text is not valid in that alphabet.
 */
long cm_b64_decode(const char *in, size_t n, bool url, uint8_t *out);

#endif
