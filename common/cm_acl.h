/*
 * Kafka-style ACLs and the one decision over them, shared by every place that evaluates,
 * filters or lists them (the gateway's session core and its ACL routes), so that a
 * wildcard or a prefix means the same thing everywhere.
 *
 * What a rule matches, as in Kafka:
 *   - principal "*" matches every principal; any other principal matches itself only;
 *   - a LITERAL resource "*" matches every resource of its type; any other LITERAL
 *     resource matches that exact name;
 *   - a PREFIXED resource matches every name that starts with it ("*" is an ordinary
 *     character there, as in Kafka).
 * The decision: a matching DENY wins over any ALLOW; without a matching ALLOW the answer
 * is no. Operations imply each other as in Kafka (describe comes with read, write, delete
 * and alter; describe_configs with alter_configs), and a deny of an implied operation also
 * denies what implies it (deny describe denies read).
 *
 * Pure functions over caller-owned arrays: no allocation, no locks, any thread.
 */
#ifndef CM_ACL_H
#define CM_ACL_H

#include <stdbool.h>

/** Resource types, in the control plane's order of names. */
typedef enum cm_acl_rtype {
    CM_ACL_RT_TOPIC,
    CM_ACL_RT_GROUP,
    CM_ACL_RT_CLUSTER,
    CM_ACL_RT_TXN,
    CM_ACL_RT_N
} cm_acl_rtype_t;

/** Operations, in the control plane's order of names. */
typedef enum cm_acl_op {
    CM_ACL_OP_ALL,
    CM_ACL_OP_READ,
    CM_ACL_OP_WRITE,
    CM_ACL_OP_CREATE,
    CM_ACL_OP_DELETE,
    CM_ACL_OP_ALTER,
    CM_ACL_OP_DESCRIBE,
    CM_ACL_OP_DESCRIBE_CONFIGS,
    CM_ACL_OP_ALTER_CONFIGS,
    CM_ACL_OP_N
} cm_acl_op_t;

/** One rule. Strings are borrowed from whoever owns the rule set (a snapshot's arena). */
typedef struct cm_acl {
    const char *id;        /* the control plane's id (uuid text) */
    const char *principal; /* a principal name, or "*" */
    cm_acl_rtype_t rtype;
    bool prefixed;        /* PREFIXED, else LITERAL */
    const char *resource; /* a name, a prefix, or the LITERAL wildcard "*" */
    cm_acl_op_t op;
    bool allow; /* ALLOW, else DENY */
} cm_acl_t;

/** The control plane's lower-case names ("topic", "describe_configs"); "unknown" if none. */
const char *cm_acl_rtype_name(cm_acl_rtype_t t);
const char *cm_acl_op_name(cm_acl_op_t op);

/** Parses those names; -1 when unknown. */
int cm_acl_rtype_parse(const char *s);
int cm_acl_op_parse(const char *s);

/** Does a rule on `have` grant `want`? (Kafka's implications, see above.) */
bool cm_acl_op_covers(cm_acl_op_t have, cm_acl_op_t want);

/** Does rule `a` name the resource `name`, by its pattern (wildcard, literal, prefix)? */
bool cm_acl_resource_matches(const cm_acl_t *a, const char *name);

/** Does rule `a` apply to `principal` on (`rt`, `name`), whatever its operation? */
bool cm_acl_applies(const cm_acl_t *a, const char *principal, cm_acl_rtype_t rt, const char *name);

/**
 * The decision for `principal` doing `op` on (`rt`, `name`) under the `n` rules `v`:
 * true only when an ALLOW covers it and no DENY does.
 */
bool cm_acl_allowed(const cm_acl_t *v, int n, const char *principal, cm_acl_rtype_t rt,
                    const char *name, cm_acl_op_t op);

#endif
