/*
 * The operator API's internals: the per-request context, the route handlers, and the
 * helpers they share (field checks, database error mapping, JSON from queries, audit).
 * Event-loop thread only.
 */
#ifndef CP_API_H
#define CP_API_H

#include <stdbool.h>
#include <stdint.h>

#include "cm_http.h"
#include "cp.h"

typedef struct cp_req {
    cp_t *cp;
    h2o_req_t *req;
    cm_arena_t arena; /* everything request-scoped; freed after the handler */
    const char *seg[CM_HTTP_SEGMENTS_MAX];
    int nseg;
    char actor[64];      /* the operator credential's (or component's) name, for the audit */
    char scope_pool[24]; /* a broker's credential: the id of its pool, the only one it sees */
    int status;          /* what was sent, for metrics */
} cp_req_t;

/** Sends a JSON body with `status`. */
void cp_api_reply(cp_req_t *r, int status, const cm_sbuf_t *body);

/** Sends 204 No Content. */
void cp_api_no_content(cp_req_t *r);

/**
 * The shared shape of deleting one thing a tenant owns, named by the path's last segment:
 * looks up the tenant (seg[2]), runs `sql` with $1 = tenant id and $2 = seg[4] in a
 * transaction, answers 404 "no <kind> ..." when no row went, else records `action` in the
 * audit log and answers 204.
 */
void cp_api_delete_owned(cp_req_t *r, const char *kind, const char *sql, const char *action);

/** Sends an error (error_code = status) and remembers its status. */
void cp_api_error(cp_req_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Refined error codes, status * 100 + n, for the errors a program must tell apart (the
 * brokers map them to Kafka error codes). Every other error's code is its HTTP status.
 * Listed in docs/api/operator.md.
 */
enum {
    CP_ERR_TOPIC_NAME = 40001,         /* the topic name breaks the naming rules */
    CP_ERR_TOPIC_CONFIG = 40002,       /* an unknown topic config, or a value out of range */
    CP_ERR_PARTITIONS = 40003,         /* a partition count that is out of range or not larger */
    CP_ERR_REPLICATION = 40004,        /* a replication factor out of range */
    CP_ERR_TENANT_SUSPENDED = 40901,   /* the tenant is suspended: its topics cannot change */
    CP_ERR_QUOTA = 42201,              /* the tenant's partition quota would be exceeded */
    CP_ERR_NOT_ENOUGH_BROKERS = 42202, /* fewer brokers up than the replication factor */
    CP_ERR_POOL_FULL = 42203,          /* the pool's brokers up hold their partitions_total_max */
};

/** Sends an error with a refined `code` (see above). */
void cp_api_error_code(cp_req_t *r, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/**
 * Answers a failed statement: 503 (with Retry-After) when the database is unreachable,
 * 409 on a uniqueness conflict, 500 otherwise (logged). `what` names the operation.
 */
void cp_api_db_error(cp_req_t *r, const PGresult *res, const char *what);

/**
 * Runs a query whose first row's first column is a JSON document and sends it with
 * `status`; sends 404 "`not_found`" when there is no row (or NULL), and maps failures.
 */
void cp_api_send_query(cp_req_t *r, int status, const char *not_found, const char *sql,
                       int n_params, const char *const *params);

/** Records a change in the audit log, inside the caller's transaction. */
bool cp_api_audit(cp_req_t *r, const char *action, const char *tenant_id, const char *target,
                  const char *details_json);

/** Runs `sql` in the open transaction; on failure answers, rolls back, returns NULL. */
PGresult *cp_api_tx_exec(cp_req_t *r, const char *what, const char *sql, int n_params,
                         const char *const *params);

/** COMMIT; on failure answers and returns false. */
bool cp_api_commit(cp_req_t *r, const char *what);

/** BEGIN; on failure answers and returns false. */
bool cp_api_begin(cp_req_t *r);

/** The parsed JSON object body, or NULL after answering 400/413/415. */
const cm_json_t *cp_api_body(cp_req_t *r, const char *const *allowed_fields);

/**
 * Reads an optional/required string field. Returns true (with *out NULL when absent and
 * optional) or false after answering 400.
 */
bool cp_api_str(cp_req_t *r, const cm_json_t *o, const char *key, bool required, const char **out);

/** Reads an integer field within [lo, hi]; *present says whether it was there. */
bool cp_api_int(cp_req_t *r, const cm_json_t *o, const char *key, bool required, int64_t lo,
                int64_t hi, int64_t *out, bool *present);

/** cp_api_int answering with a refined error `code`. */
bool cp_api_int_code(cp_req_t *r, const cm_json_t *o, const char *key, bool required, int64_t lo,
                     int64_t hi, int code, int64_t *out);

/** Reads an optional boolean field (false when absent). False after answering 400. */
bool cp_api_bool(cp_req_t *r, const cm_json_t *o, const char *key, bool *out);

/**
 * Finds a tenant by name: its id (uuid text) and pool id. Answers 404 (or the database
 * error) and returns false when it does not exist.
 */
bool cp_api_tenant(cp_req_t *r, const char *name, char id[40], char pool_id[24]);

/** cp_api_tenant, answering 409 (CP_ERR_TENANT_SUSPENDED) for a suspended tenant. */
bool cp_api_tenant_active(cp_req_t *r, const char *name, char id[40], char pool_id[24]);

/** Name rules. Each writes why a name is refused into `why`. */
bool cp_name_tenant_ok(const char *s, char *why, size_t cap); /* also pools */
bool cp_name_topic_ok(const char *s, size_t tenant_len, char *why, size_t cap);
bool cp_name_principal_ok(const char *s, char *why, size_t cap);

/* Route handlers, one file per resource family. */
void cp_api_tenant_create(cp_req_t *r);
void cp_api_tenant_list(cp_req_t *r);
void cp_api_tenant_get(cp_req_t *r);
void cp_api_tenant_update(cp_req_t *r);
void cp_api_tenant_delete(cp_req_t *r);
void cp_api_sa_create(cp_req_t *r);
void cp_api_sa_list(cp_req_t *r);
void cp_api_sa_delete(cp_req_t *r);
void cp_api_key_create(cp_req_t *r);
void cp_api_key_list(cp_req_t *r);
void cp_api_key_revoke(cp_req_t *r);
void cp_api_issuer_create(cp_req_t *r);
void cp_api_issuer_list(cp_req_t *r);
void cp_api_issuer_delete(cp_req_t *r);
void cp_api_quota_get(cp_req_t *r);
void cp_api_quota_set(cp_req_t *r);

void cp_api_topic_create(cp_req_t *r);
void cp_api_topic_list(cp_req_t *r);
void cp_api_topic_get(cp_req_t *r);
void cp_api_topic_update(cp_req_t *r);
void cp_api_topic_delete(cp_req_t *r);
void cp_api_partitions_add(cp_req_t *r);
void cp_api_leader_set(cp_req_t *r);

void cp_api_acl_create(cp_req_t *r);
void cp_api_acl_list(cp_req_t *r);
void cp_api_acl_delete(cp_req_t *r);

void cp_api_pool_create(cp_req_t *r);
void cp_api_pool_list(cp_req_t *r);
void cp_api_pool_get(cp_req_t *r);
void cp_api_pool_update(cp_req_t *r);
void cp_api_pool_delete(cp_req_t *r);
void cp_api_broker_list(cp_req_t *r);
void cp_api_broker_get(cp_req_t *r);
void cp_api_broker_delete(cp_req_t *r);
void cp_api_audit_list(cp_req_t *r);
void cp_api_component_create(cp_req_t *r);
void cp_api_component_list(cp_req_t *r);
void cp_api_component_revoke(cp_req_t *r);

#endif
