#include "cm_secret.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define CM_SECRET__SALT_BYTES 16
#define CM_SECRET__HASH_BYTES 32

void cm_secret_random(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got <= 0)
            abort(); /* no entropy: issuing predictable credentials would be worse */
        p += got;
        n -= (size_t)got;
    }
}

void cm_secret_random_id(char *out, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (size_t i = 0; i < n; i++) {
        uint8_t r;
        do /* rejection sampling keeps the 36 characters equally likely */
            cm_secret_random(&r, 1);
        while (r >= 252);
        out[i] = abc[r % 36];
    }
    out[n] = '\0';
}

void cm_secret_b64url(const uint8_t *in, size_t n, char *out, size_t cap)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    if (cap < (n + 2) / 3 * 4 + 1)
        abort();
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = abc[(v >> 18) & 63];
        out[o++] = abc[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = abc[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = abc[v & 63];
    }
    out[o] = '\0';
}

void cm_secret_random_token(char *out, size_t cap, size_t n_bytes)
{
    uint8_t buf[128];
    if (n_bytes > sizeof(buf))
        abort();
    cm_secret_random(buf, n_bytes);
    cm_secret_b64url(buf, n_bytes, out, cap);
}

static void cm_secret__pbkdf2(const char *secret, const char *salt, int iterations,
                              uint8_t out[CM_SECRET__HASH_BYTES])
{
    if (PKCS5_PBKDF2_HMAC(secret, (int)strlen(secret), (const unsigned char *)salt,
                          (int)strlen(salt), iterations, EVP_sha256(), CM_SECRET__HASH_BYTES,
                          out) != 1)
        abort();
}

static void cm_secret__hmac(const char *secret, const char *salt,
                            uint8_t out[CM_SECRET__HASH_BYTES])
{
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), salt, (int)strlen(salt), (const unsigned char *)secret, strlen(secret),
             out, &len) == NULL ||
        len != CM_SECRET__HASH_BYTES)
        abort();
}

void cm_secret_hash(const char *secret, char out[CM_SECRET_HASH_MAX])
{
    char salt[32], hash_b64[48];
    uint8_t hash[CM_SECRET__HASH_BYTES];
    cm_secret_random_token(salt, sizeof(salt), CM_SECRET__SALT_BYTES);
    cm_secret__hmac(secret, salt, hash);
    cm_secret_b64url(hash, sizeof(hash), hash_b64, sizeof(hash_b64));
    snprintf(out, CM_SECRET_HASH_MAX, "hmac-sha256$%s$%s", salt, hash_b64);
}

bool cm_secret_verify(const char *secret, const char *stored)
{
    char salt[64], want[64], got_b64[48];
    int iterations, used = 0;
    uint8_t got[CM_SECRET__HASH_BYTES];
    if (sscanf(stored, "hmac-sha256$%63[A-Za-z0-9_-]$%63[A-Za-z0-9_-]%n", salt, want, &used) == 2 &&
        stored[used] == '\0') {
        cm_secret__hmac(secret, salt, got);
    } else if (sscanf(stored, "pbkdf2-sha256$%d$%63[A-Za-z0-9_-]$%63[A-Za-z0-9_-]%n", &iterations,
                      salt, want, &used) == 3 &&
               stored[used] == '\0' && iterations >= 1000 && iterations <= 10000000) {
        cm_secret__pbkdf2(secret, salt, iterations, got);
    } else {
        return false;
    }
    cm_secret_b64url(got, sizeof(got), got_b64, sizeof(got_b64));
    return cm_secret_equal(got_b64, want);
}

bool cm_secret_costly(const char *stored)
{
    return strncmp(stored, "pbkdf2-", 7) == 0;
}

/* SHA-256 fetched from the default provider once: OpenSSL 3 looks a digest up again on
 * every SHA256() or EVP_sha256() use, which costs more than hashing a short string. */
static EVP_MD *cm_secret__sha256_md;
static pthread_once_t cm_secret__sha256_once = PTHREAD_ONCE_INIT;

static void cm_secret__sha256_fetch(void)
{
    cm_secret__sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (cm_secret__sha256_md == NULL)
        abort();
}

void cm_secret_sha256(const void *data, size_t n, uint8_t out[32])
{
    pthread_once(&cm_secret__sha256_once, cm_secret__sha256_fetch);
    unsigned int len = 0;
    if (EVP_Digest(data, n, out, &len, cm_secret__sha256_md, NULL) != 1 || len != 32)
        abort();
}

void cm_secret_sha256_hex(const void *data, size_t n, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t md[32];
    cm_secret_sha256(data, n, md);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

bool cm_secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return false;
    return CRYPTO_memcmp(a, b, la) == 0;
}
