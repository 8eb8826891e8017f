/*
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as Kafka uses it for SASL (KIP-84): the verifier kept
 * for a credential, the server's two steps and the client's. No I/O: the caller carries
 * the messages (in SaslAuthenticate requests) and looks up the verifier by the user name
 * the first message gives.
 *
 * A verifier holds only one-way forms of the password (salt, iterations, StoredKey,
 * ServerKey); its text form is Postgres' "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>"
 * (base64). Refused: channel binding ("p="), an authzid other than the user, a nonce that
 * does not extend the client's, a mandatory extension ("m="), malformed attributes, and a
 * wrong proof (compared in constant time). Every function is thread-safe.
 */
#ifndef CM_SCRAM_H
#define CM_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CM_SCRAM_SALT_MAX       64
#define CM_SCRAM_USER_MAX       128 /* bytes of a user name, unescaped */
#define CM_SCRAM_NONCE_MAX      128
#define CM_SCRAM_MSG_MAX        1024 /* any message of the exchange */
#define CM_SCRAM_ITERATIONS_MIN 4096 /* RFC 7677's minimum, what Kafka's clients accept */
#define CM_SCRAM_ITERATIONS_MAX 100000

typedef struct cm_scram_verifier {
    int iterations;
    uint8_t salt[CM_SCRAM_SALT_MAX];
    size_t salt_len;
    uint8_t stored_key[32];
    uint8_t server_key[32];
} cm_scram_verifier_t;

/** Derives a verifier from a password with a random 16-byte salt (`salt` NULL) or `salt`. */
void cm_scram_verifier_make(const char *password, const uint8_t *salt, size_t salt_len,
                            int iterations, cm_scram_verifier_t *out);

/** Writes the text form; returns its length, or -1 when `cap` is too small. */
int cm_scram_verifier_format(const cm_scram_verifier_t *v, char *out, size_t cap);

/** Reads the text form; false when it is malformed or out of range. */
bool cm_scram_verifier_parse(const char *text, cm_scram_verifier_t *out);

/* ---- the server ------------------------------------------------------------------------ */

typedef struct cm_scram_server {
    int step;                            /* 0: expects client-first; 1: client-final; 2: done */
    char user[CM_SCRAM_USER_MAX + 1];    /* from client-first, unescaped */
    char gs2[CM_SCRAM_USER_MAX * 3 + 8]; /* the client's gs2 header, for its c= check */
    char client_first_bare[CM_SCRAM_MSG_MAX];
    char server_first[CM_SCRAM_MSG_MAX];
    char nonce[2 * CM_SCRAM_NONCE_MAX + 1]; /* the client's nonce and the server's */
    cm_scram_verifier_t v;
} cm_scram_server_t;

/**
 * Reads client-first; on success the user name is in s->user, for the caller to look up its
 * verifier. False with `err` set when the message is refused.
 */
bool cm_scram_server_start(cm_scram_server_t *s, const uint8_t *msg, size_t len, char *err,
                           size_t errcap);

/**
 * Writes server-first for the user's verifier into `out` (NUL-terminated); `nonce` is the
 * server's part of the nonce (NULL: 24 random bytes, base64). Returns its length, or -1.
 */
int cm_scram_server_challenge(cm_scram_server_t *s, const cm_scram_verifier_t *v, const char *nonce,
                              char *out, size_t cap);

/**
 * Reads client-final and checks the proof; on success writes server-final ("v=...") into
 * `out` and returns its length. -1 with `err` set when refused (a wrong password included).
 */
int cm_scram_server_finish(cm_scram_server_t *s, const uint8_t *msg, size_t len, char *out,
                           size_t cap, char *err, size_t errcap);

/* ---- the client ------------------------------------------------------------------------ */

typedef struct cm_scram_client {
    int step;
    char password[256];
    char client_first_bare[CM_SCRAM_MSG_MAX];
    char nonce[CM_SCRAM_NONCE_MAX + 1];
    uint8_t server_signature[32];
} cm_scram_client_t;

/**
 * Writes client-first for `user` and `password` into `out`; `nonce` NULL: 24 random bytes,
 * base64. Returns its length, or -1 (a user or password too long).
 */
int cm_scram_client_start(cm_scram_client_t *c, const char *user, const char *password,
                          const char *nonce, char *out, size_t cap);

/** Reads server-first and writes client-final into `out`; -1 with `err` when refused. */
int cm_scram_client_proof(cm_scram_client_t *c, const uint8_t *msg, size_t len, char *out,
                          size_t cap, char *err, size_t errcap);

/** Reads server-final: true when the server proved it knows the verifier. */
bool cm_scram_client_verify(cm_scram_client_t *c, const uint8_t *msg, size_t len, char *err,
                            size_t errcap);

#endif
