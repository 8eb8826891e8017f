/*
 * What the consumer-group handlers share (bk_groups.c: membership, listing and the
 * coordinator's life; bk_groups_offsets.c: OffsetFetch and OffsetCommit). Loop thread.
 */
#ifndef BK_GROUPS_INTERNAL_H
#define BK_GROUPS_INTERNAL_H

#include <stdint.h>

#include "bk_broker.h"
#include "bk_dispatch.h"
#include "cm_kbuf.h"

/** A C string copy of `s` in the response's arena ("" for null). */
const char *bk_groups_str(bk_req_t *req, cm_kstr_t s);

/**
 * NONE when this broker serves `group` now: NOT_COORDINATOR when another broker
 * coordinates it or the coordinator has stopped, COORDINATOR_LOAD_IN_PROGRESS while a
 * managed broker has no cluster snapshot yet.
 */
int16_t bk_groups_serve(const bk_broker_t *b, cm_kstr_t group);

/** A moment when no commit is in flight: the offsets log may compact, offsets may expire. */
void bk_groups_housekeep(bk_broker_t *b);

#endif
