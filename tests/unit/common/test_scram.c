/*
 * SCRAM-SHA-256 (cm_scram): RFC 7677 §3's exchange from both ends, byte for byte; the
 * verifier's text form; client and server against each other; and what the server refuses
 * (a wrong password, a flipped proof bit, a nonce that does not extend the client's, channel
 * binding, another authzid, mandatory extensions, bad base64, a second attempt).
 */
#include "cmocka_all.h"

#include <string.h>

#include "cm_b64.h"
#include "cm_scram.h"

/* RFC 7677 §3. */
#define USER         "user"
#define PASSWORD     "pencil"
#define CNONCE       "rOprNGfwEbeRWgbNEkqO"
#define SNONCE       "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define SALT_B64     "W22ZaJ0SNY7soEsUEjb6gQ=="
#define CLIENT_FIRST "n,,n=user,r=" CNONCE
#define SERVER_FIRST "r=" CNONCE SNONCE ",s=" SALT_B64 ",i=4096"
#define CLIENT_FINAL "c=biws,r=" CNONCE SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void rfc_verifier(cm_scram_verifier_t *v)
{
    uint8_t salt[32];
    long n = cm_b64_decode(SALT_B64, strlen(SALT_B64), false, salt);
    assert_int_equal(n, 16);
    cm_scram_verifier_make(PASSWORD, salt, (size_t)n, 4096, v);
}

#define MSG(s) (const uint8_t *)(s), strlen(s)

static void test_scram__rfc7677_client(void **state)
{
    cm_scram_client_t c;
    char out[CM_SCRAM_MSG_MAX], err[128];
    assert_int_equal(cm_scram_client_start(&c, USER, PASSWORD, CNONCE, out, sizeof(out)),
                     (int)strlen(CLIENT_FIRST));
    assert_string_equal(out, CLIENT_FIRST);
    assert_true(cm_scram_client_proof(&c, MSG(SERVER_FIRST), out, sizeof(out), err, sizeof(err)) >
                0);
    assert_string_equal(out, CLIENT_FINAL);
    assert_true(cm_scram_client_verify(&c, MSG(SERVER_FINAL), err, sizeof(err)));
    (void)state;
}

static void test_scram__rfc7677_server(void **state)
{
    cm_scram_verifier_t v;
    rfc_verifier(&v);
    cm_scram_server_t s;
    char out[CM_SCRAM_MSG_MAX], err[128];
    assert_true(cm_scram_server_start(&s, MSG(CLIENT_FIRST), err, sizeof(err)));
    assert_string_equal(s.user, USER);
    assert_true(cm_scram_server_challenge(&s, &v, SNONCE, out, sizeof(out)) > 0);
    assert_string_equal(out, SERVER_FIRST);
    assert_true(cm_scram_server_finish(&s, MSG(CLIENT_FINAL), out, sizeof(out), err, sizeof(err)) >
                0);
    assert_string_equal(out, SERVER_FINAL);
    (void)state;
}

/* librdkafka sends its nonce twice in client-final (r=<cnonce><cnonce><snonce>); Kafka's
 * server takes a nonce that ends with server-first's, and so does this one. The proof and
 * signature below were computed with Python's hashlib for that message. */
static void test_scram__librdkafka_nonce(void **state)
{
    cm_scram_verifier_t v;
    rfc_verifier(&v);
    cm_scram_server_t s;
    char out[CM_SCRAM_MSG_MAX], err[128];
    assert_true(cm_scram_server_start(&s, MSG(CLIENT_FIRST), err, sizeof(err)));
    assert_true(cm_scram_server_challenge(&s, &v, SNONCE, out, sizeof(out)) > 0);
    assert_true(cm_scram_server_finish(&s,
                                       MSG("c=biws,r=" CNONCE CNONCE SNONCE
                                           ",p=1Y75+q7XaCGJj/r6vyQWwoNxSzV5ksS8xhp5Lqyriec="),
                                       out, sizeof(out), err, sizeof(err)) > 0);
    assert_string_equal(out, "v=3svB0h5EwFJ/+WVn2GpJ5uBzW8HEv9nm1rcYAhYlm0A=");
    /* The same nonce with the RFC's proof (made for the other message) fails on the proof. */
    assert_true(cm_scram_server_start(&s, MSG(CLIENT_FIRST), err, sizeof(err)));
    assert_true(cm_scram_server_challenge(&s, &v, SNONCE, out, sizeof(out)) > 0);
    assert_true(cm_scram_server_finish(&s,
                                       MSG("c=biws,r=" CNONCE CNONCE SNONCE
                                           ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
                                       out, sizeof(out), err, sizeof(err)) < 0);
    assert_string_equal(err, "authentication failed");
    (void)state;
}

static void test_scram__verifier_text(void **state)
{
    cm_scram_verifier_t v, back;
    rfc_verifier(&v);
    char text[256];
    assert_true(cm_scram_verifier_format(&v, text, sizeof(text)) > 0);
    assert_string_equal(text, "SCRAM-SHA-256$4096:" SALT_B64 "$"
                              "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
                              "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
    assert_true(cm_scram_verifier_parse(text, &back));
    assert_memory_equal(&back, &v, sizeof(v));
    static const char *const bad[] = {
        "",
        "SCRAM-SHA-1$4096:" SALT_B64 "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$0:" SALT_B64 "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:" SALT_B64 "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
        "SCRAM-SHA-256$4096:" SALT_B64 "$WG5d8oPm3Otc:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:" SALT_B64 "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4q!=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        if (cm_scram_verifier_parse(bad[i], &back))
            fail_msg("accepted verifier %zu: %s", i, bad[i]);
    (void)state;
}

/* Runs a whole exchange between the client (user, password) and a server holding `v`;
 * returns true when both ends accept. */
static bool exchange(const char *user, const char *password, const cm_scram_verifier_t *v)
{
    cm_scram_client_t c;
    cm_scram_server_t s;
    char a[CM_SCRAM_MSG_MAX], b[CM_SCRAM_MSG_MAX], err[128];
    int n = cm_scram_client_start(&c, user, password, NULL, a, sizeof(a));
    assert_true(n > 0);
    assert_true(cm_scram_server_start(&s, (const uint8_t *)a, (size_t)n, err, sizeof(err)));
    assert_string_equal(s.user, user);
    n = cm_scram_server_challenge(&s, v, NULL, b, sizeof(b));
    assert_true(n > 0);
    n = cm_scram_client_proof(&c, (const uint8_t *)b, (size_t)n, a, sizeof(a), err, sizeof(err));
    assert_true(n > 0);
    n = cm_scram_server_finish(&s, (const uint8_t *)a, (size_t)n, b, sizeof(b), err, sizeof(err));
    if (n < 0)
        return false;
    return cm_scram_client_verify(&c, (const uint8_t *)b, (size_t)n, err, sizeof(err));
}

static void test_scram__both_ends(void **state)
{
    cm_scram_verifier_t v;
    cm_scram_verifier_make("broker-1.secret,with=odd chars", NULL, 0, 4096, &v);
    assert_int_equal(v.salt_len, 16);
    assert_true(exchange("broker-1", "broker-1.secret,with=odd chars", &v));
    assert_true(exchange("a,b=c", "broker-1.secret,with=odd chars", &v)); /* escaped name */
    assert_false(exchange("broker-1", "broker-1.secret,with=odd charS", &v));
    assert_false(exchange("broker-1", "", &v));
    (void)state;
}

/* The server refuses each of these at the step given, with a reason. */
static void test_scram__server_refuses(void **state)
{
    cm_scram_verifier_t v;
    rfc_verifier(&v);
    static const char *const firsts[] = {
        "p=tls-unique,,n=user,r=" CNONCE, /* channel binding */
        "n,a=admin,n=user,r=" CNONCE,     /* another authzid */
        "n,,m=x,n=user,r=" CNONCE,        /* a mandatory extension */
        "n,,n=,r=" CNONCE,                /* no user */
        "n,,n=us=2Der,r=" CNONCE,         /* a bad escape */
        "n,,n=user,r=",                   /* no nonce */
        "n,,n=user",                      /* no nonce at all */
        "x,,n=user,r=" CNONCE,            /* a bad flag */
        "n,n=user,r=" CNONCE,             /* no authzid field */
        "",
    };
    cm_scram_server_t s;
    char out[CM_SCRAM_MSG_MAX], err[128];
    for (size_t i = 0; i < sizeof(firsts) / sizeof(*firsts); i++) {
        err[0] = '\0';
        if (cm_scram_server_start(&s, MSG(firsts[i]), err, sizeof(err)))
            fail_msg("accepted client-first %zu: %s", i, firsts[i]);
        assert_true(err[0] != '\0');
    }
    /* A NUL inside, and a message longer than any. */
    assert_false(
        cm_scram_server_start(&s, (const uint8_t *)"n,,n=u\0ser,r=x", 14, err, sizeof(err)));
    char big[CM_SCRAM_MSG_MAX + 10];
    memset(big, 'a', sizeof(big));
    assert_false(cm_scram_server_start(&s, (const uint8_t *)big, sizeof(big), err, sizeof(err)));
    /* The authzid may name the user itself. */
    assert_true(cm_scram_server_start(&s, MSG("n,a=user,n=user,r=" CNONCE), err, sizeof(err)));

    char flipped[] = CLIENT_FINAL;
    flipped[strlen(flipped) - 5] ^= 0x01; /* one bit of the proof */
    const char *const finals[] = {
        "c=biws,r=" CNONCE "other"
        ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=" CNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=eSws,r=" CNONCE SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=" CNONCE SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndV!=",
        "c=biws,r=" CNONCE SNONCE ",p=dHzbZapWIk4j",
        "c=biws,r=" CNONCE SNONCE,
        "c=biws,r=" CNONCE SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=1",
        "r=" CNONCE SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        flipped,
    };
    for (size_t i = 0; i < sizeof(finals) / sizeof(*finals); i++) {
        assert_true(cm_scram_server_start(&s, MSG(CLIENT_FIRST), err, sizeof(err)));
        assert_true(cm_scram_server_challenge(&s, &v, SNONCE, out, sizeof(out)) > 0);
        err[0] = '\0';
        if (cm_scram_server_finish(&s, MSG(finals[i]), out, sizeof(out), err, sizeof(err)) >= 0)
            fail_msg("accepted client-final %zu: %s", i, finals[i]);
        assert_true(err[0] != '\0');
        /* No second attempt on the same exchange, even with the right proof. */
        assert_true(
            cm_scram_server_finish(&s, MSG(CLIENT_FINAL), out, sizeof(out), err, sizeof(err)) < 0);
    }
    (void)state;
}

/* The client refuses a server that does not extend its nonce, asks for too few iterations,
 * or signs wrongly. */
static void test_scram__client_refuses(void **state)
{
    cm_scram_client_t c;
    char out[CM_SCRAM_MSG_MAX], err[128];
    static const char *const firsts[] = {
        "r=other" SNONCE ",s=" SALT_B64 ",i=4096",       "r=" CNONCE ",s=" SALT_B64 ",i=4096",
        "r=" CNONCE SNONCE ",s=" SALT_B64 ",i=1",        "r=" CNONCE SNONCE ",s=!!!!,i=4096",
        "m=x,r=" CNONCE SNONCE ",s=" SALT_B64 ",i=4096", "r=" CNONCE SNONCE ",i=4096",
    };
    for (size_t i = 0; i < sizeof(firsts) / sizeof(*firsts); i++) {
        assert_true(cm_scram_client_start(&c, USER, PASSWORD, CNONCE, out, sizeof(out)) > 0);
        if (cm_scram_client_proof(&c, MSG(firsts[i]), out, sizeof(out), err, sizeof(err)) >= 0)
            fail_msg("accepted server-first %zu: %s", i, firsts[i]);
    }
    assert_true(cm_scram_client_start(&c, USER, PASSWORD, CNONCE, out, sizeof(out)) > 0);
    assert_true(cm_scram_client_proof(&c, MSG(SERVER_FIRST), out, sizeof(out), err, sizeof(err)) >
                0);
    assert_false(cm_scram_client_verify(&c, MSG("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5="),
                                        err, sizeof(err)));
    assert_true(cm_scram_client_start(&c, USER, PASSWORD, CNONCE, out, sizeof(out)) > 0);
    assert_true(cm_scram_client_proof(&c, MSG(SERVER_FIRST), out, sizeof(out), err, sizeof(err)) >
                0);
    assert_false(cm_scram_client_verify(&c, MSG("e=invalid-proof"), err, sizeof(err)));
    assert_non_null(strstr(err, "invalid-proof"));
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scram__rfc7677_client),
        cmocka_unit_test(test_scram__rfc7677_server),
        cmocka_unit_test(test_scram__librdkafka_nonce),
        cmocka_unit_test(test_scram__verifier_text),
        cmocka_unit_test(test_scram__both_ends),
        cmocka_unit_test(test_scram__server_refuses),
        cmocka_unit_test(test_scram__client_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
