/* CRC32C against the RFC 3720 (iSCSI) test vectors, hardware and portable paths alike. */
#include "cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include "cm_crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn f)
{
    uint8_t buf[48];

    memset(buf, 0, 32);
    assert_int_equal(f(0, buf, 32), 0x8a9136aa);
    memset(buf, 0xff, 32);
    assert_int_equal(f(0, buf, 32), 0x62a8ab43);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(f(0, buf, 32), 0x46dd794e);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(f(0, buf, 32), 0x113fdb5c);
    assert_int_equal(f(0, "123456789", 9), 0xe3069283);

    /* An iSCSI read (10) command PDU. */
    static const uint8_t pdu[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    assert_int_equal(f(0, pdu, sizeof(pdu)), 0xd9963a56);
    assert_int_equal(f(0, "", 0), 0);
}

static void test_crc32c__portable_matches_rfc3720(void **state)
{
    check_vectors(cm_crc32c_sw);
}

static void test_crc32c__dispatch_matches_rfc3720(void **state)
{
    check_vectors(cm_crc32c);
}

static void test_crc32c__hardware_matches_rfc3720(void **state)
{
    if (!cm_crc32c_hw_available())
        skip();
    check_vectors(cm_crc32c_hw);
}

/* Extending a CRC piece by piece, at every split and misalignment, equals one pass. */
static void test_crc32c__incremental_equals_one_pass(void **state)
{
    uint8_t buf[1031];
    srand(7);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)rand();
    uint32_t whole = cm_crc32c_sw(0, buf, sizeof(buf));
    assert_int_equal(cm_crc32c(0, buf, sizeof(buf)), whole);
    for (size_t split = 0; split <= 64; split++) {
        uint32_t c = cm_crc32c(0, buf, split);
        c = cm_crc32c(c, buf + split, sizeof(buf) - split);
        assert_int_equal(c, whole);
    }
    for (size_t off = 1; off < 9; off++)
        assert_int_equal(cm_crc32c(0, buf + off, 100), cm_crc32c_sw(0, buf + off, 100));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c__portable_matches_rfc3720),
        cmocka_unit_test(test_crc32c__dispatch_matches_rfc3720),
        cmocka_unit_test(test_crc32c__hardware_matches_rfc3720),
        cmocka_unit_test(test_crc32c__incremental_equals_one_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
