#include "cm_scram.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cm_b64.h"
#include "cm_secret.h"

#define CM_SCRAM__PREFIX      "SCRAM-SHA-256$"
#define CM_SCRAM__NONCE_BYTES 24

static void cm_scram__hmac(const uint8_t *key, size_t key_len, const void *data, size_t len,
                           uint8_t out[32])
{
    unsigned int n = 32;
    if (HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &n) == NULL || n != 32)
        abort(); /* OpenSSL cannot fail here short of memory exhaustion */
}

static void cm_scram__salted(const char *password, const uint8_t *salt, size_t salt_len,
                             int iterations, uint8_t out[32])
{
    if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, iterations,
                          EVP_sha256(), 32, out) != 1)
        abort();
}

/* StoredKey and ServerKey from a salted password. */
static void cm_scram__keys(const uint8_t salted[32], uint8_t client_key[32], uint8_t stored_key[32],
                           uint8_t server_key[32])
{
    cm_scram__hmac(salted, 32, "Client Key", 10, client_key);
    cm_secret_sha256(client_key, 32, stored_key);
    cm_scram__hmac(salted, 32, "Server Key", 10, server_key);
}

/* Base64 of `n` bytes into `out` (cap bytes), NUL-terminated; false when it does not fit. */
static bool cm_scram__b64(const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t len = cm_b64_encoded_len(n);
    if (len + 1 > cap)
        return false;
    cm_b64_encode(in, n, out);
    out[len] = '\0';
    return true;
}

/* Decodes standard base64 of exactly `want` bytes (0: up to `cap`); -1 when malformed. */
static long cm_scram__unb64(const char *in, size_t n, uint8_t *out, size_t cap, size_t want)
{
    if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap + 2)
        return -1;
    uint8_t buf[CM_SCRAM_MSG_MAX];
    if (n / 4 * 3 + 3 > sizeof(buf))
        return -1;
    long got = cm_b64_decode(in, n, false, buf);
    if (got < 0 || (size_t)got > cap || (want != 0 && (size_t)got != want))
        return -1;
    memcpy(out, buf, (size_t)got);
    return got;
}

static void cm_scram__random_nonce(char *out, size_t cap)
{
    uint8_t r[CM_SCRAM__NONCE_BYTES];
    cm_secret_random(r, sizeof(r));
    cm_scram__b64(r, sizeof(r), out, cap);
}

/* A nonce: printable ASCII but ',' (RFC 5802 §7), 1 .. CM_SCRAM_NONCE_MAX of them. */
static bool cm_scram__nonce_ok(const char *s, size_t n)
{
    if (n == 0 || n > CM_SCRAM_NONCE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
            return false;
    return true;
}

/* Copies a message into a NUL-terminated buffer; false when it is too long or has a NUL. */
static bool cm_scram__copy(const uint8_t *msg, size_t len, char *out, size_t cap)
{
    if (len + 1 > cap || memchr(msg, '\0', len) != NULL)
        return false;
    memcpy(out, msg, len);
    out[len] = '\0';
    return true;
}

/* Unescapes a saslname ("=2C" is ',', "=3D" is '='); false when malformed or too long. */
static bool cm_scram__unescape(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '=') {
            if (n - i < 3)
                return false;
            if (s[i + 1] == '2' && s[i + 2] == 'C')
                ch = ',';
            else if (s[i + 1] == '3' && s[i + 2] == 'D')
                ch = '=';
            else
                return false;
            i += 2;
        } else if (ch == ',' || ch == '\0') {
            return false;
        }
        if (o + 1 >= cap)
            return false;
        out[o++] = ch;
    }
    out[o] = '\0';
    return o > 0;
}

static bool cm_scram__escape(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = s; *p != '\0'; p++) {
        const char *rep = *p == ',' ? "=2C" : *p == '=' ? "=3D" : NULL;
        size_t k = rep != NULL ? 3 : 1;
        if (o + k + 1 > cap)
            return false;
        memcpy(out + o, rep != NULL ? rep : p, k);
        o += k;
    }
    out[o] = '\0';
    return o > 0;
}

static bool cm_scram__fail(char *err, size_t cap, const char *why)
{
    if (err != NULL && cap > 0)
        snprintf(err, cap, "%s", why);
    return false;
}

/* ---- verifiers --------------------------------------------------------------------------- */

void cm_scram_verifier_make(const char *password, const uint8_t *salt, size_t salt_len,
                            int iterations, cm_scram_verifier_t *out)
{
    memset(out, 0, sizeof(*out));
    out->iterations = iterations;
    if (salt == NULL) {
        out->salt_len = 16;
        cm_secret_random(out->salt, out->salt_len);
    } else {
        out->salt_len = salt_len < sizeof(out->salt) ? salt_len : sizeof(out->salt);
        memcpy(out->salt, salt, out->salt_len);
    }
    uint8_t salted[32], client_key[32];
    cm_scram__salted(password, out->salt, out->salt_len, iterations, salted);
    cm_scram__keys(salted, client_key, out->stored_key, out->server_key);
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(client_key, sizeof(client_key));
}

int cm_scram_verifier_format(const cm_scram_verifier_t *v, char *out, size_t cap)
{
    char salt[(CM_SCRAM_SALT_MAX + 2) / 3 * 4 + 1], sk[48], svk[48];
    if (!cm_scram__b64(v->salt, v->salt_len, salt, sizeof(salt)) ||
        !cm_scram__b64(v->stored_key, 32, sk, sizeof(sk)) ||
        !cm_scram__b64(v->server_key, 32, svk, sizeof(svk)))
        return -1;
    int n = snprintf(out, cap, CM_SCRAM__PREFIX "%d:%s$%s:%s", v->iterations, salt, sk, svk);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

bool cm_scram_verifier_parse(const char *text, cm_scram_verifier_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t plen = strlen(CM_SCRAM__PREFIX);
    if (strncmp(text, CM_SCRAM__PREFIX, plen) != 0)
        return false;
    const char *p = text + plen;
    char *end;
    long iter = strtol(p, &end, 10);
    if (end == p || *end != ':' || iter < 1 || iter > CM_SCRAM_ITERATIONS_MAX)
        return false;
    out->iterations = (int)iter;
    const char *salt = end + 1, *dollar = strchr(salt, '$');
    if (dollar == NULL)
        return false;
    long n = cm_scram__unb64(salt, (size_t)(dollar - salt), out->salt, sizeof(out->salt), 0);
    if (n <= 0)
        return false;
    out->salt_len = (size_t)n;
    const char *sk = dollar + 1, *colon = strchr(sk, ':');
    if (colon == NULL || cm_scram__unb64(sk, (size_t)(colon - sk), out->stored_key, 32, 32) != 32 ||
        cm_scram__unb64(colon + 1, strlen(colon + 1), out->server_key, 32, 32) != 32)
        return false;
    return true;
}

/* ---- the server -------------------------------------------------------------------------- */

bool cm_scram_server_start(cm_scram_server_t *s, const uint8_t *msg, size_t len, char *err,
                           size_t errcap)
{
    memset(s, 0, sizeof(*s));
    char buf[CM_SCRAM_MSG_MAX];
    if (!cm_scram__copy(msg, len, buf, sizeof(buf)))
        return cm_scram__fail(err, errcap, "client-first message too long or malformed");
    /* gs2-header: a channel-binding flag, an optional authzid, then the bare message. */
    if (strncmp(buf, "p=", 2) == 0)
        return cm_scram__fail(err, errcap, "channel binding is not supported");
    if ((buf[0] != 'n' && buf[0] != 'y') || buf[1] != ',')
        return cm_scram__fail(err, errcap, "client-first message: bad gs2 header");
    const char *authz = buf + 2, *comma = strchr(authz, ',');
    if (comma == NULL)
        return cm_scram__fail(err, errcap, "client-first message: bad gs2 header");
    char authzid[CM_SCRAM_USER_MAX + 1] = "";
    if (comma != authz) {
        if (strncmp(authz, "a=", 2) != 0 ||
            !cm_scram__unescape(authz + 2, (size_t)(comma - authz - 2), authzid, sizeof(authzid)))
            return cm_scram__fail(err, errcap, "client-first message: bad authzid");
    }
    size_t gs2_len = (size_t)(comma + 1 - buf);
    if (gs2_len + 1 > sizeof(s->gs2))
        return cm_scram__fail(err, errcap, "client-first message: bad gs2 header");
    memcpy(s->gs2, buf, gs2_len);
    s->gs2[gs2_len] = '\0';
    const char *bare = comma + 1;
    snprintf(s->client_first_bare, sizeof(s->client_first_bare), "%s", bare);
    if (strncmp(bare, "m=", 2) == 0)
        return cm_scram__fail(err, errcap, "mandatory extensions are not supported");
    const char *user_end = strchr(bare, ',');
    if (strncmp(bare, "n=", 2) != 0 || user_end == NULL ||
        !cm_scram__unescape(bare + 2, (size_t)(user_end - bare - 2), s->user, sizeof(s->user)))
        return cm_scram__fail(err, errcap, "client-first message: bad user name");
    if (authzid[0] != '\0' && strcmp(authzid, s->user) != 0)
        return cm_scram__fail(err, errcap, "the authorization id must be the user name");
    const char *r = user_end + 1, *r_end = strchr(r, ',');
    size_t rlen = r_end != NULL ? (size_t)(r_end - r) : strlen(r);
    if (strncmp(r, "r=", 2) != 0 || !cm_scram__nonce_ok(r + 2, rlen - 2))
        return cm_scram__fail(err, errcap, "client-first message: bad nonce");
    memcpy(s->nonce, r + 2, rlen - 2);
    s->nonce[rlen - 2] = '\0';
    s->step = 1;
    return true;
}

int cm_scram_server_challenge(cm_scram_server_t *s, const cm_scram_verifier_t *v, const char *nonce,
                              char *out, size_t cap)
{
    if (s->step != 1)
        return -1;
    char mine[CM_SCRAM_NONCE_MAX + 1];
    if (nonce == NULL)
        cm_scram__random_nonce(mine, sizeof(mine));
    else if (cm_scram__nonce_ok(nonce, strlen(nonce)))
        snprintf(mine, sizeof(mine), "%s", nonce);
    else
        return -1;
    size_t have = strlen(s->nonce);
    snprintf(s->nonce + have, sizeof(s->nonce) - have, "%s", mine);
    char salt[(CM_SCRAM_SALT_MAX + 2) / 3 * 4 + 1];
    if (!cm_scram__b64(v->salt, v->salt_len, salt, sizeof(salt)))
        return -1;
    int n = snprintf(s->server_first, sizeof(s->server_first), "r=%s,s=%s,i=%d", s->nonce, salt,
                     v->iterations);
    if (n < 0 || (size_t)n >= sizeof(s->server_first) || (size_t)n >= cap)
        return -1;
    memcpy(out, s->server_first, (size_t)n + 1);
    s->v = *v;
    s->step = 2;
    return n;
}

/* AuthMessage: client-first-bare "," server-first "," client-final-without-proof. */
static bool cm_scram__auth_message(char *out, size_t cap, const char *first_bare,
                                   const char *server_first, const char *final, size_t final_len)
{
    int n = snprintf(out, cap, "%s,%s,%.*s", first_bare, server_first, (int)final_len, final);
    return n > 0 && (size_t)n < cap;
}

int cm_scram_server_finish(cm_scram_server_t *s, const uint8_t *msg, size_t len, char *out,
                           size_t cap, char *err, size_t errcap)
{
    char buf[CM_SCRAM_MSG_MAX];
    if (s->step != 2)
        return cm_scram__fail(err, errcap, "the exchange is not at its last step"), -1;
    s->step = 3; /* whatever happens, no second attempt on this exchange */
    if (!cm_scram__copy(msg, len, buf, sizeof(buf)))
        return cm_scram__fail(err, errcap, "client-final message too long or malformed"), -1;
    /* c=<base64 of the gs2 header>,r=<nonce>[,extensions],p=<proof>: the proof is last. */
    const char *p = strstr(buf, ",p=");
    if (strncmp(buf, "c=", 2) != 0 || p == NULL || strchr(p + 3, ',') != NULL)
        return cm_scram__fail(err, errcap, "client-final message: malformed"), -1;
    size_t without_proof = (size_t)(p - buf);
    const char *c_end = strchr(buf, ',');
    uint8_t cb[sizeof(s->gs2)];
    long cbn = cm_scram__unb64(buf + 2, (size_t)(c_end - buf - 2), cb, sizeof(cb), 0);
    if (cbn < 0 || (size_t)cbn != strlen(s->gs2) || memcmp(cb, s->gs2, (size_t)cbn) != 0)
        return cm_scram__fail(err, errcap, "client-final message: channel binding mismatch"), -1;
    /* The nonce must end with the whole of server-first's, as Kafka's ScramSaslServer checks:
     * librdkafka sends its own nonce before it a second time. The proof covers the message
     * as sent, so a nonce of this exchange is in it either way. */
    const char *r = c_end + 1, *r_end = strchr(r, ',');
    size_t want = strlen(s->nonce), got = r_end != NULL ? (size_t)(r_end - r) : 0;
    if (strncmp(r, "r=", 2) != 0 || got < 2 + want || !cm_scram__nonce_ok(r + 2, got - 2) ||
        memcmp(r + got - want, s->nonce, want) != 0)
        return cm_scram__fail(err, errcap, "client-final message: nonce mismatch"), -1;
    uint8_t proof[32];
    if (cm_scram__unb64(p + 3, strlen(p + 3), proof, sizeof(proof), 32) != 32)
        return cm_scram__fail(err, errcap, "client-final message: bad proof"), -1;
    char am[3 * CM_SCRAM_MSG_MAX];
    if (!cm_scram__auth_message(am, sizeof(am), s->client_first_bare, s->server_first, buf,
                                without_proof))
        return cm_scram__fail(err, errcap, "client-final message: malformed"), -1;
    uint8_t sig[32], client_key[32], stored[32];
    cm_scram__hmac(s->v.stored_key, 32, am, strlen(am), sig);
    for (int i = 0; i < 32; i++)
        client_key[i] = proof[i] ^ sig[i];
    cm_secret_sha256(client_key, 32, stored);
    if (CRYPTO_memcmp(stored, s->v.stored_key, 32) != 0)
        return cm_scram__fail(err, errcap, "authentication failed"), -1;
    uint8_t server_sig[32];
    cm_scram__hmac(s->v.server_key, 32, am, strlen(am), server_sig);
    char b64[48];
    cm_scram__b64(server_sig, 32, b64, sizeof(b64));
    int n = snprintf(out, cap, "v=%s", b64);
    if (n < 0 || (size_t)n >= cap)
        return cm_scram__fail(err, errcap, "no room for the answer"), -1;
    return n;
}

/* ---- the client -------------------------------------------------------------------------- */

int cm_scram_client_start(cm_scram_client_t *c, const char *user, const char *password,
                          const char *nonce, char *out, size_t cap)
{
    memset(c, 0, sizeof(*c));
    char esc[CM_SCRAM_USER_MAX * 3 + 1];
    if (strlen(user) > CM_SCRAM_USER_MAX || !cm_scram__escape(user, esc, sizeof(esc)) ||
        strlen(password) >= sizeof(c->password))
        return -1;
    if (nonce == NULL)
        cm_scram__random_nonce(c->nonce, sizeof(c->nonce));
    else if (cm_scram__nonce_ok(nonce, strlen(nonce)))
        snprintf(c->nonce, sizeof(c->nonce), "%s", nonce);
    else
        return -1;
    snprintf(c->password, sizeof(c->password), "%s", password);
    int n =
        snprintf(c->client_first_bare, sizeof(c->client_first_bare), "n=%s,r=%s", esc, c->nonce);
    if (n < 0 || (size_t)n >= sizeof(c->client_first_bare))
        return -1;
    n = snprintf(out, cap, "n,,%s", c->client_first_bare);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    c->step = 1;
    return n;
}

int cm_scram_client_proof(cm_scram_client_t *c, const uint8_t *msg, size_t len, char *out,
                          size_t cap, char *err, size_t errcap)
{
    char buf[CM_SCRAM_MSG_MAX];
    if (c->step != 1)
        return cm_scram__fail(err, errcap, "the exchange is not at its second step"), -1;
    c->step = 3;
    if (!cm_scram__copy(msg, len, buf, sizeof(buf)))
        return cm_scram__fail(err, errcap, "server-first message too long or malformed"), -1;
    if (strncmp(buf, "m=", 2) == 0)
        return cm_scram__fail(err, errcap, "mandatory extensions are not supported"), -1;
    const char *r = buf, *s = strchr(r, ','), *i = s != NULL ? strchr(s + 1, ',') : NULL;
    size_t cn = strlen(c->nonce);
    if (strncmp(r, "r=", 2) != 0 || s == NULL || i == NULL || strncmp(s, ",s=", 3) != 0 ||
        strncmp(i, ",i=", 3) != 0)
        return cm_scram__fail(err, errcap, "server-first message: malformed"), -1;
    size_t rlen = (size_t)(s - r - 2);
    if (rlen <= cn || strncmp(r + 2, c->nonce, cn) != 0 || !cm_scram__nonce_ok(r + 2, rlen))
        return cm_scram__fail(err, errcap, "server-first message: nonce mismatch"), -1;
    uint8_t salt[CM_SCRAM_SALT_MAX];
    long sn = cm_scram__unb64(s + 3, (size_t)(i - s - 3), salt, sizeof(salt), 0);
    char *end;
    long iter = strtol(i + 3, &end, 10);
    if (sn <= 0 || end == i + 3 || (*end != '\0' && *end != ',') ||
        iter < CM_SCRAM_ITERATIONS_MIN || iter > CM_SCRAM_ITERATIONS_MAX)
        return cm_scram__fail(err, errcap, "server-first message: bad salt or iterations"), -1;
    char final[CM_SCRAM_MSG_MAX];
    int fn = snprintf(final, sizeof(final), "c=biws,r=%.*s", (int)rlen, r + 2);
    char am[3 * CM_SCRAM_MSG_MAX];
    if (fn < 0 || (size_t)fn >= sizeof(final) ||
        !cm_scram__auth_message(am, sizeof(am), c->client_first_bare, buf, final, (size_t)fn))
        return cm_scram__fail(err, errcap, "server-first message: too long"), -1;
    uint8_t salted[32], client_key[32], stored[32], server_key[32], sig[32], proof[32];
    cm_scram__salted(c->password, salt, (size_t)sn, (int)iter, salted);
    cm_scram__keys(salted, client_key, stored, server_key);
    cm_scram__hmac(stored, 32, am, strlen(am), sig);
    for (int k = 0; k < 32; k++)
        proof[k] = client_key[k] ^ sig[k];
    cm_scram__hmac(server_key, 32, am, strlen(am), c->server_signature);
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(client_key, sizeof(client_key));
    char b64[48];
    cm_scram__b64(proof, 32, b64, sizeof(b64));
    int n = snprintf(out, cap, "%s,p=%s", final, b64);
    if (n < 0 || (size_t)n >= cap)
        return cm_scram__fail(err, errcap, "no room for the answer"), -1;
    c->step = 2;
    return n;
}

bool cm_scram_client_verify(cm_scram_client_t *c, const uint8_t *msg, size_t len, char *err,
                            size_t errcap)
{
    char buf[CM_SCRAM_MSG_MAX];
    if (c->step != 2)
        return cm_scram__fail(err, errcap, "the exchange is not at its last step");
    c->step = 3;
    if (!cm_scram__copy(msg, len, buf, sizeof(buf)))
        return cm_scram__fail(err, errcap, "server-final message too long or malformed");
    if (strncmp(buf, "e=", 2) == 0) {
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "the server refused: %s", buf + 2);
        return false;
    }
    uint8_t sig[32];
    if (strncmp(buf, "v=", 2) != 0 || cm_scram__unb64(buf + 2, strlen(buf + 2), sig, 32, 32) != 32)
        return cm_scram__fail(err, errcap, "server-final message: malformed");
    if (CRYPTO_memcmp(sig, c->server_signature, 32) != 0)
        return cm_scram__fail(err, errcap, "the server's signature is wrong");
    return true;
}
