/*
 * Credentials: random identifiers and secrets, and the one-way form in which secrets are
 * stored, so a copy of the database reveals no usable credential. Secrets are 256 bits or
 * more from the CSPRNG, so a fast keyed hash protects them as well as a slow one, and
 * checking a wrong one costs microseconds, not the 10 ms an attacker could make a gateway
 * spend per guess: new secrets are kept as "hmac-sha256$<salt>$<hash>" (HMAC-SHA256 keyed
 * by the salt; both in unpadded base64url). Hashes made before,
 * "pbkdf2-sha256$<iterations>$<salt>$<hash>", still verify (slowly: cm_secret_costly).
 *
 * Thread-safe.
 */
#ifndef CM_SECRET_H
#define CM_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Longest hash string cm_secret_hash writes, with its NUL. */
#define CM_SECRET_HASH_MAX 128

/** Fills `buf` with `n` bytes from the kernel's CSPRNG. Aborts if it cannot. */
void cm_secret_random(void *buf, size_t n);

/** Writes `n` random characters of [A-Z0-9] and a NUL (API key ids). */
void cm_secret_random_id(char *out, size_t n);

/** Writes a random secret: `n_bytes` random bytes in unpadded base64url, and a NUL. */
void cm_secret_random_token(char *out, size_t cap, size_t n_bytes);

/** Unpadded base64url of `n` bytes; `cap` must be at least 4 * ceil(n / 3) + 1. */
void cm_secret_b64url(const uint8_t *in, size_t n, char *out, size_t cap);

/** Hashes `secret` with a fresh salt into `out` (CM_SECRET_HASH_MAX bytes). */
void cm_secret_hash(const char *secret, char out[CM_SECRET_HASH_MAX]);

/**
 * True when `secret` matches `stored` (a cm_secret_hash string). Malformed stored strings
 * never match. Runs in time independent of where the hashes differ.
 */
bool cm_secret_verify(const char *secret, const char *stored);

/** True when verifying against `stored` is slow (an old PBKDF2 hash, milliseconds). */
bool cm_secret_costly(const char *stored);

/** SHA-256 of `n` bytes. */
void cm_secret_sha256(const void *data, size_t n, uint8_t out[32]);

/** Lower-case hex SHA-256 of `n` bytes: 64 characters and a NUL. */
void cm_secret_sha256_hex(const void *data, size_t n, char out[65]);

/** Compares two strings in time that depends only on their lengths. */
bool cm_secret_equal(const char *a, const char *b);

#endif
