/*
 * Tenants and what belongs to them besides topics: service accounts, API keys, JWT
 * issuers and quotas. Every change runs in one transaction with its audit record.
 */
#include <ctype.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

#include "cm_secret.h"
#include "cp_api.h"

#define CP_TENANT__FROM " FROM tenants t JOIN broker_pools p ON p.id = t.pool_id"

#define CP_TENANT__VIEW                                                                            \
    "SELECT json_build_object('id', t.id, 'name', t.name, 'plan', t.plan, 'state', t.state,"       \
    " 'pool', p.name, 'created_at', t.created_at, 'updated_at', t.updated_at,"                     \
    " 'topics', (SELECT count(*) FROM topics WHERE tenant_id = t.id),"                             \
    " 'partitions', (SELECT coalesce(sum(partitions), 0) FROM topics WHERE tenant_id = "           \
    "t.id))" CP_TENANT__FROM

/* Plan names follow the schema's rule; checked here so that a bad one is a 400. */
static bool cp_tenant__plan_ok(cp_req_t *r, const char *plan)
{
    size_t n = strlen(plan);
    bool ok = n >= 1 && n <= 40;
    for (size_t i = 0; ok && i < n; i++)
        ok = (plan[i] >= 'a' && plan[i] <= 'z') || (plan[i] >= '0' && plan[i] <= '9') ||
             plan[i] == '_' || plan[i] == '-';
    if (!ok)
        cp_api_error(r, 400, "plan must be 1 to 40 of a-z, 0-9, '_' and '-'");
    return ok;
}

static void cp_tenant__send(cp_req_t *r, int status, const char *name)
{
    const char *p[] = { name };
    cp_api_send_query(r, status, "no such tenant", CP_TENANT__VIEW " WHERE t.name = $1", 1, p);
}

void cp_api_tenant_create(cp_req_t *r)
{
    static const char *const fields[] = { "name", "plan", "pool", NULL };
    const cm_json_t *o = cp_api_body(r, fields);
    const char *name, *plan, *pool;
    char why[256];
    if (o == NULL || !cp_api_str(r, o, "name", true, &name) ||
        !cp_api_str(r, o, "plan", false, &plan) || !cp_api_str(r, o, "pool", false, &pool))
        return;
    if (!cp_name_tenant_ok(name, why, sizeof(why))) {
        cp_api_error(r, 400, "%s", why);
        return;
    }
    if (plan == NULL)
        plan = "standard";
    if (!cp_tenant__plan_ok(r, plan))
        return;
    if (pool == NULL)
        pool = r->cp->cfg.default_pool;
    if (!cp_api_begin(r))
        return;
    const char *pp[] = { pool };
    PGresult *res =
        cp_api_tx_exec(r, "pool lookup", "SELECT id FROM broker_pools WHERE name = $1", 1, pp);
    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        PQclear(res);
        cm_pg_rollback(&r->cp->pg);
        cp_api_error(r, 422, "no broker pool named \"%.64s\"; create it first (POST /v1/pools)",
                     pool);
        return;
    }
    char pool_id[24];
    snprintf(pool_id, sizeof(pool_id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    const char *tp[] = { name, plan, pool_id };
    res = cp_api_tx_exec(r, "tenant creation",
                         "INSERT INTO tenants (name, plan, pool_id) VALUES ($1, $2, $3)"
                         " RETURNING id",
                         3, tp);
    if (res == NULL)
        return;
    char id[40];
    snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    const char *ip[] = { id };
    /* Every tenant starts with an admin service account that its first keys belong to. */
    if ((res = cp_api_tx_exec(r, "owner creation",
                              "INSERT INTO principals (tenant_id, name, is_admin, description)"
                              " VALUES ($1, 'owner', true, 'created with the tenant')",
                              1, ip)) == NULL)
        return;
    PQclear(res);
    if ((res = cp_api_tx_exec(r, "quota creation", "INSERT INTO quotas (tenant_id) VALUES ($1)", 1,
                              ip)) == NULL)
        return;
    PQclear(res);
    if (!cp_api_audit(r, "tenant.create", id, name, NULL) || !cp_api_commit(r, "tenant creation"))
        return;
    cp_tenant__send(r, 201, name);
}

void cp_api_tenant_list(cp_req_t *r)
{
    char limit[24];
    snprintf(limit, sizeof(limit), "%lld", (long long)r->cp->cfg.list_max);
    const char *state = cm_http_query(r->req, &r->arena, "state");
    if (state != NULL && strcmp(state, "active") != 0 && strcmp(state, "suspended") != 0) {
        cp_api_error(r, 400, "state must be active or suspended");
        return;
    }
    const char *p[] = { limit, state };
    cp_api_send_query(r, 200, "no tenants",
                      "SELECT json_build_object('data', coalesce(json_agg(x.j ORDER BY x.name),"
                      " '[]'::json)) FROM (SELECT (" CP_TENANT__VIEW " WHERE t.id = u.id), u.name"
                      " FROM tenants u WHERE $2::text IS NULL OR u.state = $2"
                      " ORDER BY u.name LIMIT $1) x(j, name)",
                      2, p);
}

void cp_api_tenant_get(cp_req_t *r)
{
    cp_tenant__send(r, 200, r->seg[2]);
}

void cp_api_tenant_update(cp_req_t *r)
{
    static const char *const fields[] = { "state", "plan", NULL };
    const cm_json_t *o = cp_api_body(r, fields);
    const char *state, *plan;
    if (o == NULL || !cp_api_str(r, o, "state", false, &state) ||
        !cp_api_str(r, o, "plan", false, &plan))
        return;
    if (state != NULL && strcmp(state, "active") != 0 && strcmp(state, "suspended") != 0) {
        cp_api_error(r, 400, "state must be \"active\" or \"suspended\"");
        return;
    }
    if (plan != NULL && !cp_tenant__plan_ok(r, plan))
        return;
    char id[40];
    if (!cp_api_tenant(r, r->seg[2], id, NULL) || !cp_api_begin(r))
        return;
    const char *p[] = { id, state, plan };
    PGresult *res =
        cp_api_tx_exec(r, "tenant update",
                       "UPDATE tenants SET state = coalesce($2, state), plan = coalesce($3, plan),"
                       " updated_at = now() WHERE id = $1",
                       3, p);
    if (res == NULL)
        return;
    PQclear(res);
    cm_sbuf_t d;
    cm_sbuf_init(&d);
    cm_jw_t w;
    cm_jw_init(&w, &d);
    cm_jw_obj(&w);
    if (state != NULL)
        cm_jw_kstr(&w, "state", state);
    if (plan != NULL)
        cm_jw_kstr(&w, "plan", plan);
    cm_jw_obj_end(&w);
    bool ok = cp_api_audit(r,
                           state != NULL && strcmp(state, "suspended") == 0 ? "tenant.suspend"
                                                                            : "tenant.update",
                           id, r->seg[2], d.buf) &&
              cp_api_commit(r, "tenant update");
    cm_sbuf_free(&d);
    if (ok)
        cp_tenant__send(r, 200, r->seg[2]);
}

void cp_api_tenant_delete(cp_req_t *r)
{
    char id[40];
    if (!cp_api_tenant(r, r->seg[2], id, NULL) || !cp_api_begin(r))
        return;
    const char *p[] = { id };
    /* Locks the tenant row so that no topic can be created while we check. */
    PGresult *res =
        cp_api_tx_exec(r, "tenant deletion",
                       "SELECT (SELECT count(*) FROM topics WHERE tenant_id = t.id) FROM tenants t"
                       " WHERE t.id = $1 FOR UPDATE",
                       1, p);
    if (res == NULL)
        return;
    long topics = PQntuples(res) ? atol(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    if (topics > 0) {
        cm_pg_rollback(&r->cp->pg);
        cp_api_error(r, 409, "tenant \"%s\" still has %ld topic(s); delete them first", r->seg[2],
                     topics);
        return;
    }
    if ((res = cp_api_tx_exec(r, "tenant deletion", "DELETE FROM tenants WHERE id = $1", 1, p)) ==
        NULL)
        return;
    PQclear(res);
    if (!cp_api_audit(r, "tenant.delete", id, r->seg[2], NULL) ||
        !cp_api_commit(r, "tenant deletion"))
        return;
    cp_api_no_content(r);
}

/* ---- service accounts --------------------------------------------------------------- */

#define CP_SA__VIEW                                                                                \
    "json_build_object('name', s.name, 'kind', s.kind, 'admin', s.is_admin, 'description',"        \
    " s.description, 'created_at', s.created_at, 'api_keys',"                                      \
    " (SELECT count(*) FROM api_keys k WHERE k.principal_id = s.id AND k.state = 'active'))"

void cp_api_sa_create(cp_req_t *r)
{
    static const char *const fields[] = { "name", "description", "admin", NULL };
    const cm_json_t *o = cp_api_body(r, fields);
    const char *name, *desc;
    char id[40], why[256];
    if (o == NULL || !cp_api_str(r, o, "name", true, &name) ||
        !cp_api_str(r, o, "description", false, &desc))
        return;
    bool admin = false;
    const cm_json_t *a = cm_json_get(o, "admin");
    if (a != NULL && a->type != CM_JSON_BOOL) {
        cp_api_error(r, 400, "the field \"admin\" must be true or false");
        return;
    }
    admin = a != NULL && a->b;
    if (!cp_name_principal_ok(name, why, sizeof(why))) {
        cp_api_error(r, 400, "%s", why);
        return;
    }
    if (desc != NULL && strlen(desc) > 1024) {
        cp_api_error(r, 400, "the description is longer than 1024 bytes");
        return;
    }
    if (!cp_api_tenant(r, r->seg[2], id, NULL) || !cp_api_begin(r))
        return;
    const char *p[] = { id, name, admin ? "true" : "false", desc != NULL ? desc : "" };
    PGresult *res =
        cp_api_tx_exec(r, "service account creation",
                       "INSERT INTO principals AS s (tenant_id, name, is_admin, description)"
                       " VALUES ($1, $2, $3, $4)"
                       " RETURNING " CP_SA__VIEW,
                       4, p);
    if (res == NULL)
        return;
    cm_sbuf_t out;
    cm_sbuf_init(&out);
    cm_sbuf_printf(&out, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (cp_api_audit(r, "service_account.create", id, name, NULL) &&
        cp_api_commit(r, "service account creation"))
        cp_api_reply(r, 201, &out);
    cm_sbuf_free(&out);
}

void cp_api_sa_list(cp_req_t *r)
{
    char id[40];
    if (!cp_api_tenant(r, r->seg[2], id, NULL))
        return;
    const char *p[] = { id };
    cp_api_send_query(r, 200, "no tenant",
                      "SELECT json_build_object('data', coalesce(json_agg(" CP_SA__VIEW
                      " ORDER BY s.name), '[]'::json)) FROM principals s WHERE s.tenant_id = $1",
                      1, p);
}

void cp_api_sa_delete(cp_req_t *r)
{
    /* Its keys go with it (ON DELETE CASCADE); its ACLs name it by text and stay until
     * removed, so that re-creating the account does not silently change access. */
    cp_api_delete_owned(r, "service account",
                        "DELETE FROM principals WHERE tenant_id = $1 AND name = $2",
                        "service_account.delete");
}

/* ---- API keys ------------------------------------------------------------------------ */

#define CP_KEY__ID_CHARS     16
#define CP_KEY__SECRET_BYTES 48 /* 64 characters of base64url */
#define CP_KEY__PREFIX_CHARS 4

#define CP_KEY__VIEW                                                                               \
    "json_build_object('key', k.key_id, 'service_account', s.name, 'secret_prefix',"               \
    " k.secret_prefix, 'description', k.description, 'state', k.state, 'created_at',"              \
    " k.created_at, 'revoked_at', k.revoked_at)"

void cp_api_key_create(cp_req_t *r)
{
    static const char *const fields[] = { "service_account", "description", NULL };
    const cm_json_t *o = cp_api_body(r, fields);
    const char *sa, *desc;
    char id[40];
    if (o == NULL || !cp_api_str(r, o, "service_account", false, &sa) ||
        !cp_api_str(r, o, "description", false, &desc))
        return;
    if (desc != NULL && strlen(desc) > 1024) {
        cp_api_error(r, 400, "the description is longer than 1024 bytes");
        return;
    }
    if (sa == NULL)
        sa = "owner";
    if (!cp_api_tenant(r, r->seg[2], id, NULL))
        return;
    char key_id[CP_KEY__ID_CHARS + 1], secret[96], hash[CM_SECRET_HASH_MAX], prefix[8];
    cm_secret_random_id(key_id, CP_KEY__ID_CHARS);
    cm_secret_random_token(secret, sizeof(secret), CP_KEY__SECRET_BYTES);
    cm_secret_hash(secret, hash);
    snprintf(prefix, sizeof(prefix), "%.*s", CP_KEY__PREFIX_CHARS, secret);
    if (!cp_api_begin(r))
        return;
    const char *p[] = { key_id, id, sa, hash, prefix, desc != NULL ? desc : "" };
    PGresult *res = cp_api_tx_exec(
        r, "API key creation",
        "INSERT INTO api_keys (key_id, tenant_id, principal_id, secret_hash, secret_prefix,"
        " description) SELECT $1, $2, s.id, $4, $5, $6 FROM principals s"
        " WHERE s.tenant_id = $2 AND s.name = $3 RETURNING to_json(created_at) #>> '{}'",
        6, p);
    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        PQclear(res);
        cm_pg_rollback(&r->cp->pg);
        cp_api_error(r, 422, "no service account \"%.64s\" in tenant \"%s\"", sa, r->seg[2]);
        return;
    }
    cm_sbuf_t out;
    cm_sbuf_init(&out);
    cm_jw_t w;
    cm_jw_init(&w, &out);
    cm_jw_obj(&w);
    cm_jw_kstr(&w, "key", key_id);
    cm_jw_kstr(&w, "secret", secret);
    cm_jw_kstr(&w, "tenant", r->seg[2]);
    cm_jw_kstr(&w, "service_account", sa);
    cm_jw_kstr(&w, "description", desc != NULL ? desc : "");
    cm_jw_kstr(&w, "state", "active");
    cm_jw_kstr(&w, "created_at", PQgetvalue(res, 0, 0));
    cm_jw_kstr(&w, "note", "the secret is shown only this once; store it now");
    cm_jw_obj_end(&w);
    PQclear(res);
    char details[128];
    snprintf(details, sizeof(details), "{\"service_account\": \"%s\"}", sa);
    /* `sa` was matched against a row, so it is a valid principal name: safe in JSON. */
    if (cp_api_audit(r, "api_key.create", id, key_id, details) &&
        cp_api_commit(r, "API key creation"))
        cp_api_reply(r, 201, &out);
    cm_sbuf_free(&out);
}

void cp_api_key_list(cp_req_t *r)
{
    char id[40];
    if (!cp_api_tenant(r, r->seg[2], id, NULL))
        return;
    const char *p[] = { id };
    cp_api_send_query(r, 200, "no tenant",
                      "SELECT json_build_object('data', coalesce(json_agg(" CP_KEY__VIEW
                      " ORDER BY k.created_at, k.key_id), '[]'::json)) FROM api_keys k"
                      " JOIN principals s ON s.id = k.principal_id WHERE k.tenant_id = $1",
                      1, p);
}

void cp_api_key_revoke(cp_req_t *r)
{
    char id[40];
    if (!cp_api_tenant(r, r->seg[2], id, NULL) || !cp_api_begin(r))
        return;
    const char *p[] = { id, r->seg[4] };
    PGresult *res = cp_api_tx_exec(
        r, "API key revocation",
        "UPDATE api_keys k SET state = 'revoked', revoked_at = coalesce(revoked_at, now())"
        " FROM principals s WHERE s.id = k.principal_id AND k.tenant_id = $1 AND k.key_id = $2"
        " RETURNING " CP_KEY__VIEW,
        2, p);
    if (res == NULL)
        return;
    if (PQntuples(res) == 0) {
        PQclear(res);
        cm_pg_rollback(&r->cp->pg);
        cp_api_error(r, 404, "no API key \"%.32s\" in tenant \"%s\"", r->seg[4], r->seg[2]);
        return;
    }
    cm_sbuf_t out;
    cm_sbuf_init(&out);
    cm_sbuf_printf(&out, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (cp_api_audit(r, "api_key.revoke", id, r->seg[4], NULL) &&
        cp_api_commit(r, "API key revocation"))
        cp_api_reply(r, 200, &out);
    cm_sbuf_free(&out);
}

/* ---- JWT issuers --------------------------------------------------------------------- */

/* Which key type an algorithm needs, so a mismatched key is refused at configuration
 * time rather than failing every token later. */
static int cp_issuer__key_type(const char *alg)
{
    if (alg[0] == 'R' || alg[0] == 'P')
        return EVP_PKEY_RSA;
    if (alg[0] == 'E' && alg[1] == 'S')
        return EVP_PKEY_EC;
    return EVP_PKEY_ED25519;
}

/* The curve an ES* algorithm needs (OpenSSL's group name), or NULL. */
static const char *cp_issuer__curve(const char *alg)
{
    if (strcmp(alg, "ES256") == 0)
        return "prime256v1";
    if (strcmp(alg, "ES384") == 0)
        return "secp384r1";
    if (strcmp(alg, "ES512") == 0)
        return "secp521r1";
    return NULL;
}

/* True when every "-----BEGIN X-----" line in `pem` is a PUBLIC KEY. */
static bool cp_issuer__only_public(const char *pem)
{
    for (const char *p = strstr(pem, "-----BEGIN "); p != NULL; p = strstr(p + 1, "-----BEGIN "))
        if (strncmp(p, "-----BEGIN PUBLIC KEY-----", 26) != 0)
            return false;
    return true;
}

/* Checks that `pem` holds one or more public keys of the algorithm's type and curve. */
/* The schema's rule for principal_claim: 1 to 64 of [a-zA-Z0-9_.:-]. */
static bool cp_issuer__claim_ok(const char *s)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]) || strchr("_.:-", s[i]) != NULL;
    return ok;
}

static bool cp_issuer__keys_ok(const char *pem, const char *alg, char *why, size_t cap)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)strlen(pem));
    int n = 0, want = cp_issuer__key_type(alg);
    bool ok = true;
    EVP_PKEY *k;
    /* Every block must be a public key: the reader skips others, and a pasted private key
     * would otherwise be stored and handed back by the list. */
    if (strstr(pem, "-----BEGIN ") != NULL && cp_issuer__only_public(pem) == false) {
        snprintf(why, cap,
                 "public_keys may hold only PEM \"PUBLIC KEY\" blocks (never a "
                 "private key)");
        BIO_free(bio);
        return false;
    }
    while (ok && (k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) != NULL) {
        const char *curve = cp_issuer__curve(alg);
        char group[64] = "";
        size_t glen = 0;
        if (EVP_PKEY_base_id(k) != want) {
            snprintf(why, cap, "public key %d is not of the type %s needs", n + 1, alg);
            ok = false;
        } else if (curve != NULL &&
                   (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                                   sizeof(group), &glen) != 1 ||
                    strcmp(group, curve) != 0)) {
            snprintf(why, cap, "public key %d is on curve %s; %s needs %s", n + 1,
                     group[0] ? group : "?", alg, curve);
            ok = false;
        }
        EVP_PKEY_free(k);
        n++;
    }
    BIO_free(bio);
    if (ok && n == 0) {
        snprintf(why, cap, "public_keys must hold one or more PEM \"PUBLIC KEY\" blocks");
        ok = false;
    }
    return ok;
}

#define CP_ISSUER__VIEW                                                                            \
    "json_build_object('id', j.id, 'issuer', j.issuer, 'audience', j.audience, 'algorithm',"       \
    " j.algorithm, 'principal_claim', j.principal_claim, 'public_keys', j.public_keys,"            \
    " 'created_at', j.created_at)"

void cp_api_issuer_create(cp_req_t *r)
{
    static const char *const fields[] = { "issuer",      "audience",        "algorithm",
                                          "public_keys", "principal_claim", NULL };
    static const char *const algs[] = { "RS256", "RS384", "RS512", "ES256", "ES384",
                                        "ES512", "PS256", "PS384", "PS512", "EdDSA" };
    const cm_json_t *o = cp_api_body(r, fields);
    const char *iss, *aud, *alg, *keys, *claim;
    char id[40], why[256];
    if (o == NULL || !cp_api_str(r, o, "issuer", true, &iss) ||
        !cp_api_str(r, o, "audience", true, &aud) || !cp_api_str(r, o, "algorithm", true, &alg) ||
        !cp_api_str(r, o, "public_keys", true, &keys) ||
        !cp_api_str(r, o, "principal_claim", false, &claim))
        return;
    bool alg_ok = false;
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
        alg_ok |= strcmp(alg, algs[i]) == 0;
    if (!alg_ok) {
        cp_api_error(r, 400,
                     "algorithm must be one of RS256, RS384, RS512, ES256, ES384, ES512, PS256, "
                     "PS384, PS512, EdDSA (symmetric and \"none\" are refused)");
        return;
    }
    if (strlen(iss) == 0 || strlen(iss) > 1024 || strlen(aud) == 0 || strlen(aud) > 1024) {
        cp_api_error(r, 400, "issuer and audience must be 1 to 1024 characters");
        return;
    }
    if (strlen(keys) > 65536 || !cp_issuer__keys_ok(keys, alg, why, sizeof(why))) {
        cp_api_error(r, 400, "%s", strlen(keys) > 65536 ? "public_keys is over 64 KiB" : why);
        return;
    }
    if (claim != NULL && !cp_issuer__claim_ok(claim)) {
        cp_api_error(r, 400,
                     "principal_claim names the JWT claim holding the principal: use 1 to 64 of "
                     "a-z, A-Z, 0-9, '_', '.', ':' and '-'");
        return;
    }
    if (!cp_api_tenant(r, r->seg[2], id, NULL) || !cp_api_begin(r))
        return;
    const char *p[] = { id, iss, aud, alg, keys, claim != NULL ? claim : "sub" };
    PGresult *res = cp_api_tx_exec(
        r, "JWT issuer creation",
        "INSERT INTO jwt_issuers AS j (tenant_id, issuer, audience, algorithm, public_keys,"
        " principal_claim) VALUES ($1, $2, $3, $4, $5, $6) RETURNING j.id, " CP_ISSUER__VIEW,
        6, p);
    if (res == NULL)
        return;
    cm_sbuf_t out;
    cm_sbuf_init(&out);
    cm_sbuf_printf(&out, "%s", PQgetvalue(res, 0, 1));
    char issuer_id[40];
    snprintf(issuer_id, sizeof(issuer_id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (cp_api_audit(r, "jwt_issuer.create", id, issuer_id, NULL) &&
        cp_api_commit(r, "JWT issuer creation"))
        cp_api_reply(r, 201, &out);
    cm_sbuf_free(&out);
}

void cp_api_issuer_list(cp_req_t *r)
{
    char id[40];
    if (!cp_api_tenant(r, r->seg[2], id, NULL))
        return;
    const char *p[] = { id };
    cp_api_send_query(r, 200, "no tenant",
                      "SELECT json_build_object('data', coalesce(json_agg(" CP_ISSUER__VIEW
                      " ORDER BY j.issuer, j.audience), '[]'::json)) FROM jwt_issuers j"
                      " WHERE j.tenant_id = $1",
                      1, p);
}

void cp_api_issuer_delete(cp_req_t *r)
{
    /* The id is compared as text so that a malformed one is simply not found. */
    cp_api_delete_owned(r, "JWT issuer",
                        "DELETE FROM jwt_issuers WHERE tenant_id = $1 AND id::text = $2",
                        "jwt_issuer.delete");
}

/* ---- quotas -------------------------------------------------------------------------- */

static const char *const cp_quota__fields[] = { "produce_bytes_per_sec",
                                                "consume_bytes_per_sec",
                                                "requests_per_sec",
                                                "connections",
                                                "partitions",
                                                "storage_bytes",
                                                NULL };

#define CP_QUOTA__VIEW                                                                             \
    "SELECT json_build_object('produce_bytes_per_sec', q.produce_bytes_per_sec,"                   \
    " 'consume_bytes_per_sec', q.consume_bytes_per_sec, 'requests_per_sec', q.requests_per_sec,"   \
    " 'connections', q.connections, 'partitions', q.partitions, 'storage_bytes',"                  \
    " q.storage_bytes, 'storage_used_bytes', (SELECT coalesce(sum(rs.size_bytes), 0)"              \
    " FROM replica_state rs JOIN topics t ON t.id = rs.topic_id WHERE t.tenant_id = q.tenant_id)," \
    " 'updated_at', q.updated_at) FROM quotas q WHERE q.tenant_id = $1"

void cp_api_quota_get(cp_req_t *r)
{
    char id[40];
    if (!cp_api_tenant(r, r->seg[2], id, NULL))
        return;
    const char *p[] = { id };
    cp_api_send_query(r, 200, "the tenant has no quota row", CP_QUOTA__VIEW, 1, p);
}

void cp_api_quota_set(cp_req_t *r)
{
    const cm_json_t *o = cp_api_body(r, cp_quota__fields);
    char id[40];
    if (o == NULL)
        return;
    /* Each field: absent leaves it, null removes the limit, a number sets it. */
    const char *p[13];
    char nums[6][24];
    for (int i = 0; i < 6; i++) {
        const cm_json_t *v = cm_json_get(o, cp_quota__fields[i]);
        p[1 + 2 * i] = v != NULL ? "t" : "f";
        p[2 + 2 * i] = NULL;
        if (v == NULL || v->type == CM_JSON_NULL)
            continue;
        int64_t lo = strcmp(cp_quota__fields[i], "partitions") == 0 ||
                             strcmp(cp_quota__fields[i], "storage_bytes") == 0
                         ? 0
                         : 1;
        if (v->type != CM_JSON_NUMBER || !v->is_int || v->i < lo) {
            cp_api_error(r, 400, "%s must be an integer >= %lld, or null for no limit",
                         cp_quota__fields[i], (long long)lo);
            return;
        }
        snprintf(nums[i], sizeof(nums[i]), "%lld", (long long)v->i);
        p[2 + 2 * i] = nums[i];
    }
    if (!cp_api_tenant(r, r->seg[2], id, NULL) || !cp_api_begin(r))
        return;
    p[0] = id;
    PGresult *res = cp_api_tx_exec(
        r, "quota update",
        "INSERT INTO quotas AS q (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO UPDATE SET"
        " produce_bytes_per_sec = CASE WHEN $2 THEN $3::bigint ELSE q.produce_bytes_per_sec END,"
        " consume_bytes_per_sec = CASE WHEN $4 THEN $5::bigint ELSE q.consume_bytes_per_sec END,"
        " requests_per_sec = CASE WHEN $6 THEN $7::bigint ELSE q.requests_per_sec END,"
        " connections = CASE WHEN $8 THEN $9::bigint ELSE q.connections END,"
        " partitions = CASE WHEN $10 THEN $11::bigint ELSE q.partitions END,"
        " storage_bytes = CASE WHEN $12 THEN $13::bigint ELSE q.storage_bytes END,"
        " updated_at = now()",
        13, p);
    if (res == NULL)
        return;
    PQclear(res);
    /* The body was parsed from JSON and every value checked as an integer or null. */
    cm_sbuf_t d;
    cm_sbuf_init(&d);
    cm_jw_t w;
    cm_jw_init(&w, &d);
    cm_jw_obj(&w);
    for (int i = 0; i < 6; i++) {
        if (p[1 + 2 * i][0] != 't')
            continue;
        cm_jw_key(&w, cp_quota__fields[i]);
        if (p[2 + 2 * i] != NULL)
            cm_jw_raw(&w, p[2 + 2 * i]);
        else
            cm_jw_null(&w);
    }
    cm_jw_obj_end(&w);
    bool ok =
        cp_api_audit(r, "quota.update", id, r->seg[2], d.buf) && cp_api_commit(r, "quota update");
    cm_sbuf_free(&d);
    if (ok) {
        const char *q[] = { id };
        cp_api_send_query(r, 200, "the tenant has no quota row", CP_QUOTA__VIEW, 1, q);
    }
}
