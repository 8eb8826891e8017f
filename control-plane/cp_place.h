/*
 * Partition placement and leadership: pure functions (no database), so the rules can be
 * tested alone, and the compare-and-set that is the only way a leader changes.
 */
#ifndef CP_PLACE_H
#define CP_PLACE_H

#include <stdbool.h>
#include <stdint.h>

#include "cm_pg.h"

typedef struct cp_place_broker {
    int32_t id;
    char rack[65];
    int64_t replicas; /* replicas it holds now */
    int64_t leaders;  /* partitions it leads now */
    int64_t capacity; /* replicas it can hold (its partitions_total_max); 0: no limit known */
} cp_place_broker_t;

/**
 * Chooses `rf` distinct brokers for each of `n_parts` new partitions, writing them to
 * out[i * rf + j], the intended leader first. Each replica goes to the broker holding the
 * fewest replicas so far (ties: the lowest id), preferring racks the partition does not
 * use yet; the leader is the chosen broker leading the fewest partitions. `brokers`' counts
 * are updated as it goes. A broker holding its `capacity` takes no more. Returns 0, -1 when
 * there are fewer than `rf` brokers, -2 when they have no room for every replica; a
 * refusal leaves the brokers' counts as they were.
 */
int cp_place(cp_place_broker_t *brokers, int n_brokers, int rf, int n_parts, int32_t *out);

/**
 * Makes `leader` the leader of a partition if and only if its leader epoch is still
 * `expected_epoch` and `leader` is in its in-sync replicas (or is -1, for no leader).
 * The epoch is incremented. Returns 1 when this call won (new epoch in *new_epoch), 0 when
 * the epoch had moved on or the replica is not in sync, -1 on a database error (pg->err).
 * Safe against any number of concurrent callers: exactly one wins per epoch. With
 * `drop_old` (an election because the leader is down), the old leader leaves the ISR when
 * another replica takes over. isr_version moves with every change.
 */
int cp_partition_cas_leader(cm_pg_t *pg, const char *topic_id, int32_t partition, int32_t leader,
                            int32_t expected_epoch, bool drop_old, int32_t *new_epoch);

#endif
