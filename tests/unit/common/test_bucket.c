/* Token buckets: rates, bursts, waits, oversize takes and quota changes. */
#include "cmocka_all.h"

#include "cm_bucket.h"

#define S 1000000 /* one second in microseconds */

static void test_bucket__burst_then_rate(void **state)
{
    cm_bucket_t b;
    cm_bucket_init(&b, 100, 10, 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(cm_bucket_take(&b, 1, 0), 0); /* the burst */
    int64_t wait = cm_bucket_take(&b, 1, 0);
    assert_in_range(wait, S / 100, S / 100 + 1); /* one token at 100/s */
    assert_true(cm_bucket_take(&b, 1, wait - 1) > 0);
    assert_int_equal(cm_bucket_take(&b, 1, wait), 0);
    /* Over a long run the rate holds: about 100 takes a second for the next 10 s. */
    int64_t now = wait, taken = 0;
    while (now < 10 * S) {
        int64_t w = cm_bucket_take(&b, 1, now);
        if (w == 0)
            taken++;
        else
            now += w;
    }
    assert_in_range(taken, 995, 1005);
    (void)state;
}

static void test_bucket__wait_is_never_zero_when_refused(void **state)
{
    cm_bucket_t b;
    cm_bucket_init(&b, 1e9, 1, 0);
    assert_int_equal(cm_bucket_take(&b, 1, 0), 0);
    assert_true(cm_bucket_take(&b, 1, 0) >= 1);
    (void)state;
}

static void test_bucket__oversize_takes_debt(void **state)
{
    cm_bucket_t b;
    cm_bucket_init(&b, 1000, 100, 0);
    assert_int_equal(cm_bucket_take(&b, 500, 0), 0); /* full bucket: passes */
    int64_t wait = cm_bucket_take(&b, 1, 0);
    assert_in_range(wait, 401000, 401001);               /* from -400 back to +1 at 1000/s */
    assert_true(cm_bucket_take(&b, 500, S / 4) > 0);     /* needs a full bucket again: */
    assert_int_equal(cm_bucket_take(&b, 500, S / 2), 0); /* -400 + 500 = 100 */
    (void)state;
}

static void test_bucket__unlimited_and_changes(void **state)
{
    cm_bucket_t b;
    cm_bucket_init(&b, 0, 0, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(cm_bucket_take(&b, 1e12, 0), 0);
    cm_bucket_set(&b, 10, 5, 0);
    assert_true(b.tokens <= 5);
    cm_bucket_init(&b, 10, 20, 0);
    cm_bucket_set(&b, 10, 5, 0); /* a lower quota caps what was saved up */
    for (int i = 0; i < 5; i++)
        assert_int_equal(cm_bucket_take(&b, 1, 0), 0);
    assert_true(cm_bucket_take(&b, 1, 0) > 0);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket__burst_then_rate),
        cmocka_unit_test(test_bucket__wait_is_never_zero_when_refused),
        cmocka_unit_test(test_bucket__oversize_takes_debt),
        cmocka_unit_test(test_bucket__unlimited_and_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
