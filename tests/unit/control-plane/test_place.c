/*
 * Partition placement (cp_place): replicas spread evenly, distinct brokers per partition,
 * racks used before they repeat, leaders spread, refusal when brokers are too few, the
 * brokers' counts kept up to date, and the same answer for the same input.
 */
#include "cmocka_all.h"

#include <stdio.h>
#include <string.h>

#include "cp_place.h"

#define BROKERS_MAX 16
#define PARTS_MAX   64

/* `n` brokers with ids 1..n, no load, and racks[i] if racks is given. */
static void brokers_init(cp_place_broker_t *b, int n, const char *const *racks)
{
    memset(b, 0, sizeof(*b) * (size_t)n);
    for (int i = 0; i < n; i++) {
        b[i].id = i + 1;
        if (racks != NULL)
            snprintf(b[i].rack, sizeof(b[i].rack), "%s", racks[i]);
    }
}

static const cp_place_broker_t *broker_by_id(const cp_place_broker_t *b, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (b[i].id == id)
            return &b[i];
    fail_msg("placement chose broker %d, which is not in the list", id);
    return NULL;
}

/* Every partition's replicas are brokers from the list, all different. */
static void check_distinct(const cp_place_broker_t *b, int nb, int rf, int parts,
                           const int32_t *out)
{
    for (int p = 0; p < parts; p++)
        for (int j = 0; j < rf; j++) {
            broker_by_id(b, nb, out[p * rf + j]);
            for (int k = 0; k < j; k++)
                if (out[p * rf + j] == out[p * rf + k])
                    fail_msg("partition %d has broker %d twice", p, out[p * rf + j]);
        }
}

/* The largest difference between two brokers' replica (or leader) counts. */
static int64_t spread(const cp_place_broker_t *b, int n, bool leaders)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int i = 0; i < n; i++) {
        int64_t v = leaders ? b[i].leaders : b[i].replicas;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    return hi - lo;
}

static void test_place__replicas_within_one_of_each_other(void **state)
{
    cp_place_broker_t b[BROKERS_MAX];
    int32_t out[PARTS_MAX * BROKERS_MAX];
    for (int nb = 1; nb <= 8; nb++)
        for (int rf = 1; rf <= nb; rf++)
            for (int parts = 1; parts <= PARTS_MAX; parts++) {
                brokers_init(b, nb, NULL);
                assert_int_equal(cp_place(b, nb, rf, parts, out), 0);
                check_distinct(b, nb, rf, parts, out);
                if (spread(b, nb, false) > 1)
                    fail_msg("%d brokers, rf %d, %d partitions: replica counts differ by %lld", nb,
                             rf, parts, (long long)spread(b, nb, false));
            }
}

static void test_place__leaders_within_one_of_each_other(void **state)
{
    cp_place_broker_t b[BROKERS_MAX];
    int32_t out[PARTS_MAX * BROKERS_MAX];
    for (int nb = 1; nb <= 8; nb++)
        for (int rf = 1; rf <= nb; rf++)
            for (int parts = 1; parts <= PARTS_MAX; parts++) {
                brokers_init(b, nb, NULL);
                assert_int_equal(cp_place(b, nb, rf, parts, out), 0);
                if (spread(b, nb, true) > 1)
                    fail_msg("%d brokers, rf %d, %d partitions: leader counts differ by %lld", nb,
                             rf, parts, (long long)spread(b, nb, true));
            }
}

/* The case the component test checks through the API: 3 brokers, 6 partitions, rf 2. */
static void test_place__six_partitions_rf2_on_three_brokers(void **state)
{
    cp_place_broker_t b[3];
    int32_t out[6 * 2];
    brokers_init(b, 3, NULL);
    assert_int_equal(cp_place(b, 3, 2, 6, out), 0);
    check_distinct(b, 3, 2, 6, out);
    int leads[4] = { 0 };
    for (int p = 0; p < 6; p++)
        leads[out[p * 2]]++;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(b[i].replicas, 4);
        assert_int_equal(b[i].leaders, 2);
        /* The leader is written first, and the counts agree with what was written. */
        assert_int_equal(leads[b[i].id], 2);
    }
}

static void test_place__rf3_uses_three_racks(void **state)
{
    static const char *const racks[] = { "a", "a", "b", "b", "c", "c" };
    cp_place_broker_t b[6];
    int32_t out[30 * 3];
    for (int parts = 1; parts <= 30; parts++) {
        brokers_init(b, 6, racks);
        assert_int_equal(cp_place(b, 6, 3, parts, out), 0);
        check_distinct(b, 6, 3, parts, out);
        for (int p = 0; p < parts; p++) {
            const char *r0 = broker_by_id(b, 6, out[p * 3])->rack;
            const char *r1 = broker_by_id(b, 6, out[p * 3 + 1])->rack;
            const char *r2 = broker_by_id(b, 6, out[p * 3 + 2])->rack;
            if (strcmp(r0, r1) == 0 || strcmp(r0, r2) == 0 || strcmp(r1, r2) == 0)
                fail_msg("%d partitions: partition %d is on racks %s, %s, %s", parts, p, r0, r1,
                         r2);
        }
        assert_true(spread(b, 6, false) <= 1);
    }
}

/* With more replicas than racks, racks repeat only once every rack is used. */
static void test_place__rf3_on_two_racks_uses_both(void **state)
{
    static const char *const racks[] = { "a", "a", "b", "b" };
    cp_place_broker_t b[4];
    int32_t out[20 * 3];
    brokers_init(b, 4, racks);
    assert_int_equal(cp_place(b, 4, 3, 20, out), 0);
    check_distinct(b, 4, 3, 20, out);
    for (int p = 0; p < 20; p++) {
        const char *r0 = broker_by_id(b, 4, out[p * 3])->rack;
        bool other = false;
        for (int j = 1; j < 3; j++)
            other |= strcmp(broker_by_id(b, 4, out[p * 3 + j])->rack, r0) != 0;
        if (!other)
            fail_msg("partition %d uses one rack only", p);
    }
}

static void test_place__refuses_fewer_brokers_than_rf(void **state)
{
    cp_place_broker_t b[3];
    int32_t out[4 * 4] = { 0 };
    brokers_init(b, 3, NULL);
    assert_int_equal(cp_place(b, 3, 4, 4, out), -1);
    assert_int_equal(cp_place(b, 0, 1, 1, out), -1);
    assert_int_equal(cp_place(b, 3, 0, 1, out), -1);
    /* A refusal changes nothing. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(b[i].replicas, 0);
        assert_int_equal(b[i].leaders, 0);
    }
    for (int i = 0; i < 16; i++)
        assert_int_equal(out[i], 0);
}

/* A broker holding its capacity takes no more; when the pool has no room for every replica
 * the placement is refused and the counts are as they were. */
static void test_place__capacity(void **state)
{
    cp_place_broker_t b[3];
    int32_t out[8 * 2];
    brokers_init(b, 3, NULL);
    b[0].capacity = 4, b[0].replicas = 4; /* full */
    b[1].capacity = 10, b[1].replicas = 2;
    b[2].capacity = 0, b[2].replicas = 50; /* no limit known */
    assert_int_equal(cp_place(b, 3, 2, 8, out), 0);
    for (int i = 0; i < 16; i++)
        assert_int_not_equal(out[i], 1);
    assert_int_equal(b[0].replicas, 4);
    assert_int_equal(b[1].replicas, 10);
    assert_int_equal(b[2].replicas, 58);
    /* Now brokers 1 and 2 are full: rf 2 has only broker 3 left. */
    int64_t leaders[3] = { b[0].leaders, b[1].leaders, b[2].leaders };
    assert_int_equal(cp_place(b, 3, 2, 1, out), -2);
    assert_int_equal(cp_place(b, 3, 1, 1, out), 0);
    assert_int_equal(out[0], 3);
    b[2].capacity = 59; /* full too now */
    assert_int_equal(cp_place(b, 3, 1, 1, out), -2);
    /* Room for 1 of 2 partitions: nothing of the first is kept. */
    b[1].capacity = 11;
    assert_int_equal(cp_place(b, 3, 1, 2, out), -2);
    assert_int_equal(b[1].replicas, 10);
    assert_int_equal(b[2].replicas, 59);
    assert_int_equal(b[0].leaders, leaders[0]);
    assert_int_equal(b[1].leaders, leaders[1]);
    assert_int_equal(b[2].leaders, leaders[2] + 1);
}

static void test_place__updates_counts_from_existing_load(void **state)
{
    cp_place_broker_t b[3];
    int32_t out[5 * 2];
    brokers_init(b, 3, NULL);
    b[0].replicas = 10, b[0].leaders = 5;
    b[1].replicas = 10, b[1].leaders = 5;
    b[2].replicas = 0, b[2].leaders = 0;
    assert_int_equal(cp_place(b, 3, 2, 5, out), 0);
    check_distinct(b, 3, 2, 5, out);
    /* The empty broker takes a replica of every new partition, and leads them all. */
    int64_t want_reps[4] = { 0, 10, 10, 0 }, want_leads[4] = { 0, 5, 5, 0 };
    for (int p = 0; p < 5; p++) {
        assert_int_equal(out[p * 2], 3);
        want_leads[out[p * 2]]++;
        for (int j = 0; j < 2; j++)
            want_reps[out[p * 2 + j]]++;
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(b[i].replicas, want_reps[b[i].id]);
        assert_int_equal(b[i].leaders, want_leads[b[i].id]);
    }
    assert_int_equal(b[2].replicas, 5);
    assert_int_equal(b[0].replicas + b[1].replicas, 25);
}

/* The same brokers give the same placement, in whatever order they are listed. */
static void test_place__deterministic(void **state)
{
    static const char *const racks[] = { "a", "b", "c", "a", "b", "c", "a" };
    cp_place_broker_t b1[7], b2[7], b3[7];
    int32_t o1[40 * 3], o2[40 * 3], o3[40 * 3];
    brokers_init(b1, 7, racks);
    brokers_init(b2, 7, racks);
    for (int i = 0; i < 7; i++) {
        b1[i].replicas = b2[i].replicas = (i * 7) % 5;
        b1[i].leaders = b2[i].leaders = (i * 3) % 4;
        b3[6 - i] = b1[i];
    }
    assert_int_equal(cp_place(b1, 7, 3, 40, o1), 0);
    assert_int_equal(cp_place(b2, 7, 3, 40, o2), 0);
    assert_int_equal(cp_place(b3, 7, 3, 40, o3), 0);
    assert_memory_equal(o1, o2, sizeof(o1));
    assert_memory_equal(o1, o3, sizeof(o1));
    for (int i = 0; i < 7; i++) {
        assert_int_equal(b1[i].replicas, b3[6 - i].replicas);
        assert_int_equal(b1[i].leaders, b3[6 - i].leaders);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_place__replicas_within_one_of_each_other),
        cmocka_unit_test(test_place__leaders_within_one_of_each_other),
        cmocka_unit_test(test_place__six_partitions_rf2_on_three_brokers),
        cmocka_unit_test(test_place__rf3_uses_three_racks),
        cmocka_unit_test(test_place__rf3_on_two_racks_uses_both),
        cmocka_unit_test(test_place__refuses_fewer_brokers_than_rf),
        cmocka_unit_test(test_place__capacity),
        cmocka_unit_test(test_place__updates_counts_from_existing_load),
        cmocka_unit_test(test_place__deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
