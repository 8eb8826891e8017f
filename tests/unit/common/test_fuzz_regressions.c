/*
 * Bugs the fuzz targets (tests/fuzz/) found in common/, one test each. The input that
 * found each one is also kept in the target's corpus as a regress-* seed, so `make
 * fuzz-smoke` replays it under ASan and UBSan.
 */
#include "cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include "cm_arena.h"
#include "cm_json.h"
#include "cm_kbuf.h"
#include "cm_sbuf.h"

/*
 * fuzz_json, corpus/json/regress-writer-depth-29: the gateway parses record values 64 deep
 * for format=json consumers and writes them inside its answer with cm_json_write; a value
 * nested 29 deep took the writer past its 32 levels, and it aborted the process.
 */
static void test_json__writer_takes_any_document_parsed_64_deep(void **state)
{
    char text[2 * 64 + 1];
    memset(text, '[', 64);
    memset(text + 64, ']', 64);
    text[128] = '\0';
    cm_arena_t a;
    cm_arena_init(&a, 1 << 20);
    cm_json_t *doc;
    assert_int_equal(cm_json_parse(&a, text, 128, 64, &doc, NULL, 0), 0);

    /* Where a consume answer puts a record value: 4 levels down. */
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    cm_jw_t w;
    cm_jw_init(&w, &s);
    cm_jw_obj(&w);
    cm_jw_key(&w, "records");
    cm_jw_arr(&w);
    cm_jw_obj(&w);
    cm_jw_key(&w, "value");
    cm_jw_obj(&w);
    cm_jw_key(&w, "data");
    cm_json_write(&w, doc);
    cm_jw_obj_end(&w);
    cm_jw_obj_end(&w);
    cm_jw_arr_end(&w);
    cm_jw_obj_end(&w);
    assert_non_null(strstr(s.buf, text));
    cm_sbuf_free(&s);
    cm_arena_free(&a);
    (void)state;
}

/*
 * fuzz_kafka_request, corpus/kafka_request/regress-empty-encoding-null-reader: a reader
 * over an empty view with a NULL buffer (a null value, a writer that wrote nothing) did
 * NULL + 0, which C leaves undefined (UBSan: "applying zero offset to null pointer"), and a
 * zero-length read from it returned NULL, which callers take for a failure.
 */
static void test_kbuf__reader_over_null_is_empty(void **state)
{
    cm_kr_t r;
    cm_kr_init(&r, NULL, 0);
    assert_int_equal(cm_kr_left(&r), 0);
    assert_non_null(cm_kr_raw(&r, 0));
    assert_int_equal(r.err, 0);
    assert_int_equal(cm_kr_i8(&r), 0);
    assert_int_equal(r.err, 1);

    cm_kw_t w;
    cm_kw_init(&w, 1 << 10);
    cm_kr_init(&r, w.buf, w.len);
    cm_kr_str(&r, false, true);
    assert_int_equal(r.err, 1);
    cm_kw_free(&w);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json__writer_takes_any_document_parsed_64_deep),
        cmocka_unit_test(test_kbuf__reader_over_null_is_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
