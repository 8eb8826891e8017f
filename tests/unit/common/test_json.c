/*
 * JSON: what the strict parser accepts and how it decodes it, every refusal with its byte
 * offset, the depth and memory limits, and lookups. The writer is tested in test_json_writer.c.
 */
#include "cmocka_all.h"

#include "json_helpers.h"

static void test_json__parses_every_scalar_type(void **state)
{
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);

    cm_json_t *v = parse_ok(&a, "null");
    assert_int_equal(v->type, CM_JSON_NULL);
    assert_null(v->key);
    assert_null(v->next);

    v = parse_ok(&a, "true");
    assert_int_equal(v->type, CM_JSON_BOOL);
    assert_true(v->b);
    v = parse_ok(&a, "false");
    assert_int_equal(v->type, CM_JSON_BOOL);
    assert_false(v->b);

    v = parse_ok(&a, "42");
    assert_int_equal(v->type, CM_JSON_NUMBER);
    assert_true(v->is_int);
    assert_int_equal(v->i, 42);
    assert_true(v->num == 42.0);

    v = parse_ok(&a, "\"hello\"");
    assert_int_equal(v->type, CM_JSON_STRING);
    assert_string_equal(v->str, "hello");
    assert_int_equal(v->len, 5);

    v = parse_ok(&a, "\"\"");
    assert_string_equal(v->str, "");
    assert_int_equal(v->len, 0);

    /* Surrounding whitespace of all four kinds. */
    v = parse_ok(&a, " \t\r\n 7 \t\r\n ");
    assert_int_equal(v->i, 7);
    cm_arena_free(&a);
}

static void test_json__parses_nested_document(void **state)
{
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    cm_json_t *root =
        parse_ok(&a, "{\"name\":\"orders\",\"partitions\":[0,1,2],"
                     "\"config\":{\"retention\":{\"ms\":604800000},\"compact\":false},"
                     "\"tags\":[],\"meta\":{},\"mixed\":[null,[true],{\"k\":\"v\"}]}");
    assert_int_equal(root->type, CM_JSON_OBJECT);
    assert_int_equal(root->len, 6);
    assert_null(root->key);

    /* Members in document order, each with its key. */
    static const char *const keys[] = { "name", "partitions", "config", "tags", "meta", "mixed" };
    size_t n = 0;
    for (cm_json_t *c = root->child; c != NULL; c = c->next)
        assert_string_equal(c->key, keys[n++]);
    assert_int_equal(n, 6);

    const cm_json_t *parts = cm_json_get(root, "partitions");
    assert_int_equal(parts->type, CM_JSON_ARRAY);
    assert_int_equal(parts->len, 3);
    int64_t want = 0;
    for (const cm_json_t *c = parts->child; c != NULL; c = c->next) {
        assert_null(c->key);
        assert_int_equal(c->i, want++);
    }

    int64_t ms = 0;
    assert_true(cm_json_get_int(cm_json_get(cm_json_get(root, "config"), "retention"), "ms", &ms));
    assert_int_equal(ms, 604800000);

    const cm_json_t *tags = cm_json_get(root, "tags"), *meta = cm_json_get(root, "meta");
    assert_int_equal(tags->type, CM_JSON_ARRAY);
    assert_int_equal(tags->len, 0);
    assert_null(tags->child);
    assert_int_equal(meta->type, CM_JSON_OBJECT);
    assert_int_equal(meta->len, 0);
    assert_null(meta->child);

    const cm_json_t *mixed = cm_json_get(root, "mixed");
    assert_int_equal(mixed->len, 3);
    const cm_json_t *m0 = mixed->child, *m1 = m0->next, *m2 = m1->next;
    assert_int_equal(m0->type, CM_JSON_NULL);
    assert_int_equal(m1->type, CM_JSON_ARRAY);
    assert_true(m1->child->b);
    assert_string_equal(cm_json_get_str(m2, "k"), "v");
    assert_null(m2->next);
    assert_null(root->next);
    cm_arena_free(&a);
}

static void test_json__accepts_whitespace_between_tokens(void **state)
{
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    cm_json_t *root = parse_ok(&a, "\n{ \"a\" :\t[ 1 ,\r\n2 ] , \"b\" : { } , \"c\" : [ ] }\n");
    assert_int_equal(root->len, 3);
    assert_int_equal(cm_json_get(root, "a")->len, 2);
    assert_int_equal(cm_json_get(root, "a")->child->next->i, 2);
    assert_int_equal(cm_json_get(root, "b")->type, CM_JSON_OBJECT);
    assert_int_equal(cm_json_get(root, "c")->type, CM_JSON_ARRAY);
    cm_arena_free(&a);
}

static void test_json__keeps_integers_that_fit_int64(void **state)
{
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);

    cm_json_t *v = parse_ok(&a, "9223372036854775807");
    assert_true(v->is_int);
    assert_true(v->i == INT64_MAX);
    v = parse_ok(&a, "-9223372036854775808");
    assert_true(v->is_int);
    assert_true(v->i == INT64_MIN);
    v = parse_ok(&a, "0");
    assert_true(v->is_int);
    assert_int_equal(v->i, 0);

    /* "-0" is the integer 0 (and the double -0). */
    v = parse_ok(&a, "-0");
    assert_true(v->is_int);
    assert_int_equal(v->i, 0);
    assert_true(v->num == 0.0 && signbit(v->num));

    /* One past either end stays a double. */
    v = parse_ok(&a, "9223372036854775808");
    assert_false(v->is_int);
    assert_true(v->num == 9223372036854775808.0);
    v = parse_ok(&a, "-9223372036854775809");
    assert_false(v->is_int);
    assert_true(v->num < -9.2e18);
    v = parse_ok(&a, "123456789012345678901234567890");
    assert_false(v->is_int);
    assert_true(fabs(v->num - 1.2345678901234568e29) < 1e14);

    /* A fraction or an exponent makes a double even when the value is whole. */
    v = parse_ok(&a, "1.0");
    assert_false(v->is_int);
    assert_true(v->num == 1.0);
    v = parse_ok(&a, "1e2");
    assert_false(v->is_int);
    assert_true(v->num == 100.0);

    /* The longest number accepted. */
    char big[CM_JSON_NUMBER_LEN_MAX + 1];
    memset(big, '9', CM_JSON_NUMBER_LEN_MAX);
    big[CM_JSON_NUMBER_LEN_MAX] = '\0';
    v = parse_ok(&a, big);
    assert_false(v->is_int);
    assert_true(v->num > 9.9e255 && isfinite(v->num));
    cm_arena_free(&a);
}

static void test_json__parses_fractions_and_exponents(void **state)
{
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    static const struct {
        const char *text;
        double want;
    } cases[] = {
        { "1.5", 1.5 },       { "-2.25", -2.25 },
        { "0.1", 0.1 },       { "1e3", 1e3 },
        { "1E3", 1e3 },       { "1e+3", 1e3 },
        { "2.5e-3", 2.5e-3 }, { "-0.0", -0.0 },
        { "0e0", 0.0 },       { "1.7976931348623157e308", 1.7976931348623157e308 },
        { "1e-400", 0.0 }, /* underflow reads as zero, as any reader's strtod gives */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cm_json_t *v = parse_ok(&a, cases[i].text);
        assert_int_equal(v->type, CM_JSON_NUMBER);
        assert_false(v->is_int);
        if (v->num != cases[i].want)
            fail_msg("%s read as %.17g", cases[i].text, v->num);
    }
    cm_arena_free(&a);
}

static void test_json__decodes_escapes(void **state)
{
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    DECODES_TO("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t");
    DECODES_TO("\"a\\u0041z\"", "aAz");
    DECODES_TO("\"\\u00e9\\u00E9\"", "\xc3\xa9\xc3\xa9");
    DECODES_TO("\"\\u20ac\"", "\xe2\x82\xac");
    DECODES_TO("\"\\uffff\"", "\xef\xbf\xbf");
    DECODES_TO("\"\\u0001\\u001f\\u007f\"", "\x01\x1f\x7f");
    DECODES_TO("\"\\ud7ff\\ue000\"", "\xed\x9f\xbf\xee\x80\x80");
    cm_arena_free(&a);
}

static void test_json__decodes_surrogate_pairs(void **state)
{
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    DECODES_TO("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80"); /* U+1F600 */
    DECODES_TO("\"\\uD800\\uDC00\"", "\xf0\x90\x80\x80"); /* U+10000 */
    DECODES_TO("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    DECODES_TO("\"x\\ud834\\udd1ey\"", "x\xf0\x9d\x84\x9e"
                                       "y"); /* U+1D11E */
    cm_arena_free(&a);
}

static void test_json__accepts_valid_utf8_at_every_boundary(void **state)
{
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    DECODES_TO("\"\x7f\"", "\x7f");
    DECODES_TO("\"\xc2\x80\"", "\xc2\x80");                 /* U+0080 */
    DECODES_TO("\"\xdf\xbf\"", "\xdf\xbf");                 /* U+07FF */
    DECODES_TO("\"\xe0\xa0\x80\"", "\xe0\xa0\x80");         /* U+0800 */
    DECODES_TO("\"\xed\x9f\xbf\"", "\xed\x9f\xbf");         /* U+D7FF */
    DECODES_TO("\"\xee\x80\x80\"", "\xee\x80\x80");         /* U+E000 */
    DECODES_TO("\"\xef\xbf\xbf\"", "\xef\xbf\xbf");         /* U+FFFF */
    DECODES_TO("\"\xf0\x90\x80\x80\"", "\xf0\x90\x80\x80"); /* U+10000 */
    DECODES_TO("\"\xf4\x8f\xbf\xbf\"", "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    DECODES_TO("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
               "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    cm_arena_free(&a);
}

/* ---- refusals ---- */

static void test_json__refuses_trailing_comma(void **state)
{
    REFUSED("[1,2,]", 4, "trailing comma before ']'");
    REFUSED("[1, ]", 2, "trailing comma before ']'");
    REFUSED("{\"a\":1,}", 6, "trailing comma before '}'");
    REFUSED("{\"a\":[1,],\"b\":2}", 7, "trailing comma before ']'");
}

static void test_json__refuses_missing_colon(void **state)
{
    REFUSED("{\"a\" 1}", 5, "expected ':' after an object key");
    REFUSED("{\"a\"}", 4, "expected ':' after an object key");
    REFUSED("{\"a\"", 4, "expected ':' after an object key");
    REFUSED("{\"a\"=1}", 4, "expected ':' after an object key");
}

static void test_json__refuses_comments(void **state)
{
    REFUSED("// note\n1", 0, "expected a value, got '/'");
    REFUSED("[1 /* two */]", 3, "expected ',' or ']' after an array element, got '/'");
    REFUSED("1 # note", 2, "unexpected data after the JSON value");
}

static void test_json__refuses_empty_input_and_trailing_data(void **state)
{
    REFUSED("", 0, "expected a value, got end of input");
    REFUSED(" \n ", 3, "expected a value, got end of input");
    REFUSED("1 2", 2, "unexpected data after the JSON value");
    REFUSED("{} x", 3, "unexpected data after the JSON value");
    REFUSED("[][]", 2, "unexpected data after the JSON value");
    REFUSED("nulll", 4, "unexpected data after the JSON value");
    REFUSED("1\0", 1, "unexpected data after the JSON value");
    REFUSED("\0", 0, "expected a value, got byte 0x00");
}

static void test_json__refuses_broken_structure(void **state)
{
    REFUSED("[", 1, "expected a value, got end of input");
    REFUSED("[1", 2, "expected ',' or ']' after an array element, got end of input");
    REFUSED("[1,", 3, "expected a value, got end of input");
    REFUSED("{", 1, "expected '\"' to start an object key, got end of input");
    REFUSED("{\"a\":1", 6, "expected ',' or '}' after an object member, got end of input");
    REFUSED("{1:2}", 1, "expected '\"' to start an object key, got '1'");
    REFUSED("{'a':2}", 1, "expected '\"' to start an object key, got '''");
    REFUSED("{a:2}", 1, "expected '\"' to start an object key, got 'a'");
    REFUSED("{\"a\":1,,}", 7, "expected '\"' to start an object key, got ','");
    REFUSED("{\"a\":}", 5, "expected a value, got '}'");
    REFUSED("{\"a\":1 \"b\":2}", 7, "expected ',' or '}' after an object member, got '\"'");
    REFUSED("[1 2]", 3, "expected ',' or ']' after an array element, got '2'");
    REFUSED("[1}", 2, "expected ',' or ']' after an array element, got '}'");
    REFUSED("{\"a\":1]", 6, "expected ',' or '}' after an object member, got ']'");
    REFUSED("]", 0, "expected a value, got ']'");
    REFUSED("[,1]", 1, "expected a value, got ','");
    REFUSED("[1,,2]", 3, "expected a value, got ','");
    REFUSED("[\x01]", 1, "expected a value, got byte 0x01");
    REFUSED("[\xc3\xa9]", 1, "expected a value, got byte 0xc3");
}

static void test_json__refuses_bad_literals(void **state)
{
    REFUSED("tru", 0, "expected a value, got 't'");
    REFUSED("True", 0, "expected a value, got 'T'");
    REFUSED("nul", 0, "expected a value, got 'n'");
    REFUSED("undefined", 0, "expected a value, got 'u'");
    REFUSED("[falsey]", 6, "expected ',' or ']' after an array element, got 'y'");
}

static void test_json__refuses_malformed_numbers(void **state)
{
    REFUSED("01", 0, "leading zero in a number");
    REFUSED("-01", 1, "leading zero in a number");
    REFUSED("[00]", 1, "leading zero in a number");
    REFUSED("+1", 0, "expected a value, got '+'");
    REFUSED(".5", 0, "expected a value, got '.'");
    REFUSED("1.", 2, "expected a digit after '.'");
    REFUSED("1.e3", 2, "expected a digit after '.'");
    REFUSED("-", 1, "expected a digit after '-'");
    REFUSED("-.5", 1, "expected a digit after '-'");
    REFUSED("1e", 2, "expected a digit in the exponent");
    REFUSED("1e+", 3, "expected a digit in the exponent");
    REFUSED("1E-x", 3, "expected a digit in the exponent");
    REFUSED("NaN", 0, "expected a value, got 'N'");
    REFUSED("Infinity", 0, "expected a value, got 'I'");
    REFUSED("-Infinity", 1, "expected a digit after '-'");
    REFUSED("0x10", 1, "unexpected data after the JSON value");
    REFUSED("1_000", 1, "unexpected data after the JSON value");
    REFUSED("1e400", 0, "number out of range");
    REFUSED("[-1e999]", 1, "number out of range");
}

static void test_json__refuses_overlong_number(void **state)
{
    char text[CM_JSON_NUMBER_LEN_MAX + 3];
    text[0] = '[';
    memset(text + 1, '1', CM_JSON_NUMBER_LEN_MAX + 1);
    text[CM_JSON_NUMBER_LEN_MAX + 2] = ']';
    check_refused(text, sizeof(text), DEPTH, CM_EINVAL, 1, "number longer than 256 bytes");
}

static void test_json__refuses_bad_escapes(void **state)
{
    REFUSED("\"\\x\"", 1, "invalid escape: backslash before 'x'");
    REFUSED("\"\\U0041\"", 1, "invalid escape: backslash before 'U'");
    REFUSED("\"ab\\'\"", 3, "invalid escape: backslash before '''");
    REFUSED("\"\\\x01\"", 1, "invalid escape: backslash before byte 0x01");
    REFUSED("\"\\u12\"", 1, "invalid \\u escape (expected 4 hex digits)");
    REFUSED("\"\\u12g4\"", 1, "invalid \\u escape (expected 4 hex digits)");
    REFUSED("\"\\u\"", 1, "invalid \\u escape (expected 4 hex digits)");
    REFUSED("\"\\", 0, "unterminated string");
    REFUSED("\"\\\"", 0, "unterminated string");
}

static void test_json__refuses_unterminated_string(void **state)
{
    REFUSED("\"abc", 0, "unterminated string");
    REFUSED("[\"a\",\"b", 5, "unterminated string");
    REFUSED("{\"key", 1, "unterminated string");
}

static void test_json__refuses_lone_surrogates(void **state)
{
    REFUSED("\"\\ud800\"", 1, "lone high surrogate \\ud800");
    REFUSED("\"\\ud800x\"", 1, "lone high surrogate");
    REFUSED("\"\\ud800\\u0041\"", 1, "lone high surrogate");
    REFUSED("\"\\ud800\\ud800\"", 1, "lone high surrogate");
    REFUSED("\"\\udbff\\n\"", 1, "lone high surrogate");
    REFUSED("\"ab\\ud83d\\ude0\"", 3, "lone high surrogate");
    REFUSED("\"\\udc00\"", 1, "lone low surrogate \\udc00");
    REFUSED("\"a\\udfff\\ud800\"", 2, "lone low surrogate");
}

static void test_json__refuses_nul_in_strings(void **state)
{
    REFUSED("\"\\u0000\"", 1, "\\u0000 is not allowed in strings");
    REFUSED("\"ab\\u0000\"", 3, "\\u0000 is not allowed in strings");
    REFUSED("\"a\0b\"", 2, "control character 0x00 in a string");
    REFUSED("{\"a\\u0000\":1}", 3, "\\u0000 is not allowed in strings");
}

static void test_json__refuses_raw_control_characters_in_strings(void **state)
{
    REFUSED("\"a\nb\"", 2, "control character 0x0a in a string (escape it)");
    REFUSED("\"\t\"", 1, "control character 0x09 in a string");
    REFUSED("\"\x1f\"", 1, "control character 0x1f in a string");
    REFUSED("{\"a\rb\":1}", 3, "control character 0x0d in a string");
}

static void test_json__refuses_invalid_utf8(void **state)
{
    REFUSED("\"\xc0\x80\"", 1, "invalid UTF-8: overlong encoding");
    REFUSED("\"\xc1\xbf\"", 1, "invalid UTF-8: overlong encoding");
    REFUSED("\"\xe0\x80\x80\"", 1, "invalid UTF-8: overlong encoding");
    REFUSED("\"\xe0\x9f\xbf\"", 1, "invalid UTF-8: overlong encoding");
    REFUSED("\"\xf0\x80\x80\x80\"", 1, "invalid UTF-8: overlong encoding");
    REFUSED("\"\xf0\x8f\xbf\xbf\"", 1, "invalid UTF-8: overlong encoding");
    REFUSED("\"\xed\xa0\x80\"", 1, "invalid UTF-8: UTF-16 surrogate");
    REFUSED("\"\xed\xbf\xbf\"", 1, "invalid UTF-8: UTF-16 surrogate");
    REFUSED("\"\xf4\x90\x80\x80\"", 1, "invalid UTF-8: code point above U+10FFFF");
    REFUSED("\"\xf5\x80\x80\x80\"", 1, "invalid UTF-8: code point above U+10FFFF");
    REFUSED("\"\xf8\x88\x80\x80\x80\"", 1, "invalid UTF-8: byte 0xf8");
    REFUSED("\"\xff\"", 1, "invalid UTF-8: byte 0xff");
    REFUSED("\"a\x80\"", 2, "invalid UTF-8: unexpected continuation byte 0x80");
    REFUSED("\"\xc3\"", 1, "invalid UTF-8: truncated sequence");
    REFUSED("\"\xf0\x9f\x98\"", 1, "invalid UTF-8: truncated sequence");
    REFUSED("\"\xc3(\"", 2, "invalid UTF-8: byte 0x28 is not a continuation byte");
    REFUSED("\"\xe2\x82"
            "a\"",
            3, "invalid UTF-8: byte 0x61 is not a continuation byte");
    REFUSED("\"\xf0\x9f\x98\xc3\xa9\"", 4, "invalid UTF-8: byte 0xc3 is not a continuation byte");
    REFUSED("{\"\xff\":1}", 2, "invalid UTF-8: byte 0xff");
}

/* ---- limits ---- */

static void test_json__refuses_nesting_past_depth_max(void **state)
{
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    cm_json_t *root = NULL;
    char err[128];
    assert_int_equal(parse_n(&a, "[[[1]]]", 7, 3, &root, err, sizeof(err)), CM_OK);
    assert_int_equal(root->child->child->child->i, 1);
    cm_arena_free(&a);

    check_refused("[[[[1]]]]", 9, 3, CM_EINVAL, 3, "nesting deeper than 3 levels");
    check_refused("{\"a\":{\"b\":{\"c\":{}}}}", 20, 3, CM_EINVAL, 15, "nesting deeper than 3");
    check_refused("[{\"a\":[{}]}]", 12, 3, CM_EINVAL, 7, "nesting deeper than 3");

    /* Depth 0 allows a scalar and nothing else. */
    cm_arena_init(&a, ARENA_LIMIT);
    assert_int_equal(parse_n(&a, "\"s\"", 3, 0, &root, err, sizeof(err)), CM_OK);
    cm_arena_free(&a);
    check_refused("[]", 2, 0, CM_EINVAL, 0, "nesting deeper than 0 levels");
}

/* Nesting is bounded by the arena, not by the stack: the parser does not recurse. */
static void test_json__parses_deep_nesting_without_recursion(void **state)
{
    const size_t deep = 200000;
    char *text = malloc(2 * deep + 1);
    assert_non_null(text);
    memset(text, '[', deep);
    text[deep] = '7';
    memset(text + deep + 1, ']', deep);

    cm_arena_t a;
    cm_arena_init(&a, (size_t)64 << 20);
    cm_json_t *root = NULL;
    char err[128] = "";
    int rc = cm_json_parse(&a, text, 2 * deep + 1, INT_MAX, &root, err, sizeof(err));
    if (rc != CM_OK)
        fail_msg("refused: %s", err);
    size_t depth = 0;
    const cm_json_t *v = root;
    for (; v->type == CM_JSON_ARRAY; v = v->child) {
        assert_int_equal(v->len, 1);
        assert_null(v->next);
        depth++;
    }
    assert_int_equal(depth, deep);
    assert_int_equal(v->i, 7);
    cm_arena_free(&a);

    /* The same document against an ordinary limit is refused at the first level too deep. */
    check_refused(text, 2 * deep + 1, DEPTH, CM_EINVAL, DEPTH, "nesting deeper than 64 levels");
    free(text);
}

static void test_json__reports_arena_limit(void **state)
{
    /* Many small values: the tree outgrows the arena. */
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    cm_sbuf_append(&s, "[", 1);
    for (int i = 0; i < 1000; i++)
        cm_sbuf_printf(&s, "%s%d", i ? "," : "", i);
    cm_sbuf_append(&s, "]", 1);

    cm_arena_t a;
    cm_arena_init(&a, 4096);
    cm_json_t *root = (cm_json_t *)&a;
    char err[128] = "";
    assert_int_equal(parse_n(&a, s.buf, s.len, DEPTH, &root, err, sizeof(err)), CM_ELIMIT);
    assert_null(root);
    assert_true(strncmp(err, "at byte ", 8) == 0);
    assert_non_null(strstr(err, "document too large"));
    cm_arena_free(&a);

    /* One long string: its decoded copy does not fit. */
    cm_sbuf_free(&s);
    cm_sbuf_append(&s, "\"", 1);
    for (int i = 0; i < 5000; i++)
        cm_sbuf_append(&s, "x", 1);
    cm_sbuf_append(&s, "\"", 1);
    cm_arena_init(&a, 4096);
    assert_int_equal(parse_n(&a, s.buf, s.len, DEPTH, &root, err, sizeof(err)), CM_ELIMIT);
    assert_non_null(strstr(err, "at byte 0: document too large"));
    cm_arena_free(&a);

    /* The same documents fit a larger arena. */
    cm_arena_init(&a, 16384);
    assert_int_equal(parse_n(&a, s.buf, s.len, DEPTH, &root, err, sizeof(err)), CM_OK);
    assert_int_equal(root->len, 5000);
    cm_arena_free(&a);
    cm_sbuf_free(&s);
}

static void test_json__refuses_duplicate_keys(void **state)
{
    REFUSED("{\"a\":1,\"a\":2}", 7, "duplicate key \"a\"");
    REFUSED("{\"x\":{\"k\":1,\"k\":2}}", 12, "duplicate key \"k\"");
    /* Keys are compared decoded. */
    REFUSED("{\"a\":1,\"\\u0061\":2}", 7, "duplicate key \"a\"");
    /* The first repeat in document order is named. */
    REFUSED("{\"a\":1,\"b\":2,\"b\":3,\"a\":4}", 13, "duplicate key \"b\"");
    /* Control characters and quotes in the key do not reach the message as they are. */
    REFUSED("{\"a\\n\\\"\":1,\"a\\n\\\"\":2}", 11, "duplicate key \"a??\"");

    /* The same key in different objects is fine. */
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    parse_ok(&a, "[{\"a\":1},{\"a\":2}]");
    parse_ok(&a, "{\"a\":{\"a\":{\"a\":1}}}");
    parse_ok(&a, "{\"a\":1,\"A\":2,\"a \":3,\"\":4}");
    cm_arena_free(&a);
}

static void test_json__shortens_long_duplicate_key_in_message(void **state)
{
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    char key[201];
    memset(key, 'k', 200);
    key[200] = '\0';
    cm_sbuf_printf(&s, "{\"%s\":1,", key);
    size_t off = s.len;
    cm_sbuf_printf(&s, "\"%s\":2}", key);
    check_refused(s.buf, s.len, DEPTH, CM_EINVAL, off, "duplicate key \"kkkkkkkkkk");
    check_refused(s.buf, s.len, DEPTH, CM_EINVAL, off, "kkk...\"");
    cm_sbuf_free(&s);
}

/* Large objects take the sorting path; it must name the same key the pairwise scan would. */
static void test_json__refuses_duplicate_keys_in_large_objects(void **state)
{
    cm_sbuf_t s;
    cm_sbuf_init(&s);
    cm_sbuf_append(&s, "{", 1);
    for (int i = 0; i < 40; i++)
        cm_sbuf_printf(&s, "\"k%02d\":%d,", i, i);
    size_t off = s.len;
    cm_sbuf_printf(&s, "\"k07\":1,\"k02\":2,\"k07\":3}");
    check_refused(s.buf, s.len, DEPTH, CM_EINVAL, off, "duplicate key \"k07\"");

    /* Without the repeats it parses, members in document order. */
    s.len = off - 1;
    cm_sbuf_append(&s, "}", 1);
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    cm_json_t *root = parse_ok(&a, s.buf);
    assert_int_equal(root->len, 40);
    int64_t want = 0;
    for (const cm_json_t *c = root->child; c != NULL; c = c->next)
        assert_int_equal(c->i, want++);
    cm_arena_free(&a);
    cm_sbuf_free(&s);
}

/* Every proper prefix of a document, in an exact-size buffer, is refused without a read past
 * its end (AddressSanitizer would stop the test). */
static void test_json__never_reads_past_len(void **state)
{
    static const char doc[] =
        "{\"s\":\"a\\n\\u00e9\\ud83d\\ude00\xc3\xa9\xf0\x9f\x98\x80\",\"n\":[-0,1.5e-3,12,"
        "true,false,null],\"o\":{\"k\":{}},\"e\":[]}";
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    cm_json_t *root;
    char err[128];
    for (size_t len = 0; len < sizeof(doc) - 1; len++) {
        int rc = parse_n(&a, doc, len, DEPTH, &root, err, sizeof(err));
        if (rc != CM_EINVAL)
            fail_msg("prefix of %zu bytes: got %d", len, rc);
        cm_arena_reset(&a);
    }
    assert_int_equal(parse_n(&a, doc, sizeof(doc) - 1, DEPTH, &root, err, sizeof(err)), CM_OK);
    assert_string_equal(cm_json_get_str(root, "s"),
                        "a\n\xc3\xa9\xf0\x9f\x98\x80\xc3\xa9\xf0\x9f\x98\x80");

    /* Bytes beyond len are never looked at, even when they would complete the document. */
    assert_int_equal(cm_json_parse(&a, "[1,2]", 4, DEPTH, &root, err, sizeof(err)), CM_EINVAL);
    assert_int_equal(cm_json_parse(&a, "\"ab\"", 3, DEPTH, &root, err, sizeof(err)), CM_EINVAL);
    assert_int_equal(cm_json_parse(&a, "123", 2, DEPTH, &root, err, sizeof(err)), CM_OK);
    assert_int_equal(root->i, 12);
    assert_int_equal(cm_json_parse(&a, NULL, 0, DEPTH, &root, err, sizeof(err)), CM_EINVAL);
    cm_arena_free(&a);
}

static void test_json__error_buffer_is_optional_and_truncated(void **state)
{
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    cm_json_t *root;
    assert_int_equal(cm_json_parse(&a, "[1,]", 4, DEPTH, &root, NULL, 0), CM_EINVAL);
    assert_null(root);
    char err[8];
    memset(err, '#', sizeof(err));
    assert_int_equal(cm_json_parse(&a, "[1,]", 4, DEPTH, &root, err, sizeof(err)), CM_EINVAL);
    assert_string_equal(err, "at byte");
    /* A success leaves an empty message. */
    assert_int_equal(cm_json_parse(&a, "1", 1, DEPTH, &root, err, sizeof(err)), CM_OK);
    assert_string_equal(err, "");
    cm_arena_free(&a);
}

/* ---- tree and lookups ---- */

static void test_json__records_byte_offsets(void **state)
{
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    /*                          0         1         2
     *                          0123456789012345678901234567 */
    cm_json_t *root = parse_ok(&a, "{\"a\": [10, \"x\"], \"b\": null}");
    assert_int_equal(root->off, 0);
    const cm_json_t *m_a = cm_json_get(root, "a"), *m_b = cm_json_get(root, "b");
    assert_int_equal(m_a->off, 1); /* a member's offset is its key's */
    assert_int_equal(m_b->off, 17);
    assert_int_equal(m_a->child->off, 7);
    assert_int_equal(m_a->child->next->off, 11);
    cm_arena_free(&a);
}

static void test_json__looks_up_members(void **state)
{
    cm_arena_t a;
    cm_arena_init(&a, ARENA_LIMIT);
    cm_json_t *root = parse_ok(
        &a, "{\"name\":\"t1\",\"n\":-42,\"big\":1e3,\"frac\":1.5,\"on\":true,\"off\":false,"
            "\"nil\":null,\"arr\":[\"name\"],\"obj\":{\"name\":\"inner\"}}");
    int64_t i = 99;
    bool b = false;

    assert_string_equal(cm_json_get_str(root, "name"), "t1");
    assert_string_equal(cm_json_get_str(cm_json_get(root, "obj"), "name"), "inner");
    assert_true(cm_json_get_int(root, "n", &i));
    assert_int_equal(i, -42);
    assert_true(cm_json_get_bool(root, "on", &b));
    assert_true(b);
    assert_true(cm_json_get_bool(root, "off", &b));
    assert_false(b);
    assert_int_equal(cm_json_get(root, "nil")->type, CM_JSON_NULL);

    /* Absent, or present with another type: nothing, and *out untouched. */
    i = 99;
    b = true;
    assert_null(cm_json_get(root, "missing"));
    assert_null(cm_json_get(root, "Name"));
    assert_null(cm_json_get_str(root, "n"));
    assert_null(cm_json_get_str(root, "nil"));
    assert_false(cm_json_get_int(root, "name", &i));
    assert_false(cm_json_get_int(root, "big", &i)); /* an exponent makes it a double */
    assert_false(cm_json_get_int(root, "frac", &i));
    assert_false(cm_json_get_int(root, "missing", &i));
    assert_int_equal(i, 99);
    assert_false(cm_json_get_bool(root, "n", &b));
    assert_false(cm_json_get_bool(root, "nil", &b));
    assert_true(b);

    /* Not an object: arrays hold no members, even when an element matches. */
    assert_null(cm_json_get(cm_json_get(root, "arr"), "name"));
    assert_null(cm_json_get(NULL, "name"));
    assert_null(cm_json_get_str(NULL, "name"));
    assert_false(cm_json_get_int(NULL, "n", &i));
    assert_false(cm_json_get_bool(NULL, "on", &b));
    assert_null(cm_json_get(root, NULL));
    cm_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json__parses_every_scalar_type),
        cmocka_unit_test(test_json__parses_nested_document),
        cmocka_unit_test(test_json__accepts_whitespace_between_tokens),
        cmocka_unit_test(test_json__keeps_integers_that_fit_int64),
        cmocka_unit_test(test_json__parses_fractions_and_exponents),
        cmocka_unit_test(test_json__decodes_escapes),
        cmocka_unit_test(test_json__decodes_surrogate_pairs),
        cmocka_unit_test(test_json__accepts_valid_utf8_at_every_boundary),
        cmocka_unit_test(test_json__refuses_trailing_comma),
        cmocka_unit_test(test_json__refuses_missing_colon),
        cmocka_unit_test(test_json__refuses_comments),
        cmocka_unit_test(test_json__refuses_empty_input_and_trailing_data),
        cmocka_unit_test(test_json__refuses_broken_structure),
        cmocka_unit_test(test_json__refuses_bad_literals),
        cmocka_unit_test(test_json__refuses_malformed_numbers),
        cmocka_unit_test(test_json__refuses_overlong_number),
        cmocka_unit_test(test_json__refuses_bad_escapes),
        cmocka_unit_test(test_json__refuses_unterminated_string),
        cmocka_unit_test(test_json__refuses_lone_surrogates),
        cmocka_unit_test(test_json__refuses_nul_in_strings),
        cmocka_unit_test(test_json__refuses_raw_control_characters_in_strings),
        cmocka_unit_test(test_json__refuses_invalid_utf8),
        cmocka_unit_test(test_json__refuses_nesting_past_depth_max),
        cmocka_unit_test(test_json__parses_deep_nesting_without_recursion),
        cmocka_unit_test(test_json__reports_arena_limit),
        cmocka_unit_test(test_json__refuses_duplicate_keys),
        cmocka_unit_test(test_json__shortens_long_duplicate_key_in_message),
        cmocka_unit_test(test_json__refuses_duplicate_keys_in_large_objects),
        cmocka_unit_test(test_json__never_reads_past_len),
        cmocka_unit_test(test_json__error_buffer_is_optional_and_truncated),
        cmocka_unit_test(test_json__records_byte_offsets),
        cmocka_unit_test(test_json__looks_up_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
