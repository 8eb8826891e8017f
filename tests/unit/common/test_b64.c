/* Base64 and base64url (RFC 4648): the RFC's vectors, both alphabets, and what is refused. */
#include "cmocka_all.h"

#include <string.h>

#include "cm_b64.h"

static void test_b64__rfc4648_vectors(void **state)
{
    static const char *const v[][2] = {
        { "", "" },
        { "f", "Zg==" },
        { "fo", "Zm8=" },
        { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" },
        { "fooba", "Zm9vYmE=" },
        { "foobar", "Zm9vYmFy" },
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char enc[16] = { 0 };
        uint8_t dec[16];
        size_t n = strlen(v[i][0]);
        cm_b64_encode((const uint8_t *)v[i][0], n, enc);
        assert_int_equal(cm_b64_encoded_len(n), strlen(v[i][1]));
        assert_string_equal(enc, v[i][1]);
        assert_int_equal(cm_b64_decode(v[i][1], strlen(v[i][1]), false, dec), (long)n);
        assert_memory_equal(dec, v[i][0], n);
    }
    (void)state;
}

static void test_b64__every_byte_both_alphabets(void **state)
{
    uint8_t in[256], dec[256 + 3];
    char enc[400];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)(255 - i);
    cm_b64_encode(in, sizeof(in), enc);
    size_t n = cm_b64_encoded_len(sizeof(in));
    assert_int_equal(cm_b64_decode(enc, n, false, dec), 256);
    assert_memory_equal(dec, in, sizeof(in));
    /* The same text in the URL-safe alphabet, without padding. */
    for (size_t i = 0; i < n; i++)
        enc[i] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : enc[i];
    while (n > 0 && enc[n - 1] == '=')
        n--;
    assert_int_equal(cm_b64_decode(enc, n, true, dec), 256);
    assert_memory_equal(dec, in, sizeof(in));
    /* Each alphabet refuses the other's two characters. */
    assert_int_equal(cm_b64_decode("-_-_", 4, false, dec), -1);
    assert_int_equal(cm_b64_decode("+/+/", 4, true, dec), -1);
    assert_int_equal(cm_b64_decode("+/+/", 4, false, dec), 3);
    assert_int_equal(cm_b64_decode("-_-_", 4, true, dec), 3);
    (void)state;
}

static void test_b64__refused(void **state)
{
    uint8_t dec[16];
    static const char *const bad[] = {
        "Zg=",      /* standard needs whole quads */
        "Zm9",      /* same */
        "Z===",     /* too much padding */
        "Zh==",     /* leftover bits not zero: would alias "Zg==" */
        "Zm9v\n",   /* a character outside the alphabet */
        "Zm 9v",    /* same */
        "Zm9v\x80", /* a high byte */
        "Z",        /* one character cannot hold a byte */
        "Zg==Zg==", /* padding inside */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cm_b64_decode(bad[i], strlen(bad[i]), false, dec), -1);
    assert_int_equal(cm_b64_decode("Z", 1, true, dec), -1);
    assert_int_equal(cm_b64_decode("Zh", 2, true, dec), -1);
    assert_int_equal(cm_b64_decode("Zg", 2, true, dec), 1);
    assert_int_equal(dec[0], 'f');
    assert_int_equal(cm_b64_decode("Zm9\0", 4, false, dec), -1);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64__rfc4648_vectors),
        cmocka_unit_test(test_b64__every_byte_both_alphabets),
        cmocka_unit_test(test_b64__refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
