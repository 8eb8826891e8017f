/*
 * The leader-epoch history (bk_epochs.h): Kafka's LeaderEpochFileCache rules for assign,
 * truncation and endOffsetFor, and the checkpoint text, including what it refuses.
 */
#include "cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include "bk_epochs.h"

static void end_of(const bk_epochs_t *e, int32_t epoch, int64_t leo, int32_t want_epoch,
                   int64_t want_end)
{
    int32_t got_epoch;
    int64_t got_end;
    bk_epochs_end_offset(e, epoch, leo, &got_epoch, &got_end);
    assert_int_equal(got_epoch, want_epoch);
    assert_int_equal(got_end, want_end);
}

static void test_epochs__assign_keeps_first_offset_of_each_newer_epoch(void **state)
{
    (void)state;
    bk_epochs_t e;
    bk_epochs_init(&e);
    assert_int_equal(bk_epochs_latest(&e), -1);
    assert_true(bk_epochs_assign(&e, 0, 0));
    assert_false(bk_epochs_assign(&e, 0, 10)); /* the same epoch writing on */
    assert_true(bk_epochs_assign(&e, 2, 100));
    assert_false(bk_epochs_assign(&e, 1, 150)); /* older: ignored */
    assert_false(bk_epochs_assign(&e, -1, 160));
    assert_true(bk_epochs_assign(&e, 5, 200));
    assert_int_equal(e.n, 3);
    assert_int_equal(bk_epochs_latest(&e), 5);
    /* The latest again at an earlier offset: nothing was written under it in between. */
    assert_true(bk_epochs_assign(&e, 5, 180));
    assert_int_equal(e.n, 3);
    assert_int_equal(e.v[2].start, 180);
    /* A newer epoch below the last start: the entries past it are dropped. */
    assert_true(bk_epochs_assign(&e, 6, 150));
    assert_int_equal(e.n, 3);
    assert_int_equal(e.v[1].epoch, 2);
    assert_int_equal(e.v[2].epoch, 6);
    assert_int_equal(e.v[2].start, 150);
    assert_int_equal(bk_epochs_at(&e, 0), 0);
    assert_int_equal(bk_epochs_at(&e, 149), 2);
    assert_int_equal(bk_epochs_at(&e, 1000), 6);
    bk_epochs_free(&e);
}

static void test_epochs__end_offset_follows_kafka(void **state)
{
    (void)state;
    bk_epochs_t e;
    bk_epochs_init(&e);
    end_of(&e, 0, 0, -1, -1); /* empty history */
    bk_epochs_assign(&e, 1, 0);
    bk_epochs_assign(&e, 3, 100);
    bk_epochs_assign(&e, 7, 250);
    end_of(&e, 7, 300, 7, 300);  /* the latest ends at the log end */
    end_of(&e, 3, 300, 3, 250);  /* an older one where the next starts */
    end_of(&e, 5, 300, 3, 250);  /* one this log never had: the newest at or below it */
    end_of(&e, 2, 300, 1, 100);  /* ... whose end is the next entry's start */
    end_of(&e, 0, 300, 0, 0);    /* older than every entry: the first start */
    end_of(&e, 8, 300, -1, -1);  /* newer than anything here */
    end_of(&e, -1, 300, -1, -1); /* undefined */
    bk_epochs_free(&e);
}

static void test_epochs__truncate_drops_epochs_at_or_past_the_cut(void **state)
{
    (void)state;
    bk_epochs_t e;
    bk_epochs_init(&e);
    bk_epochs_assign(&e, 1, 0);
    bk_epochs_assign(&e, 3, 100);
    bk_epochs_assign(&e, 7, 250);
    assert_false(bk_epochs_truncate(&e, 251));
    assert_true(bk_epochs_truncate(&e, 250));
    assert_int_equal(bk_epochs_latest(&e), 3);
    assert_true(bk_epochs_truncate(&e, 50));
    assert_int_equal(e.n, 1);
    assert_true(bk_epochs_truncate(&e, 0));
    assert_int_equal(e.n, 0);
    bk_epochs_free(&e);
}

static void test_epochs__checkpoint_round_trip(void **state)
{
    (void)state;
    bk_epochs_t e, back;
    bk_epochs_init(&e);
    bk_epochs_init(&back);
    bk_epochs_assign(&e, 0, 0);
    bk_epochs_assign(&e, 4, 1200);
    bk_epochs_assign(&e, 2147483647, 9223372036854775807LL);
    size_t len;
    char *text = bk_epochs_format(&e, &len);
    assert_string_equal(text, "0\n3\n0 0\n4 1200\n2147483647 9223372036854775807\n");
    assert_int_equal(bk_epochs_parse(&back, text, len), 0);
    assert_int_equal(back.n, 3);
    assert_int_equal(back.v[1].epoch, 4);
    assert_int_equal(back.v[1].start, 1200);
    free(text);
    bk_epochs_free(&e);
    text = bk_epochs_format(&e, &len);
    assert_string_equal(text, "0\n0\n");
    assert_int_equal(bk_epochs_parse(&back, text, len), 0);
    assert_int_equal(back.n, 0);
    free(text);
    bk_epochs_free(&back);
}

static void test_epochs__parse_refuses_what_is_not_a_checkpoint(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "1\n0\n",                         /* another version */
        "0\n2\n0 0\n",                    /* fewer entries than counted */
        "0\n1\n0 0\n1 5\n",               /* more */
        "0\n2\n3 0\n3 10\n",              /* epochs not increasing */
        "0\n2\n1 10\n3 5\n",              /* offsets going back */
        "0\n1\n-1 0\n",                   /* negative */
        "0\n1\n2147483648 0\n",           /* past int32 */
        "0\n1\n1 99999999999999999999\n", /* past int64 */
        "0\n1\n1 5",                      /* no newline */
        "0\n1\n1  5\n",                   /* two spaces */
        "0\n9999999\n",                   /* absurd count */
        "0\n1\n1 5\nx",                   /* trailing bytes */
    };
    bk_epochs_t e;
    bk_epochs_init(&e);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bk_epochs_assign(&e, 9, 9);
        assert_int_equal(bk_epochs_parse(&e, bad[i], strlen(bad[i])), -1);
        assert_int_equal(e.n, 0);
    }
    bk_epochs_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epochs__assign_keeps_first_offset_of_each_newer_epoch),
        cmocka_unit_test(test_epochs__end_offset_follows_kafka),
        cmocka_unit_test(test_epochs__truncate_drops_epochs_at_or_past_the_cut),
        cmocka_unit_test(test_epochs__checkpoint_round_trip),
        cmocka_unit_test(test_epochs__parse_refuses_what_is_not_a_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
