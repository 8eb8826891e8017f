#include "bk_epochs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BK_EPOCHS__MAX 1000000 /* entries a checkpoint may hold: one per election */

void bk_epochs_init(bk_epochs_t *e)
{
    *e = (bk_epochs_t){ 0 };
}

void bk_epochs_free(bk_epochs_t *e)
{
    free(e->v);
    *e = (bk_epochs_t){ 0 };
}

int32_t bk_epochs_latest(const bk_epochs_t *e)
{
    return e->n > 0 ? e->v[e->n - 1].epoch : BK_EPOCHS_UNDEFINED;
}

static void bk_epochs__push(bk_epochs_t *e, int32_t epoch, int64_t start)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4;
        e->v = realloc(e->v, e->cap * sizeof(*e->v));
        if (e->v == NULL)
            abort();
    }
    e->v[e->n++] = (bk_epoch_entry_t){ epoch, start };
}

bool bk_epochs_assign(bk_epochs_t *e, int32_t epoch, int64_t start)
{
    if (epoch < 0 || start < 0)
        return false;
    if (e->n > 0) {
        bk_epoch_entry_t *last = &e->v[e->n - 1];
        if (epoch < last->epoch || (epoch == last->epoch && start >= last->start))
            return false;
        /* Offsets only grow along the log: an entry past `start` belongs to a tail that is
         * gone (callers truncate first; this keeps the history ordered regardless). */
        if (start < last->start)
            bk_epochs_truncate(e, start);
    }
    bk_epochs__push(e, epoch, start);
    return true;
}

bool bk_epochs_truncate(bk_epochs_t *e, int64_t offset)
{
    size_t n = e->n;
    while (e->n > 0 && e->v[e->n - 1].start >= offset)
        e->n--;
    return e->n != n;
}

void bk_epochs_end_offset(const bk_epochs_t *e, int32_t epoch, int64_t leo, int32_t *out_epoch,
                          int64_t *out_end)
{
    *out_epoch = BK_EPOCHS_UNDEFINED;
    *out_end = -1;
    if (epoch < 0 || e->n == 0)
        return;
    if (epoch == e->v[e->n - 1].epoch) {
        *out_epoch = epoch;
        *out_end = leo;
        return;
    }
    size_t higher = 0; /* the first entry newer than `epoch` */
    while (higher < e->n && e->v[higher].epoch <= epoch)
        higher++;
    if (higher == e->n)
        return; /* newer than anything this log has seen */
    *out_epoch = higher == 0 ? epoch : e->v[higher - 1].epoch;
    *out_end = e->v[higher].start;
}

int32_t bk_epochs_at(const bk_epochs_t *e, int64_t offset)
{
    for (size_t i = e->n; i > 0; i--)
        if (e->v[i - 1].start <= offset)
            return e->v[i - 1].epoch;
    return BK_EPOCHS_UNDEFINED;
}

char *bk_epochs_format(const bk_epochs_t *e, size_t *len)
{
    size_t cap = 32 + e->n * 34, n = 0;
    char *s = malloc(cap);
    if (s == NULL)
        abort();
    n += (size_t)snprintf(s + n, cap - n, "0\n%zu\n", e->n);
    for (size_t i = 0; i < e->n; i++)
        n += (size_t)snprintf(s + n, cap - n, "%" PRId32 " %" PRId64 "\n", e->v[i].epoch,
                              e->v[i].start);
    *len = n;
    return s;
}

/* Reads one decimal number of at most int64's range, then the separator `sep`. */
static bool bk_epochs__num(const char **p, const char *end, char sep, int64_t *out)
{
    const char *q = *p;
    int64_t v = 0;
    if (q == end || *q < '0' || *q > '9')
        return false;
    for (; q < end && *q >= '0' && *q <= '9'; q++) {
        if (v > (INT64_MAX - (*q - '0')) / 10)
            return false;
        v = v * 10 + (*q - '0');
    }
    if (q == end || *q != sep)
        return false;
    *p = q + 1;
    *out = v;
    return true;
}

int bk_epochs_parse(bk_epochs_t *e, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    int64_t version, count;
    e->n = 0;
    if (!bk_epochs__num(&p, end, '\n', &version) || version != 0 ||
        !bk_epochs__num(&p, end, '\n', &count) || count > BK_EPOCHS__MAX)
        return -1;
    for (int64_t i = 0; i < count; i++) {
        int64_t epoch, start;
        if (!bk_epochs__num(&p, end, ' ', &epoch) || !bk_epochs__num(&p, end, '\n', &start) ||
            epoch > INT32_MAX ||
            (e->n > 0 && (epoch <= e->v[e->n - 1].epoch || start < e->v[e->n - 1].start))) {
            e->n = 0;
            return -1;
        }
        bk_epochs__push(e, (int32_t)epoch, start);
    }
    if (p != end) {
        e->n = 0;
        return -1;
    }
    return 0;
}
