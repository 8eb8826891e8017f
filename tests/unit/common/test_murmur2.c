/* Kafka's murmur2 against the Java client's own vectors (UtilsTest.testMurmur2). */
#include "cmocka_all.h"

#include <string.h>

#include "cm_murmur2.h"

static void test_murmur2__kafka_vectors(void **state)
{
    static const struct {
        const char *key;
        int32_t hash;
    } v[] = {
        { "21", -973932308 },
        { "foobar", -790332482 },
        { "a-little-bit-long-string", -985981536 },
        { "a-little-bit-longer-string", -1486304829 },
        { "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971 },
        { "abc", 479470107 },
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        assert_int_equal(cm_murmur2(v[i].key, strlen(v[i].key)), v[i].hash);
    (void)state;
}

static void test_murmur2__partition_is_positive_modulo(void **state)
{
    /* "21" hashes negative: the sign bit is dropped before the modulo, as in toPositive. */
    int32_t h = cm_murmur2("21", 2);
    assert_true(h < 0);
    for (int32_t n = 1; n <= 64; n++) {
        int32_t p = cm_murmur2_partition("21", 2, n);
        assert_int_equal(p, (int32_t)(((uint32_t)h & 0x7fffffffu) % (uint32_t)n));
        assert_true(p >= 0 && p < n);
    }
    assert_int_equal(cm_murmur2_partition("", 0, 7), (int32_t)((275646681u & 0x7fffffffu) % 7));
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_murmur2__kafka_vectors),
        cmocka_unit_test(test_murmur2__partition_is_positive_modulo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
