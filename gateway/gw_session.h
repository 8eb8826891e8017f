/*
 * The tenant-session core: the steps every protocol of the gateway takes for every call,
 * in one place so that no protocol has its own copy.
 *
 *   1. authenticate: an API key and secret (HTTP Basic, SASL/PLAIN) or a JWT (Bearer,
 *      SASL/OAUTHBEARER) becomes a tenant and a principal; failures are rate limited per
 *      source address before any key is looked up;
 *   2. authorize: the tenant's ACLs for the principal (deny wins; admin principals may do
 *      anything inside their tenant);
 *   3. charge: the tenant's token buckets (requests/s, produce and consume bytes/s); over
 *      quota is an answer to wait, never a silent drop;
 *   4. meter: bytes and records in and out per tenant.
 *
 * Routing to the partition leaders is gw_produce.h's (and each consume's) own, from the
 * snapshot, over gw_kafka.h's connections.
 *
 * Worker threads; the auth cache is per worker, the failure limiter and quotas are shared.
 */
#ifndef GW_SESSION_H
#define GW_SESSION_H

#include "gw.h"

typedef enum gw_cred_kind { GW_CRED_NONE, GW_CRED_KEY, GW_CRED_JWT } gw_cred_kind_t;

typedef struct gw_cred {
    gw_cred_kind_t kind;
    const char *key_id; /* GW_CRED_KEY */
    const char *secret;
    const char *token; /* GW_CRED_JWT */
    size_t token_len;
} gw_cred_t;

typedef struct gw_session {
    const gw_snap_t *snap; /* the snapshot the identity came from */
    const gw_tenant_t *tenant;
    char principal[65];
    bool admin;
} gw_session_t;

typedef enum gw_auth {
    GW_AUTH_OK = 0,
    GW_AUTH_MISSING,   /* no credentials: 401 */
    GW_AUTH_INVALID,   /* wrong, unknown, revoked, expired ...: 401 */
    GW_AUTH_LIMITED,   /* too many failures from this source: 429 */
    GW_AUTH_SUSPENDED, /* the tenant is suspended: 403 */
} gw_auth_t;

/**
 * Authenticates `c` from `source` (the peer address) against snapshot `s`. On GW_AUTH_OK
 * fills `out`. Otherwise `why` says what was wrong, in words safe to show the caller (no
 * other tenant's names), and *retry_after_s is set for GW_AUTH_LIMITED.
 */
gw_auth_t gw_session_auth(gw_worker_t *w, const gw_snap_t *s, const gw_cred_t *c,
                          const char *source, gw_session_t *out, int *retry_after_s, char *why,
                          size_t cap);

/**
 * Reads an Authorization value ("Basic <base64 key:secret>" or "Bearer <JWT>"; NULL: none)
 * into `c`, with strings in `a`. False when it is there but malformed.
 */
bool gw_session_cred(const char *header, cm_arena_t *a, gw_cred_t *c);

/** The session's topics it may DESCRIBE, by name, in `a`; NULL when out of memory. */
const gw_topic_t **gw_session_topics(const gw_session_t *ss, cm_arena_t *a, size_t *n);

/** True when `s` is a principal name: 1 to 64 of a-z, A-Z, 0-9, '.', '_' and '-'. */
bool gw_session_principal_ok(const char *s);

/** True when the session's principal may do `op` on the resource. */
bool gw_session_allowed(const gw_session_t *ss, cm_acl_rtype_t rt, const char *name,
                        cm_acl_op_t op);

typedef enum gw_charge { GW_CHARGE_REQUEST, GW_CHARGE_PRODUCE, GW_CHARGE_CONSUME } gw_charge_t;

/**
 * Charges `cost` (1 for a request, bytes for produce and consume) to the tenant's bucket.
 * Returns 0 when taken, else the whole seconds to wait (for Retry-After); nothing is taken
 * then.
 */
int gw_session_charge(const gw_session_t *ss, gw_charge_t what, double cost);

/** The same, in microseconds to wait (streams wait rather than fail). */
int64_t gw_session_charge_us(const gw_session_t *ss, gw_charge_t what, double cost);

/**
 * The storage quota, checked before a produce: when the bytes the tenant's replicas hold
 * (as brokers last measured them, every segment of every replica) reach its storage_bytes,
 * writes why into `msg` and returns the seconds after which to look again (retention may
 * have freed room by then); else 0.
 */
int gw_session_storage_full(const gw_session_t *ss, int64_t poll_ms, char *msg, size_t cap);

/**
 * Charges bytes already served (a consume's answer): the bucket may go into debt, so the
 * next call waits.
 */
void gw_session_charge_after(const gw_session_t *ss, gw_charge_t what, double cost);

/**
 * Counts a new client connection of the session's tenant against its connection cap
 * (quotas.connections). Returns false, counting nothing, when the tenant is at its cap.
 */
bool gw_session_conn_open(const gw_session_t *ss);

/** Uncounts a connection counted by gw_session_conn_open. */
void gw_session_conn_close(gw_tenant_rt_t *rt);

/** Meters a produce or a consume. */
void gw_session_meter(const gw_session_t *ss, bool in, uint64_t bytes, uint64_t records);

/** Frees a worker's auth cache. */
void gw_session_cache_free(gw_worker_t *w);

#endif
