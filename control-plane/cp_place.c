#include "cp_place.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The better of two candidates for the next replica. */
static bool cp_place__better(const cp_place_broker_t *a, const cp_place_broker_t *b)
{
    if (a->replicas != b->replicas)
        return a->replicas < b->replicas;
    return a->id < b->id;
}

static bool cp_place__taken(const int32_t *chosen, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (chosen[i] == id)
            return true;
    return false;
}

static bool cp_place__rack_used(const cp_place_broker_t *brokers, int n_brokers,
                                const int32_t *chosen, int n, const char *rack)
{
    if (rack[0] == '\0')
        return false;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n_brokers; k++)
            if (brokers[k].id == chosen[i] && strcmp(brokers[k].rack, rack) == 0)
                return true;
    return false;
}

static bool cp_place__full(const cp_place_broker_t *b)
{
    return b->capacity > 0 && b->replicas >= b->capacity;
}

int cp_place(cp_place_broker_t *brokers, int n_brokers, int rf, int n_parts, int32_t *out)
{
    if (rf < 1 || n_brokers < rf)
        return -1;
    int64_t *before = calloc((size_t)n_brokers * 2, sizeof(*before));
    if (before == NULL)
        abort();
    for (int k = 0; k < n_brokers; k++) {
        before[2 * k] = brokers[k].replicas;
        before[2 * k + 1] = brokers[k].leaders;
    }
    for (int p = 0; p < n_parts; p++) {
        int32_t *chosen = out + (size_t)p * (size_t)rf;
        for (int j = 0; j < rf; j++) {
            /* First pass: a rack not used by this partition yet; second: any. */
            cp_place_broker_t *best = NULL;
            for (int pass = 0; pass < 2 && best == NULL; pass++)
                for (int k = 0; k < n_brokers; k++) {
                    cp_place_broker_t *c = &brokers[k];
                    if (cp_place__taken(chosen, j, c->id) || cp_place__full(c))
                        continue;
                    if (pass == 0 && cp_place__rack_used(brokers, n_brokers, chosen, j, c->rack))
                        continue;
                    if (best == NULL || cp_place__better(c, best))
                        best = c;
                }
            if (best == NULL) { /* every broker left is full: undo, and refuse */
                for (int k = 0; k < n_brokers; k++) {
                    brokers[k].replicas = before[2 * k];
                    brokers[k].leaders = before[2 * k + 1];
                }
                free(before);
                return -2;
            }
            chosen[j] = best->id;
            best->replicas++;
        }
        /* The leader: the chosen broker leading the fewest partitions, moved to the front. */
        int lead = 0;
        cp_place_broker_t *lb = NULL;
        for (int j = 0; j < rf; j++)
            for (int k = 0; k < n_brokers; k++)
                if (brokers[k].id == chosen[j] &&
                    (lb == NULL || brokers[k].leaders < lb->leaders)) {
                    lb = &brokers[k];
                    lead = j;
                }
        int32_t t = chosen[0];
        chosen[0] = chosen[lead];
        chosen[lead] = t;
        lb->leaders++;
    }
    free(before);
    return 0;
}

int cp_partition_cas_leader(cm_pg_t *pg, const char *topic_id, int32_t partition, int32_t leader,
                            int32_t expected_epoch, bool drop_old, int32_t *new_epoch)
{
    char part[16], lead[16], epoch[16];
    snprintf(part, sizeof(part), "%d", partition);
    snprintf(lead, sizeof(lead), "%d", leader);
    snprintf(epoch, sizeof(epoch), "%d", expected_epoch);
    const char *p[] = { topic_id, part, lead, epoch, drop_old ? "t" : "f" };
    /* Under READ COMMITTED a second writer blocks on the row, then re-checks the WHERE
     * against the committed row: the epoch it expected is gone, so it updates nothing.
     * A dead leader replaced by another leaves the ISR with it, so that the new leader's
     * high watermark does not wait for it (SET reads the row as it was). */
    PGresult *r = cm_pg_exec(pg,
                             "UPDATE partitions SET leader = $3, leader_epoch = leader_epoch + 1,"
                             " isr = CASE WHEN $5::bool AND leader <> -1 AND $3 <> -1"
                             " AND leader <> $3 THEN array_remove(isr, leader) ELSE isr END,"
                             " isr_version = isr_version + 1"
                             " WHERE topic_id = $1 AND partition = $2 AND leader_epoch = $4"
                             " AND ($3 = -1 OR $3 = ANY (isr)) RETURNING leader_epoch",
                             5, p);
    int rc = -1;
    if (cm_pg_ok(r)) {
        rc = PQntuples(r) == 1 ? 1 : 0;
        if (rc == 1 && new_epoch != NULL)
            *new_epoch = atoi(PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return rc;
}
