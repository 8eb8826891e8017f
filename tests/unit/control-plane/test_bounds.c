/*
 * Pool bounds on topic configs (cp_bounds): the shared-service defaults refuse a segment per
 * batch, a pool's overrides widen or narrow them, -1 retention is "forever", and an
 * operator's overrides are validated.
 */
#include "cmocka_all.h"

#include <string.h>

#include "cm_arena.h"
#include "cp_bounds.h"

static bool ok(const char *pool, const char *key, const char *value)
{
    char why[256];
    bool r = cp_bounds_check(pool, key, value, why, sizeof(why));
    if (!r)
        assert_non_null(strstr(why, key));
    return r;
}

static void test_bounds__defaults_refuse_tiny_segments(void **state)
{
    assert_false(ok(NULL, "segment.bytes", "14"));
    assert_false(ok("", "segment.bytes", "1048576"));
    assert_true(ok(NULL, "segment.bytes", "52428800"));
    assert_true(ok(NULL, "segment.bytes", "1073741824"));
    assert_false(ok(NULL, "segment.ms", "1"));
    assert_false(ok(NULL, "segment.ms", "599999"));
    assert_true(ok(NULL, "segment.ms", "600000"));
    assert_false(ok(NULL, "max.message.bytes", "8388609"));
    assert_true(ok(NULL, "max.message.bytes", "1048576"));
    /* Retention is the tenant's own business: any value, and -1, by default. */
    assert_true(ok(NULL, "retention.ms", "-1"));
    assert_true(ok(NULL, "retention.ms", "1"));
    assert_true(ok(NULL, "cleanup.policy", "delete"));
    assert_false(ok(NULL, "segment.bytes", "lots"));
    (void)state;
}

static void test_bounds__pool_overrides(void **state)
{
    const char *pool = "{\"segment.bytes\": {\"min\": 1024}, \"retention.ms\": {\"min\": 3600000,"
                       " \"max\": 604800000}}";
    assert_true(ok(pool, "segment.bytes", "1024"));
    assert_false(ok(pool, "segment.bytes", "1023"));
    assert_false(ok(pool, "segment.bytes", "2147483647")); /* the default max still holds */
    assert_false(ok(pool, "retention.ms", "1000"));
    assert_true(ok(pool, "retention.ms", "3600000"));
    assert_false(ok(pool, "retention.ms", "-1")); /* forever is above a max */
    const char *floor_only = "{\"retention.ms\": {\"min\": 3600000}}";
    assert_true(ok(floor_only, "retention.ms", "-1"));
    (void)state;
}

static bool valid(const char *text)
{
    cm_arena_t a;
    cm_arena_init(&a, 1 << 16);
    cm_json_t *o;
    char err[64], why[256];
    assert_int_equal(cm_json_parse(&a, text, strlen(text), 8, &o, err, sizeof(err)), 0);
    bool r = cp_bounds_valid(o, why, sizeof(why));
    cm_arena_free(&a);
    return r;
}

static void test_bounds__operator_overrides_are_checked(void **state)
{
    assert_true(valid("{}"));
    assert_true(valid("{\"segment.bytes\": {\"min\": 1048576, \"max\": 104857600}}"));
    assert_true(valid("{\"segment.bytes\": null}"));
    assert_false(valid("{\"cleanup.policy\": {\"min\": 1}}"));
    assert_false(valid("{\"nosuch\": {\"min\": 1}}"));
    assert_false(valid("{\"segment.bytes\": {\"min\": 1}}"));          /* below the key's own 14 */
    assert_false(valid("{\"segment.bytes\": {\"min\": 2000000000}}")); /* above the default max */
    assert_false(valid("{\"segment.bytes\": {\"low\": 100}}"));
    assert_false(valid("{\"segment.bytes\": 5}"));
    assert_false(valid("[]"));
    (void)state;
}

static void test_bounds__effective_bounds_written(void **state)
{
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    cm_jw_t w;
    cm_jw_init(&w, &s);
    cp_bounds_write(&w, "{\"segment.ms\": {\"min\": 1000}}");
    assert_non_null(strstr(s.buf, "\"segment.bytes\":{\"min\":52428800,\"max\":1073741824}"));
    assert_non_null(strstr(s.buf, "\"segment.ms\":{\"min\":1000,"));
    cm_sbuf_free(&s);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds__defaults_refuse_tiny_segments),
        cmocka_unit_test(test_bounds__pool_overrides),
        cmocka_unit_test(test_bounds__operator_overrides_are_checked),
        cmocka_unit_test(test_bounds__effective_bounds_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
