/*
 * The JSON writer: comma and bracket placement, escaping, numbers (doubles read back bit
 * for bit), aborts on misuse, and write-then-parse round trips.
 */
#include "cmocka_all.h"

#include "json_helpers.h"

/* ---- writer ---- */

static void test_jw__places_commas_and_brackets(void **state)
{
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    cm_jw_t w;
    cm_jw_init(&w, &s);
    cm_jw_obj(&w);
    cm_jw_kstr(&w, "a", "x");
    cm_jw_kint(&w, "n", -5);
    cm_jw_key(&w, "arr");
    cm_jw_arr(&w);
    cm_jw_int(&w, 1);
    cm_jw_bool(&w, true);
    cm_jw_null(&w);
    cm_jw_obj(&w);
    cm_jw_obj_end(&w);
    cm_jw_arr(&w);
    cm_jw_arr_end(&w);
    cm_jw_obj(&w);
    cm_jw_kbool(&w, "deep", false);
    cm_jw_obj_end(&w);
    cm_jw_arr_end(&w);
    cm_jw_key(&w, "empty");
    cm_jw_obj(&w);
    cm_jw_obj_end(&w);
    cm_jw_kbool(&w, "ok", true);
    cm_jw_obj_end(&w);
    assert_string_equal(
        s.buf, "{\"a\":\"x\",\"n\":-5,\"arr\":[1,true,null,{},[],{\"deep\":false}],\"empty\":{},"
               "\"ok\":true}");
    assert_int_equal(w.depth, 0);
    assert_int_equal(s.len, strlen(s.buf));
    cm_sbuf_free(&s);
}

static void test_jw__writes_top_level_scalars_and_appends(void **state)
{
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    cm_sbuf_append(&s, "body=", 5);
    cm_jw_t w;
    cm_jw_init(&w, &s);
    cm_jw_str(&w, "v");
    assert_string_equal(s.buf, "body=\"v\"");

    cm_sbuf_free(&s);
    cm_jw_init(&w, &s);
    cm_jw_arr(&w);
    cm_jw_raw(&w, "{\"pre\":[1,2]}");
    cm_jw_raw(&w, "3");
    cm_jw_arr_end(&w);
    assert_string_equal(s.buf, "[{\"pre\":[1,2]},3]");
    cm_sbuf_free(&s);
}

static void test_jw__escapes_strings(void **state)
{
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    static const char in[] = "a\"b\\c/\n\r\t\b\f\x01\x1f\x7f caf\xc3\xa9 \xf0\x9f\x98\x80";
    cm_json_quote(&s, in, sizeof(in) - 1);
    assert_string_equal(s.buf, "\"a\\\"b\\\\c/\\n\\r\\t\\b\\f\\u0001\\u001f\x7f caf\xc3\xa9 "
                               "\xf0\x9f\x98\x80\"");

    /* NUL bytes inside a counted string are written, escaped. */
    cm_sbuf_free(&s);
    cm_json_quote(&s, "a\0b", 3);
    assert_string_equal(s.buf, "\"a\\u0000b\"");

    cm_sbuf_free(&s);
    cm_json_quote(&s, NULL, 0);
    assert_string_equal(s.buf, "\"\"");

    /* Keys are escaped too. */
    cm_sbuf_free(&s);
    cm_jw_t w;
    cm_jw_init(&w, &s);
    cm_jw_obj(&w);
    cm_jw_kstr(&w, "k\"\n", "v\\");
    cm_jw_key(&w, "bin");
    cm_jw_strn(&w, "x\0y", 3);
    cm_jw_obj_end(&w);
    assert_string_equal(s.buf, "{\"k\\\"\\n\":\"v\\\\\",\"bin\":\"x\\u0000y\"}");
    cm_sbuf_free(&s);
}

static void test_jw__writes_null_for_null_strings(void **state)
{
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    cm_jw_t w;
    cm_jw_init(&w, &s);
    cm_jw_arr(&w);
    cm_jw_str(&w, NULL);
    cm_jw_strn(&w, NULL, 5);
    cm_jw_str(&w, "");
    cm_jw_arr_end(&w);
    cm_jw_obj(&w);
    cm_jw_kstr(&w, "k", NULL);
    cm_jw_obj_end(&w);
    assert_string_equal(s.buf, "[null,null,\"\"]{\"k\":null}");
    cm_sbuf_free(&s);
}

static void test_jw__writes_numbers(void **state)
{
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    cm_jw_t w;
    cm_jw_init(&w, &s);
    cm_jw_arr(&w);
    cm_jw_int(&w, INT64_MIN);
    cm_jw_int(&w, INT64_MAX);
    cm_jw_int(&w, 0);
    cm_jw_double(&w, 0.1);
    cm_jw_double(&w, 1.5);
    cm_jw_double(&w, 3.0);
    cm_jw_double(&w, -0.0);
    cm_jw_double(&w, 1e300);
    cm_jw_double(&w, 0.1 + 0.2);
    cm_jw_double(&w, NAN);
    cm_jw_double(&w, INFINITY);
    cm_jw_double(&w, -INFINITY);
    cm_jw_arr_end(&w);
    assert_string_equal(s.buf, "[-9223372036854775808,9223372036854775807,0,0.1,1.5,3,-0,1e+300,"
                               "0.30000000000000004,null,null,null]");
    cm_sbuf_free(&s);
}

/* Doubles come back bit for bit through the writer and the parser. */
static void test_jw__doubles_round_trip_exactly(void **state)
{
    uint64_t x = 88172645463325252ULL;
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    for (int i = 0; i < 2000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        memcpy(&d, &x, sizeof(d));
        if (!isfinite(d))
            continue;
        s.len = 0;
        cm_jw_t w;
        cm_jw_init(&w, &s);
        cm_jw_double(&w, d);
        cm_json_t *v = parse_ok(&a, s.buf);
        if (memcmp(&v->num, &d, sizeof(d)) != 0)
            fail_msg("%.17g written as %s read as %.17g", d, s.buf, v->num);
        cm_arena_reset(&a);
    }
    cm_sbuf_free(&s);
    cm_arena_free(&a);
}

/* Runs `fn` in a child process and reports whether it aborted. */
static bool aborts(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGABRT, SIG_DFL);
        fn();
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void nest_too_deep(void)
{
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    cm_jw_t w;
    cm_jw_init(&w, &s);
    for (int i = 0; i <= CM_JW_DEPTH_MAX; i++)
        cm_jw_arr(&w);
}

static void nest_to_the_limit(void)
{
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    cm_jw_t w;
    cm_jw_init(&w, &s);
    for (int i = 0; i < CM_JW_DEPTH_MAX; i++)
        cm_jw_arr(&w);
    for (int i = 0; i < CM_JW_DEPTH_MAX; i++)
        cm_jw_arr_end(&w);
    cm_sbuf_free(&s);
}

static void close_unopened(void)
{
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    cm_jw_t w;
    cm_jw_init(&w, &s);
    cm_jw_obj_end(&w);
}

static void close_after_key(void)
{
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    cm_jw_t w;
    cm_jw_init(&w, &s);
    cm_jw_obj(&w);
    cm_jw_key(&w, "dangling");
    cm_jw_obj_end(&w);
}

static void key_after_key(void)
{
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    cm_jw_t w;
    cm_jw_init(&w, &s);
    cm_jw_obj(&w);
    cm_jw_key(&w, "a");
    cm_jw_key(&w, "b");
}

static void test_jw__aborts_on_misuse(void **state)
{
    assert_false(aborts(nest_to_the_limit));
    assert_true(aborts(nest_too_deep));
    assert_true(aborts(close_unopened));
    assert_true(aborts(close_after_key));
    assert_true(aborts(key_after_key));
}

/* ---- round trip ---- */

static void test_json__round_trips_written_document(void **state)
{
    static const char odd[] = "tab\tquote\"slash\\nul-free \xe2\x82\xac \xf0\x9f\x98\x80 \x01";
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    cm_jw_t w;
    cm_jw_init(&w, &s);
    cm_jw_obj(&w);
    cm_jw_kstr(&w, "topic", "orders");
    cm_jw_kint(&w, "min", INT64_MIN);
    cm_jw_kint(&w, "max", INT64_MAX);
    cm_jw_kbool(&w, "compact", true);
    cm_jw_kstr(&w, odd, odd);
    cm_jw_key(&w, "ratio");
    cm_jw_double(&w, 0.75);
    cm_jw_key(&w, "none");
    cm_jw_null(&w);
    cm_jw_key(&w, "parts");
    cm_jw_arr(&w);
    for (int i = 0; i < 3; i++) {
        cm_jw_obj(&w);
        cm_jw_kint(&w, "id", i);
        cm_jw_key(&w, "replicas");
        cm_jw_arr(&w);
        for (int r = 0; r <= i; r++)
            cm_jw_int(&w, 100 + r);
        cm_jw_arr_end(&w);
        cm_jw_obj_end(&w);
    }
    cm_jw_arr_end(&w);
    cm_jw_obj_end(&w);

    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    cm_json_t *root = parse_ok(&a, s.buf);
    assert_int_equal(root->len, 8);
    int64_t i = 0;
    bool b = false;
    assert_string_equal(cm_json_get_str(root, "topic"), "orders");
    assert_true(cm_json_get_int(root, "min", &i) && i == INT64_MIN);
    assert_true(cm_json_get_int(root, "max", &i) && i == INT64_MAX);
    assert_true(cm_json_get_bool(root, "compact", &b) && b);
    assert_string_equal(cm_json_get_str(root, odd), odd);
    assert_true(cm_json_get(root, "ratio")->num == 0.75);
    assert_int_equal(cm_json_get(root, "none")->type, CM_JSON_NULL);
    const cm_json_t *parts = cm_json_get(root, "parts");
    assert_int_equal(parts->len, 3);
    int id = 0;
    for (const cm_json_t *p = parts->child; p != NULL; p = p->next, id++) {
        assert_true(cm_json_get_int(p, "id", &i) && i == id);
        const cm_json_t *reps = cm_json_get(p, "replicas");
        assert_int_equal(reps->len, (size_t)id + 1);
        int r = 0;
        for (const cm_json_t *c = reps->child; c != NULL; c = c->next)
            assert_int_equal(c->i, 100 + r++);
    }
    assert_int_equal(id, 3);

    /* Writing the parsed strings again gives the same bytes. */
    cm_sbuf_t s2;
    cm_sbuf_init(&s2);
    cm_json_quote(&s2, cm_json_get_str(root, odd), strlen(odd));
    assert_non_null(strstr(s.buf, s2.buf));
    cm_sbuf_free(&s2);
    cm_arena_free(&a);
    cm_sbuf_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jw__places_commas_and_brackets),
        cmocka_unit_test(test_jw__writes_top_level_scalars_and_appends),
        cmocka_unit_test(test_jw__escapes_strings),
        cmocka_unit_test(test_jw__writes_null_for_null_strings),
        cmocka_unit_test(test_jw__writes_numbers),
        cmocka_unit_test(test_jw__doubles_round_trip_exactly),
        cmocka_unit_test(test_jw__aborts_on_misuse),
        cmocka_unit_test(test_json__round_trips_written_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
