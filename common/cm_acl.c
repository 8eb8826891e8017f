#include "cm_acl.h"

#include <string.h>

static const char *const cm_acl__ops[CM_ACL_OP_N] = {
    "all",           "read", "write", "create", "delete", "alter", "describe", "describe_configs",
    "alter_configs",
};
static const char *const cm_acl__rtypes[CM_ACL_RT_N] = { "topic", "group", "cluster",
                                                         "transactional_id" };

const char *cm_acl_op_name(cm_acl_op_t op)
{
    return (unsigned)op < CM_ACL_OP_N ? cm_acl__ops[op] : "unknown";
}

int cm_acl_op_parse(const char *s)
{
    for (int i = 0; i < CM_ACL_OP_N; i++)
        if (strcmp(s, cm_acl__ops[i]) == 0)
            return i;
    return -1;
}

const char *cm_acl_rtype_name(cm_acl_rtype_t t)
{
    return (unsigned)t < CM_ACL_RT_N ? cm_acl__rtypes[t] : "unknown";
}

int cm_acl_rtype_parse(const char *s)
{
    for (int i = 0; i < CM_ACL_RT_N; i++)
        if (strcmp(s, cm_acl__rtypes[i]) == 0)
            return i;
    return -1;
}

bool cm_acl_op_covers(cm_acl_op_t have, cm_acl_op_t want)
{
    if (have == CM_ACL_OP_ALL || have == want)
        return true;
    if (want == CM_ACL_OP_DESCRIBE)
        return have == CM_ACL_OP_READ || have == CM_ACL_OP_WRITE || have == CM_ACL_OP_DELETE ||
               have == CM_ACL_OP_ALTER;
    if (want == CM_ACL_OP_DESCRIBE_CONFIGS)
        return have == CM_ACL_OP_ALTER_CONFIGS;
    return false;
}

bool cm_acl_resource_matches(const cm_acl_t *a, const char *name)
{
    if (a->prefixed)
        return strncmp(name, a->resource, strlen(a->resource)) == 0;
    return strcmp(a->resource, "*") == 0 || strcmp(name, a->resource) == 0;
}

bool cm_acl_applies(const cm_acl_t *a, const char *principal, cm_acl_rtype_t rt, const char *name)
{
    return a->rtype == rt &&
           (strcmp(a->principal, "*") == 0 || strcmp(a->principal, principal) == 0) &&
           cm_acl_resource_matches(a, name);
}

bool cm_acl_allowed(const cm_acl_t *v, int n, const char *principal, cm_acl_rtype_t rt,
                    const char *name, cm_acl_op_t op)
{
    bool allowed = false;
    for (int i = 0; i < n; i++) {
        const cm_acl_t *a = &v[i];
        if (!cm_acl_applies(a, principal, rt, name))
            continue;
        if (!a->allow && (cm_acl_op_covers(a->op, op) || cm_acl_op_covers(op, a->op)))
            return false;
        if (a->allow && cm_acl_op_covers(a->op, op))
            allowed = true;
    }
    return allowed;
}
