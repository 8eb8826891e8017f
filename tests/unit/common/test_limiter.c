/* The bounded failure table: limits per key, fixed memory, and no wholesale forgetting. */
#include "cmocka_all.h"

#include <stdio.h>
#include <string.h>

#include "cm_limiter.h"

#define S 1000000 /* one second in microseconds */

static void test_limiter__limits_one_key_not_others(void **state)
{
    cm_limiter_t *l = cm_limiter_new(64, 1, 5);
    assert_int_equal(cm_limiter_wait(l, "a", 1, 0), 0);
    for (int i = 0; i < 5; i++)
        cm_limiter_charge(l, "a", 1, 0);
    int64_t w = cm_limiter_wait(l, "a", 1, 0);
    assert_in_range(w, S - 1, S + 1); /* one token at 1/s */
    assert_int_equal(cm_limiter_wait(l, "b", 1, 0), 0);
    assert_int_equal(cm_limiter_wait(l, "a", 1, w), 0);
    /* Failing while limited digs deeper: it stays limited for longer. */
    for (int i = 0; i < 10; i++)
        cm_limiter_charge(l, "a", 1, w);
    assert_true(cm_limiter_wait(l, "a", 1, w) > 9 * (int64_t)S);
    cm_limiter_free(l);
    (void)state;
}

/* A million invented keys: the table never grows, and a key that keeps failing is still
 * counted after all of them (the old table forgot everything at 65,536 sources). */
static void test_limiter__bounded_and_keeps_the_worst(void **state)
{
    cm_limiter_t *l = cm_limiter_new(4096, 5, 20);
    size_t cap = cm_limiter_capacity(l);
    assert_true(cap >= 4096 && cap < 2 * 4096);
    for (int i = 0; i < 100; i++)
        cm_limiter_charge(l, "attacker", 8, 0);
    char k[32];
    for (int i = 0; i < 1000000; i++) {
        int n = snprintf(k, sizeof(k), "src-%d", i);
        cm_limiter_charge(l, k, (size_t)n, 0);
        assert_true(cm_limiter_size(l) <= cap);
    }
    assert_int_equal(cm_limiter_size(l), cap);
    assert_true(cm_limiter_wait(l, "attacker", 8, 0) > 0);
    /* A key new to the table may try. */
    assert_int_equal(cm_limiter_wait(l, "fresh", 5, 0), 0);
    cm_limiter_free(l);
    (void)state;
}

static void test_limiter__long_keys_are_cut(void **state)
{
    cm_limiter_t *l = cm_limiter_new(8, 1, 1);
    char a[100], b[100];
    memset(a, 'x', sizeof(a));
    memcpy(b, a, sizeof(b));
    b[99] = 'y'; /* differs past CM_LIMITER_KEY_MAX: the same key */
    cm_limiter_charge(l, a, sizeof(a), 0);
    assert_true(cm_limiter_wait(l, b, sizeof(b), 0) > 0);
    cm_limiter_free(l);
    (void)state;
}

static void test_limiter__ipv6_counts_by_64(void **state)
{
    uint8_t a[64], b[64];
    size_t na = cm_limiter_addr_key("2001:db8:1:2::1", a, sizeof(a));
    size_t nb = cm_limiter_addr_key("2001:db8:1:2:ffff:1:2:3", b, sizeof(b));
    assert_int_equal(na, 9);
    assert_memory_equal(a, b, 9);
    assert_int_equal(nb, na);
    nb = cm_limiter_addr_key("2001:db8:1:3::1", b, sizeof(b));
    assert_memory_not_equal(a, b, 9);
    na = cm_limiter_addr_key("10.1.2.3", a, sizeof(a));
    nb = cm_limiter_addr_key("::ffff:10.1.2.3", b, sizeof(b));
    assert_int_equal(na, 5);
    assert_int_equal(nb, 5);
    assert_memory_equal(a, b, 5);
    nb = cm_limiter_addr_key("10.1.2.4", b, sizeof(b));
    assert_memory_not_equal(a, b, 5);
    na = cm_limiter_addr_key("unknown", a, sizeof(a));
    assert_int_equal(na, 8);
    /* Through the table: two addresses of one /64 share one budget. */
    cm_limiter_t *l = cm_limiter_new(64, 1, 1);
    na = cm_limiter_addr_key("2001:db8::1", a, sizeof(a));
    nb = cm_limiter_addr_key("2001:db8::2", b, sizeof(b));
    cm_limiter_charge(l, a, na, 0);
    assert_true(cm_limiter_wait(l, b, nb, 0) > 0);
    cm_limiter_free(l);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limiter__limits_one_key_not_others),
        cmocka_unit_test(test_limiter__bounded_and_keeps_the_worst),
        cmocka_unit_test(test_limiter__long_keys_are_cut),
        cmocka_unit_test(test_limiter__ipv6_counts_by_64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
