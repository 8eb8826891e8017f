/*
 * A bounded table of token buckets keyed by short byte strings (a source address prefix,
 * a key id): what the gateway uses to count failed authentications. Its memory is fixed
 * when it is made, however many keys an attacker invents: the table is set-associative
 * (8 ways), and a new key takes the place of the way that holds the least, the one whose
 * bucket is fullest after refilling (a key that has not failed lately), so keys that keep
 * failing stay counted and nothing is ever wiped wholesale.
 *
 * Keys longer than CM_LIMITER_KEY_MAX bytes are cut to it. Thread-safe (one mutex).
 */
#ifndef CM_LIMITER_H
#define CM_LIMITER_H

#include <stddef.h>
#include <stdint.h>

#define CM_LIMITER_KEY_MAX 48

typedef struct cm_limiter cm_limiter_t;

/**
 * A table of at least `slots` keys (rounded up to a power of two, at least 8), each a
 * bucket of `rate` tokens per second holding at most `burst`. Aborts on no memory.
 */
cm_limiter_t *cm_limiter_new(size_t slots, double rate, double burst);

void cm_limiter_free(cm_limiter_t *l);

/**
 * 0 when `key` has a token left at `now_us` (a key never charged has `burst`), else the
 * microseconds until it has one. Takes nothing.
 */
int64_t cm_limiter_wait(cm_limiter_t *l, const void *key, size_t n, int64_t now_us);

/** Takes a token from `key`, going into debt when it has none: one more failure. */
void cm_limiter_charge(cm_limiter_t *l, const void *key, size_t n, int64_t now_us);

/**
 * The key that counts a network source, from its address in text: 'A' and the 4 bytes of
 * an IPv4 address, or 'A' and the first 8 bytes (the /64) of an IPv6 one, since a host
 * holds a whole /64 and counting its addresses one by one would count nothing; an
 * IPv4-mapped IPv6 address is its IPv4 one. Other text ("unknown") is kept as it is.
 * Returns the key's length (at most `cap`, which is at least 17).
 */
size_t cm_limiter_addr_key(const char *addr, uint8_t *out, size_t cap);

/** How many keys the table holds now, and at most. */
size_t cm_limiter_size(cm_limiter_t *l);
size_t cm_limiter_capacity(const cm_limiter_t *l);

#endif
