/*
 * SCRAM-SHA-256 messages as a broker's SASL server (and the gateway's client) will read
 * them from the network (cm_scram). The input is split at its first 0x00 byte: the part
 * before is a client-first message, the part after a client-final one, both read by a
 * server holding the RFC 7677 user's verifier; the whole input is also given to a client
 * as a server-first and a server-final message.
 *
 * Properties checked: an accepted client-first names a user of 1..128 bytes that comes
 * back when escaped the way a client writes it; the server accepts no client-final but the
 * RFC's proof and librdkafka's form of it (no other input proves the password);
 * messages written fit what was asked; nothing reads out of bounds.
 */
#include <stdbool.h>
#include <string.h>

#include "cm_b64.h"
#include "cm_scram.h"
#include "fuzz.h"

#define FUZZ__CNONCE "rOprNGfwEbeRWgbNEkqO"
#define FUZZ__SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define FUZZ__FINAL                                                                                \
    "c=biws,r=" FUZZ__CNONCE FUZZ__SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
/* librdkafka's form, its nonce twice (see test_scram.c) */
#define FUZZ__FINAL_RDKAFKA                                                                        \
    "c=biws,r=" FUZZ__CNONCE FUZZ__CNONCE FUZZ__SNONCE                                             \
    ",p=1Y75+q7XaCGJj/r6vyQWwoNxSzV5ksS8xhp5Lqyriec="

static cm_scram_verifier_t fuzz__v;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t salt[32];
    long n = cm_b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, false, salt);
    cm_scram_verifier_make("pencil", salt, (size_t)n, 4096, &fuzz__v);
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *zero = memchr(data, 0, size);
    size_t first_len = zero != NULL ? (size_t)(zero - data) : size;
    const uint8_t *final = zero != NULL ? zero + 1 : data + size;
    size_t final_len = size - first_len - (zero != NULL ? 1 : 0);
    char out[CM_SCRAM_MSG_MAX], err[128];

    cm_scram_server_t s;
    if (cm_scram_server_start(&s, data, first_len, err, sizeof(err))) {
        size_t ulen = strlen(s.user);
        fuzz_assert(ulen >= 1 && ulen <= CM_SCRAM_USER_MAX);
        /* The name a client writes for this user is read back as the same user. */
        cm_scram_client_t c;
        char cf[CM_SCRAM_MSG_MAX];
        int n = cm_scram_client_start(&c, s.user, "pw", "nonce", cf, sizeof(cf));
        if (n > 0) {
            cm_scram_server_t s2;
            fuzz_assert(
                cm_scram_server_start(&s2, (const uint8_t *)cf, (size_t)n, err, sizeof(err)));
            fuzz_assert(strcmp(s2.user, s.user) == 0);
        }
        n = cm_scram_server_challenge(&s, &fuzz__v, FUZZ__SNONCE, out, sizeof(out));
        if (n > 0) {
            fuzz_assert((size_t)n == strlen(out));
            n = cm_scram_server_finish(&s, final, final_len, out, sizeof(out), err, sizeof(err));
            if (n >= 0) {
                /* Only the RFC's own exchange (or librdkafka's form of it) proves the
                 * password. */
                bool rfc =
                    final_len == strlen(FUZZ__FINAL) && memcmp(final, FUZZ__FINAL, final_len) == 0;
                bool rdk = final_len == strlen(FUZZ__FINAL_RDKAFKA) &&
                           memcmp(final, FUZZ__FINAL_RDKAFKA, final_len) == 0;
                fuzz_assert(rfc || rdk);
                fuzz_assert(strcmp(s.user, "user") == 0);
            } else {
                fuzz_assert(err[0] != '\0');
            }
        }
    } else {
        fuzz_assert(err[0] != '\0');
    }

    cm_scram_client_t c;
    if (cm_scram_client_start(&c, "user", "pencil", FUZZ__CNONCE, out, sizeof(out)) > 0) {
        int n = cm_scram_client_proof(&c, data, size, out, sizeof(out), err, sizeof(err));
        if (n > 0) {
            fuzz_assert((size_t)n == strlen(out));
            (void)cm_scram_client_verify(&c, data, size, err, sizeof(err));
        }
    }
    return 0;
}
