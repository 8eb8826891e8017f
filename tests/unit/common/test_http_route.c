/* Route patterns against path segments (cm_http_route_match): literal segments, "*" for
 * one segment, and no partial or extra matches. */
#include "cmocka_all.h"

#include "cm_http.h"

#define MATCH(pattern, ...)                                                                        \
    cm_http_route_match(pattern, (const char *const[]){ __VA_ARGS__ },                             \
                        (int)(sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(char *)))

static void test_http_route__matches(void **state)
{
    assert_true(MATCH("v1/tenants", "v1", "tenants"));
    assert_true(MATCH("v1/tenants/*", "v1", "tenants", "acme"));
    assert_true(MATCH("v1/tenants/*/topics/*", "v1", "tenants", "acme", "topics", "t"));
    assert_true(MATCH("*", "anything"));
    assert_true(MATCH("*/*", "a", "b"));
    /* "*" only as a whole segment; elsewhere it is a literal character. */
    assert_true(MATCH("v1/a*", "v1", "a*"));
    assert_false(MATCH("v1/a*", "v1", "ab"));
    assert_true(cm_http_route_match("", (const char *const[]){ "x" }, 0));
    (void)state;
}

static void test_http_route__refuses(void **state)
{
    assert_false(MATCH("v1/tenants", "v1"));                 /* too few */
    assert_false(MATCH("v1/tenants", "v1", "tenants", "x")); /* too many */
    assert_false(MATCH("v1/tenants", "v1", "tenant"));       /* a prefix of the literal */
    assert_false(MATCH("v1/tenants", "v1", "tenantsx"));     /* the literal is a prefix */
    assert_false(MATCH("v1/tenants/*", "v1", "tenants"));    /* "*" needs a segment */
    assert_false(MATCH("v1/*/topics", "v1", "acme", "topic"));
    assert_false(MATCH("v1/tenants", "v2", "tenants"));
    assert_false(MATCH("v1/tenants", "v1", ""));
    assert_false(cm_http_route_match("v1", (const char *const[]){ "x" }, 0));
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_route__matches),
        cmocka_unit_test(test_http_route__refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
