/*
 * ACL decisions: the wildcard, literal and prefixed patterns and the deny-wins rule, and a
 * differential test of cm_acl_allowed against a reference model written separately here
 * (bit sets of implied operations, explicit pattern cases) over random rule sets.
 */
#include "cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include "cm_acl.h"

static cm_acl_t rule(const char *principal, cm_acl_rtype_t rt, bool prefixed, const char *res,
                     cm_acl_op_t op, bool allow)
{
    return (cm_acl_t){ .id = "x",
                       .principal = principal,
                       .rtype = rt,
                       .prefixed = prefixed,
                       .resource = res,
                       .op = op,
                       .allow = allow };
}

/* The hostile tenant's case: a deny on every topic beats an allow on one. */
static void test_acl__deny_on_wildcard_beats_literal_allow(void **state)
{
    cm_acl_t v[] = { rule("bob", CM_ACL_RT_TOPIC, false, "*", CM_ACL_OP_READ, false),
                     rule("bob", CM_ACL_RT_TOPIC, false, "orders", CM_ACL_OP_READ, true) };
    assert_false(cm_acl_allowed(v, 2, "bob", CM_ACL_RT_TOPIC, "orders", CM_ACL_OP_READ));
    assert_true(cm_acl_allowed(v + 1, 1, "bob", CM_ACL_RT_TOPIC, "orders", CM_ACL_OP_READ));
    /* Order does not matter. */
    cm_acl_t w[] = { v[1], v[0] };
    assert_false(cm_acl_allowed(w, 2, "bob", CM_ACL_RT_TOPIC, "orders", CM_ACL_OP_READ));
    (void)state;
}

static void test_acl__wildcards_and_prefixes(void **state)
{
    cm_acl_t all = rule("*", CM_ACL_RT_TOPIC, false, "*", CM_ACL_OP_WRITE, true);
    assert_true(cm_acl_allowed(&all, 1, "anyone", CM_ACL_RT_TOPIC, "t", CM_ACL_OP_WRITE));
    assert_true(cm_acl_allowed(&all, 1, "anyone", CM_ACL_RT_TOPIC, "t", CM_ACL_OP_DESCRIBE));
    assert_false(cm_acl_allowed(&all, 1, "anyone", CM_ACL_RT_GROUP, "t", CM_ACL_OP_WRITE));
    assert_false(cm_acl_allowed(&all, 1, "anyone", CM_ACL_RT_TOPIC, "t", CM_ACL_OP_READ));
    /* A prefixed "*" is a prefix of names that start with '*', as in Kafka. */
    cm_acl_t star = rule("bob", CM_ACL_RT_TOPIC, true, "*", CM_ACL_OP_READ, true);
    assert_false(cm_acl_allowed(&star, 1, "bob", CM_ACL_RT_TOPIC, "orders", CM_ACL_OP_READ));
    cm_acl_t pre = rule("bob", CM_ACL_RT_TOPIC, true, "ord", CM_ACL_OP_READ, true);
    assert_true(cm_acl_allowed(&pre, 1, "bob", CM_ACL_RT_TOPIC, "orders", CM_ACL_OP_READ));
    assert_false(cm_acl_allowed(&pre, 1, "bob", CM_ACL_RT_TOPIC, "or", CM_ACL_OP_READ));
    assert_false(cm_acl_allowed(&pre, 1, "alice", CM_ACL_RT_TOPIC, "orders", CM_ACL_OP_READ));
    /* Deny describe also denies read, which implies it. */
    cm_acl_t dd[] = { pre, rule("*", CM_ACL_RT_TOPIC, true, "o", CM_ACL_OP_DESCRIBE, false) };
    assert_false(cm_acl_allowed(dd, 2, "bob", CM_ACL_RT_TOPIC, "orders", CM_ACL_OP_READ));
    assert_false(cm_acl_allowed(NULL, 0, "bob", CM_ACL_RT_TOPIC, "orders", CM_ACL_OP_READ));
    (void)state;
}

/* ---- the reference model ------------------------------------------------------------ */

/* ref_grants[op]: the operations a grant of `op` gives, as bits. */
static unsigned ref_grants(int op)
{
    enum { ALL, READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DCONF, ACONF, N };
    _Static_assert((int)N == (int)CM_ACL_OP_N, "the model knows every operation");
    switch (op) {
    case ALL:
        return (1u << N) - 1;
    case READ:
    case WRITE:
    case DELETE:
    case ALTER:
        return 1u << op | 1u << DESCRIBE;
    case ACONF:
        return 1u << ACONF | 1u << DCONF;
    default:
        return 1u << op;
    }
}

static bool ref_name_matches(const cm_acl_t *a, const char *name)
{
    size_t rl = strlen(a->resource), nl = strlen(name);
    if (!a->prefixed && rl == 1 && a->resource[0] == '*')
        return true;
    if (!a->prefixed)
        return rl == nl && memcmp(a->resource, name, rl) == 0;
    return rl <= nl && memcmp(a->resource, name, rl) == 0;
}

static bool ref_allowed(const cm_acl_t *v, int n, const char *who, int rt, const char *name, int op)
{
    bool any_allow = false, any_deny = false;
    for (int i = 0; i < n; i++) {
        const cm_acl_t *a = &v[i];
        bool principal = strcmp(a->principal, "*") == 0 || strcmp(a->principal, who) == 0;
        if ((int)a->rtype != rt || !principal || !ref_name_matches(a, name))
            continue;
        unsigned want = 1u << op;
        if (a->allow)
            any_allow |= (ref_grants((int)a->op) & want) != 0;
        else
            any_deny |=
                (ref_grants((int)a->op) & want) != 0 || (ref_grants(op) & (1u << a->op)) != 0;
    }
    return any_allow && !any_deny;
}

static void test_acl__matches_the_reference_model(void **state)
{
    static const char *const names[] = { "a", "ab", "abc", "b", "ba", "*", "orders", "ord", "" };
    static const char *const who[] = { "alice", "bob", "*" };
    static const char *const asking[] = { "alice", "bob", "carol" };
    const int n_names = (int)(sizeof(names) / sizeof(*names));
    unsigned seed = 20261207;
    long cases = 0, mismatches = 0, allowed = 0;
    cm_acl_t v[10];
    for (int c = 0; c < 100000; c++) {
        int n = rand_r(&seed) % 10;
        for (int i = 0; i < n; i++)
            v[i] = rule(who[rand_r(&seed) % 3], (cm_acl_rtype_t)(rand_r(&seed) % 2),
                        rand_r(&seed) % 3 == 0, names[rand_r(&seed) % (n_names - 1)],
                        (cm_acl_op_t)(rand_r(&seed) % CM_ACL_OP_N), rand_r(&seed) % 4 != 0);
        const char *p = asking[rand_r(&seed) % 3];
        int rt = rand_r(&seed) % 2, op = rand_r(&seed) % CM_ACL_OP_N;
        const char *name = names[rand_r(&seed) % n_names];
        if (n > 0 && rand_r(&seed) % 2 == 0) { /* ask about what a rule names, often */
            const cm_acl_t *r = &v[rand_r(&seed) % n];
            rt = (int)r->rtype;
            op = rand_r(&seed) % 2 ? (int)r->op : op;
            name = strcmp(r->resource, "*") != 0 ? r->resource : name;
        }
        bool got = cm_acl_allowed(v, n, p, (cm_acl_rtype_t)rt, name, (cm_acl_op_t)op);
        bool want = ref_allowed(v, n, p, rt, name, op);
        cases++;
        allowed += want;
        if (got != want && mismatches++ < 5)
            print_error("mismatch: case %d principal=%s rt=%d name=%s op=%d got=%d want=%d\n", c, p,
                        rt, name, op, got, want);
        /* The listing filter's MATCH uses the same predicate as the decision. */
        for (int i = 0; i < n; i++)
            if (cm_acl_resource_matches(&v[i], name) != ref_name_matches(&v[i], name))
                mismatches++;
    }
    print_message("acl differential: %ld cases, %ld allowed, %ld mismatches\n", cases, allowed,
                  mismatches);
    assert_int_equal(mismatches, 0);
    /* Both answers occur often enough for the comparison to mean something. */
    assert_true(allowed > cases / 20 && allowed < cases - cases / 20);
    (void)state;
}

static void test_acl__names_round_trip(void **state)
{
    for (int i = 0; i < CM_ACL_OP_N; i++)
        assert_int_equal(cm_acl_op_parse(cm_acl_op_name((cm_acl_op_t)i)), i);
    for (int i = 0; i < CM_ACL_RT_N; i++)
        assert_int_equal(cm_acl_rtype_parse(cm_acl_rtype_name((cm_acl_rtype_t)i)), i);
    assert_int_equal(cm_acl_op_parse("ALL"), -1);
    assert_string_equal(cm_acl_op_name((cm_acl_op_t)99), "unknown");
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acl__deny_on_wildcard_beats_literal_allow),
        cmocka_unit_test(test_acl__wildcards_and_prefixes),
        cmocka_unit_test(test_acl__matches_the_reference_model),
        cmocka_unit_test(test_acl__names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
