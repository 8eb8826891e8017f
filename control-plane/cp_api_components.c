/*
 * The service's own components and their credentials (docs/proposals/internal-listener-auth.md):
 * gateways, brokers and tools. A credential is "<name>.<43 characters of base64url>", shown
 * once; the control plane keeps a SCRAM-SHA-256 verifier (for brokers' internal listeners)
 * and a cm_secret hash (for this API). A broker's credential is scoped to its pool
 * (cp_api_caller, cp_api.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cm_json.h"
#include "cm_scram.h"
#include "cm_secret.h"
#include "cp_api.h"

#define CP_COMPONENT__VIEW                                                                         \
    "json_build_object('name', c.name, 'kind', c.kind, 'pool', p.name, 'broker_id',"               \
    " c.broker_id, 'created_at', c.created_at, 'revoked_at', c.revoked_at)"

static bool cp_component__name_ok(const char *s)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= 63 && s[0] >= 'a' && s[0] <= 'z';
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-';
    return ok;
}

void cp_api_component_create(cp_req_t *r)
{
    static const char *const fields[] = { "name", "kind", "pool", "broker_id", NULL };
    const cm_json_t *o = cp_api_body(r, fields);
    const char *name, *kind, *pool = NULL;
    int64_t broker_id = -1;
    if (o == NULL || !cp_api_str(r, o, "name", true, &name) ||
        !cp_api_str(r, o, "kind", true, &kind) || !cp_api_str(r, o, "pool", false, &pool) ||
        !cp_api_int(r, o, "broker_id", false, 0, 1000000, &broker_id, NULL))
        return;
    if (!cp_component__name_ok(name)) {
        cp_api_error(r, 400,
                     "\"%.64s\" is not a valid component name: use 1 to 63 of a-z, 0-9 and '-', "
                     "starting with a letter",
                     name);
        return;
    }
    bool broker = strcmp(kind, "broker") == 0;
    if (!broker && strcmp(kind, "gateway") != 0 && strcmp(kind, "tool") != 0) {
        cp_api_error(r, 400, "kind must be \"gateway\", \"broker\" or \"tool\"");
        return;
    }
    if (broker != (pool != NULL && broker_id >= 0)) {
        cp_api_error(r, 400,
                     broker ? "a broker's credential needs its \"pool\" and \"broker_id\""
                            : "only a broker's credential has a \"pool\" and a \"broker_id\"");
        return;
    }
    /* The credential: the name, a dot, 256 random bits. */
    char secret[64], credential[160], hash[CM_SECRET_HASH_MAX], verifier[256], bid[24];
    cm_secret_random_token(secret, sizeof(secret), 32);
    snprintf(credential, sizeof(credential), "%s.%s", name, secret);
    cm_secret_hash(credential, hash);
    cm_scram_verifier_t v;
    cm_scram_verifier_make(credential, NULL, 0, CM_SCRAM_ITERATIONS_MIN, &v);
    if (cm_scram_verifier_format(&v, verifier, sizeof(verifier)) < 0) {
        cp_api_error(r, 500, "cannot make the verifier");
        return;
    }
    snprintf(bid, sizeof(bid), "%lld", (long long)broker_id);
    if (!cp_api_begin(r))
        return;
    const char *p[] = { name, kind, pool, broker ? bid : NULL, verifier, hash };
    PGresult *res = cp_api_tx_exec(
        r, "component creation",
        "INSERT INTO components (name, kind, pool_id, broker_id, scram_verifier, token_hash)"
        " SELECT $1, $2, (SELECT id FROM broker_pools WHERE name = $3), $4::integer, $5, $6"
        " WHERE $3::text IS NULL OR EXISTS (SELECT 1 FROM broker_pools WHERE name = $3)"
        " RETURNING to_json(created_at) #>> '{}'",
        6, p);
    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        PQclear(res);
        cm_pg_rollback(&r->cp->pg);
        cp_api_error(r, 422, "no pool named \"%.64s\"", pool);
        return;
    }
    cm_sbuf_t out;
    cm_sbuf_init(&out);
    cm_jw_t w;
    cm_jw_init(&w, &out);
    cm_jw_obj(&w);
    cm_jw_kstr(&w, "name", name);
    cm_jw_kstr(&w, "kind", kind);
    if (broker) {
        cm_jw_kstr(&w, "pool", pool);
        cm_jw_kint(&w, "broker_id", broker_id);
    }
    cm_jw_kstr(&w, "credential", credential);
    cm_jw_kstr(&w, "created_at", PQgetvalue(res, 0, 0));
    cm_jw_kstr(&w, "note", "the credential is shown only this once; store it now");
    cm_jw_obj_end(&w);
    PQclear(res);
    OPENSSL_cleanse(credential, sizeof(credential));
    OPENSSL_cleanse(secret, sizeof(secret));
    char details[64];
    snprintf(details, sizeof(details), "{\"kind\": \"%s\"}", kind); /* one of three words */
    if (cp_api_audit(r, "component.create", NULL, name, details) &&
        cp_api_commit(r, "component creation"))
        cp_api_reply(r, 201, &out);
    cm_sbuf_free(&out);
}

void cp_api_component_list(cp_req_t *r)
{
    cp_api_send_query(r, 200, "no components",
                      "SELECT json_build_object('data', coalesce(json_agg(" CP_COMPONENT__VIEW
                      " ORDER BY c.name), '[]'::json)) FROM components c"
                      " LEFT JOIN broker_pools p ON p.id = c.pool_id",
                      0, NULL);
}

/* Revokes: the credential stops working at once on this API (it is looked up on every
 * call); the row stays, for the audit log's names. */
void cp_api_component_revoke(cp_req_t *r)
{
    if (!cp_api_begin(r))
        return;
    const char *p[] = { r->seg[2] };
    PGresult *res = cp_api_tx_exec(r, "component revocation",
                                   "UPDATE components SET revoked_at = now() WHERE name = $1"
                                   " AND revoked_at IS NULL RETURNING name",
                                   1, p);
    if (res == NULL)
        return;
    bool found = PQntuples(res) == 1;
    PQclear(res);
    if (!found) {
        cm_pg_rollback(&r->cp->pg);
        cp_api_error(r, 404, "no component named \"%.64s\" that is not revoked", r->seg[2]);
        return;
    }
    if (cp_api_audit(r, "component.revoke", NULL, r->seg[2], NULL) &&
        cp_api_commit(r, "component revocation"))
        cp_api_no_content(r);
}
