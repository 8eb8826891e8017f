#include "gw_session.h"

#include <ctype.h>
#include <jwt.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm_b64.h"
#include "cm_json.h"
#include "cm_log.h"
#include "cm_secret.h"
#include "cm_time.h"

#define GW_SESSION__JWT_JSON_MAX (64u << 10)

/* A verified API secret: its digest, what it was checked against, and until when. */
typedef struct gw_verified {
    uint8_t digest[SHA256_DIGEST_LENGTH];
    char *against; /* the stored hash it matched (a changed hash invalidates this) */
    int64_t until_ms;
} gw_verified_t;

/* ---- failed attempts per source and per key ------------------------------------------ */

static size_t gw_session__key_key(const char *key_id, uint8_t *out, size_t cap)
{
    size_t n = strnlen(key_id, cap - 1);
    out[0] = 'K';
    memcpy(out + 1, key_id, n);
    return n + 1;
}

/* Microseconds until `k` may fail again (0: now). */
static int64_t gw_session__wait(gw_t *gw, const uint8_t *k, size_t n)
{
    if (!atomic_load_explicit(&gw->any_failures, memory_order_acquire))
        return 0; /* nobody has failed yet: no lock taken by every request */
    return cm_limiter_wait(gw->auth_failures, k, n, cm_mono_us());
}

/* Counts a failure of `k`; true when `k` is limited from now on. */
static bool gw_session__failed(gw_t *gw, const uint8_t *k, size_t n)
{
    int64_t now = cm_mono_us();
    atomic_store_explicit(&gw->any_failures, true, memory_order_release);
    bool was = cm_limiter_wait(gw->auth_failures, k, n, now) > 0;
    cm_limiter_charge(gw->auth_failures, k, n, now);
    return !was && cm_limiter_wait(gw->auth_failures, k, n, now) > 0;
}

/* ---- API keys ------------------------------------------------------------------------ */

/*
 * Checks an API key. An unknown key id costs a fast keyed hash, like a wrong secret for a
 * key made with one. A key id over its failure budget (an attacker trying secrets from many
 * addresses) may still pass by the worker's cache of verified secrets, or by a fast hash;
 * only an old, slow (PBKDF2) verification is refused then, so nobody can lock a key's owner
 * out, nor make the gateway spend milliseconds a guess.
 */
static gw_auth_t gw_session__key(gw_worker_t *w, const gw_snap_t *s, const gw_cred_t *c,
                                 bool key_limited, gw_session_t *out, char *why, size_t cap)
{
    const gw_key_t *k = cm_strmap_get(&s->keys, c->key_id, strlen(c->key_id));
    uint8_t digest[SHA256_DIGEST_LENGTH];
    cm_secret_sha256(c->secret, strlen(c->secret), digest);
    if (k == NULL) {
        cm_secret_verify(c->secret, "hmac-sha256$AAAAAAAAAAAAAAAAAAAAAA$"
                                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        snprintf(why, cap, "the API key or secret is not valid");
        return GW_AUTH_INVALID;
    }
    int64_t now = cm_mono_ms();
    gw_verified_t *v = cm_strmap_get(&w->verified, k->key_id, strlen(k->key_id));
    bool ok = v != NULL && v->until_ms > now && strcmp(v->against, k->secret_hash) == 0 &&
              CRYPTO_memcmp(v->digest, digest, sizeof(digest)) == 0;
    if (!ok && key_limited && cm_secret_costly(k->secret_hash)) {
        snprintf(why, cap, "too many failed authentications with this API key; retry later");
        return GW_AUTH_LIMITED;
    }
    if (!ok && cm_secret_verify(c->secret, k->secret_hash)) {
        ok = true;
        if (v == NULL) {
            v = calloc(1, sizeof(*v));
            if (v == NULL)
                abort();
            cm_strmap_put(&w->verified, k->key_id, strlen(k->key_id), v);
        }
        free(v->against);
        v->against = strdup(k->secret_hash);
        if (v->against == NULL)
            abort();
        memcpy(v->digest, digest, sizeof(digest));
        v->until_ms = now + w->gw->cfg.auth_cache_ms;
    }
    if (!ok) {
        snprintf(why, cap, "the API key or secret is not valid");
        return GW_AUTH_INVALID;
    }
    out->tenant = k->tenant;
    snprintf(out->principal, sizeof(out->principal), "%s", k->principal->name);
    out->admin = k->principal->admin;
    return GW_AUTH_OK;
}

/* ---- JWTs ------------------------------------------------------------------------------ */

/* Decodes one base64url part of a token as a JSON object. */
static const cm_json_t *gw_session__jwt_part(cm_arena_t *a, const char *p, size_t n)
{
    uint8_t *buf = cm_arena_alloc(a, n / 4 * 3 + 3);
    if (buf == NULL)
        return NULL;
    long len = cm_b64_decode(p, n, true, buf);
    cm_json_t *doc;
    char err[64];
    if (len < 0 ||
        cm_json_parse(a, (const char *)buf, (size_t)len, 8, &doc, err, sizeof(err)) != 0 ||
        doc->type != CM_JSON_OBJECT)
        return NULL;
    return doc;
}

static bool gw_session__aud_has(const cm_json_t *aud, const char *want)
{
    if (aud == NULL)
        return false;
    if (aud->type == CM_JSON_STRING)
        return strcmp(aud->str, want) == 0;
    if (aud->type != CM_JSON_ARRAY)
        return false;
    for (const cm_json_t *e = aud->child; e != NULL; e = e->next)
        if (e->type == CM_JSON_STRING && strcmp(e->str, want) == 0)
            return true;
    return false;
}

/*
 * RSASSA-PSS (PS256/384/512, salt as long as the hash, RFC 7518 3.5) and EdDSA (Ed25519),
 * which libjwt 1.10 does not know: verified with OpenSSL against each PEM key in turn.
 */
static bool gw_session__evp_signed(const gw_issuer_t *x, const char *token)
{
    const char *dot = strrchr(token, '.');
    if (dot == NULL)
        return false;
    size_t slen = strlen(dot + 1);
    uint8_t *sig = malloc(slen / 4 * 3 + 3);
    long n = sig != NULL ? cm_b64_decode(dot + 1, slen, true, sig) : -1;
    bool pss = x->alg[0] == 'P', ok = false;
    const EVP_MD *md = !pss                           ? NULL
                       : strcmp(x->alg, "PS256") == 0 ? EVP_sha256()
                       : strcmp(x->alg, "PS384") == 0 ? EVP_sha384()
                                                      : EVP_sha512();
    BIO *bio = n > 0 ? BIO_new_mem_buf(x->public_keys, -1) : NULL;
    EVP_PKEY *k;
    while (!ok && bio != NULL && (k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) != NULL) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;
        bool right_type =
            pss ? EVP_PKEY_base_id(k) == EVP_PKEY_RSA : EVP_PKEY_base_id(k) == EVP_PKEY_ED25519;
        ok = right_type && ctx != NULL && EVP_DigestVerifyInit(ctx, &pctx, md, NULL, k) == 1 &&
             (!pss || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1)) &&
             EVP_DigestVerify(ctx, sig, (size_t)n, (const unsigned char *)token,
                              (size_t)(dot - token)) == 1;
        EVP_MD_CTX_free(ctx);
        EVP_PKEY_free(k);
    }
    ERR_clear_error();
    BIO_free(bio);
    free(sig);
    return ok;
}

/* True when the token's signature verifies with one of the issuer's PEM keys. */
static bool gw_session__jwt_signed(const gw_issuer_t *x, const char *token)
{
    if (x->alg[0] == 'P' || strcmp(x->alg, "EdDSA") == 0)
        return gw_session__evp_signed(x, token);
    jwt_alg_t want = jwt_str_alg(x->alg);
    if (want == JWT_ALG_INVAL || want == JWT_ALG_NONE)
        return false;
    const char *p = x->public_keys;
    while ((p = strstr(p, "-----BEGIN ")) != NULL) {
        const char *end = strstr(p, "-----END ");
        if (end == NULL)
            return false;
        const char *stop = strstr(end + 9, "-----");
        if (stop == NULL)
            return false;
        stop += 5;
        jwt_t *j = NULL;
        /* Always with a key and the algorithm checked after: libjwt 1.10 accepts alg=none
         * without a key, and an HS256 token keyed with the PEM text itself. */
        int rc = jwt_decode(&j, token, (const unsigned char *)p, (int)(stop - p));
        bool ok = rc == 0 && j != NULL && jwt_get_alg(j) == want;
        jwt_free(j);
        if (ok)
            return true;
        p = stop;
    }
    return false;
}

bool gw_session_principal_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

static gw_auth_t gw_session__jwt(gw_worker_t *w, const gw_snap_t *s, const gw_cred_t *c,
                                 gw_session_t *out, char *why, size_t cap)
{
    const gw_config_t *cfg = &w->gw->cfg;
    if (c->token_len > (size_t)cfg->jwt_bytes_max) {
        snprintf(why, cap, "the token is longer than %lld bytes", (long long)cfg->jwt_bytes_max);
        return GW_AUTH_INVALID;
    }
    const char *t = c->token, *d1 = memchr(t, '.', c->token_len);
    const char *d2 = d1 != NULL ? memchr(d1 + 1, '.', c->token_len - (size_t)(d1 + 1 - t)) : NULL;
    if (d1 == NULL || d2 == NULL || memchr(d2 + 1, '.', c->token_len - (size_t)(d2 + 1 - t))) {
        snprintf(why, cap, "the bearer token is not a signed JWT");
        return GW_AUTH_INVALID;
    }
    cm_arena_t a;
    cm_arena_init(&a, GW_SESSION__JWT_JSON_MAX);
    gw_auth_t rc = GW_AUTH_INVALID;
    const cm_json_t *hdr = gw_session__jwt_part(&a, t, (size_t)(d1 - t));
    const cm_json_t *body = gw_session__jwt_part(&a, d1 + 1, (size_t)(d2 - d1 - 1));
    const cm_json_t *alg = hdr ? cm_json_get(hdr, "alg") : NULL;
    const cm_json_t *iss = body ? cm_json_get(body, "iss") : NULL;
    const cm_json_t *aud = body ? cm_json_get(body, "aud") : NULL;
    const cm_json_t *exp = body ? cm_json_get(body, "exp") : NULL;
    const cm_json_t *nbf = body ? cm_json_get(body, "nbf") : NULL;
    const gw_issuer_t *x = NULL;
    if (hdr == NULL || body == NULL || alg == NULL || alg->type != CM_JSON_STRING) {
        snprintf(why, cap, "the bearer token is not a valid JWT");
        goto done;
    }
    if (iss == NULL || iss->type != CM_JSON_STRING || aud == NULL || exp == NULL ||
        exp->type != CM_JSON_NUMBER || nbf == NULL || nbf->type != CM_JSON_NUMBER) {
        snprintf(why, cap, "the token must carry iss, aud, exp and nbf");
        goto done;
    }
    for (int i = 0; i < s->n_issuers && x == NULL; i++)
        if (strcmp(s->issuers[i].issuer, iss->str) == 0 &&
            gw_session__aud_has(aud, s->issuers[i].audience))
            x = &s->issuers[i];
    if (x == NULL) {
        snprintf(why, cap, "the token's issuer and audience are not configured");
        goto done;
    }
    /* The algorithm is the issuer's, exactly: "none" in any casing, or HS256 made with the
     * public key, never matches. */
    if (strcmp(alg->str, x->alg) != 0) {
        snprintf(why, cap, "the token's algorithm is not the one configured for its issuer");
        goto done;
    }
    char *tok = cm_arena_strndup(&a, c->token, c->token_len);
    if (tok == NULL || !gw_session__jwt_signed(x, tok)) {
        snprintf(why, cap, "the token's signature is not valid");
        goto done;
    }
    double now = (double)time(NULL), skew = (double)cfg->jwt_skew_ms / 1000.0;
    if (now >= exp->num + skew) {
        snprintf(why, cap, "the token has expired");
        goto done;
    }
    if (now + skew < nbf->num) {
        snprintf(why, cap, "the token is not valid yet");
        goto done;
    }
    const cm_json_t *who = cm_json_get(body, x->principal_claim);
    if (who == NULL || who->type != CM_JSON_STRING || !gw_session_principal_ok(who->str)) {
        snprintf(why, cap,
                 "the token's %s claim must be a principal name (1 to 64 of a-z, A-Z, "
                 "0-9, '.', '_' and '-')",
                 x->principal_claim);
        goto done;
    }
    /* A token's principal and a service account are never the same principal: a token
     * naming one (the admin "owner", say) would take its ACLs and its admin rights. */
    const gw_principal_t *p = cm_strmap_get(&x->tenant->principals, who->str, strlen(who->str));
    if (p != NULL && p->service_account) {
        snprintf(why, cap,
                 "the token's %s claim names one of the tenant's service accounts, which "
                 "authenticate with API keys only",
                 x->principal_claim);
        goto done;
    }
    out->tenant = x->tenant;
    snprintf(out->principal, sizeof(out->principal), "%s", who->str);
    out->admin = p != NULL && p->admin;
    rc = GW_AUTH_OK;
done:
    cm_arena_free(&a);
    return rc;
}

gw_auth_t gw_session_auth(gw_worker_t *w, const gw_snap_t *s, const gw_cred_t *c,
                          const char *source, gw_session_t *out, int *retry_after_s, char *why,
                          size_t cap)
{
    memset(out, 0, sizeof(*out));
    if (c->kind == GW_CRED_NONE) {
        snprintf(why, cap, "send an API key (HTTP Basic) or a bearer token");
        return GW_AUTH_MISSING;
    }
    uint8_t src[CM_LIMITER_KEY_MAX], key[CM_LIMITER_KEY_MAX];
    size_t src_n = cm_limiter_addr_key(source, src, sizeof(src)), key_n = 0;
    int64_t wait = gw_session__wait(w->gw, src, src_n), key_wait = 0;
    if (wait > 0) {
        *retry_after_s = (int)((wait + 999999) / 1000000);
        atomic_fetch_add(&w->gw->metrics.auth_limited, 1);
        snprintf(why, cap, "too many failed authentications from this address; retry later");
        return GW_AUTH_LIMITED;
    }
    if (c->kind == GW_CRED_KEY) {
        key_n = gw_session__key_key(c->key_id, key, sizeof(key));
        key_wait = gw_session__wait(w->gw, key, key_n);
    }
    gw_auth_t rc = c->kind == GW_CRED_KEY ? gw_session__key(w, s, c, key_wait > 0, out, why, cap)
                                          : gw_session__jwt(w, s, c, out, why, cap);
    if (rc == GW_AUTH_LIMITED) {
        *retry_after_s = (int)((key_wait + 999999) / 1000000);
        atomic_fetch_add(&w->gw->metrics.auth_limited, 1);
        return rc;
    }
    if (rc != GW_AUTH_OK) {
        atomic_fetch_add(&w->gw->metrics.auth_failures, 1);
        /* One line a failure at debug only: an attacker would otherwise write the log. */
        cm_log_debug("authentication failed", "source=%s kind=%s why=\"%s\"", source,
                     c->kind == GW_CRED_KEY ? "api_key" : "jwt", why);
        if (gw_session__failed(w->gw, src, src_n))
            cm_log_info("failed authentications limited", "source=%s why=\"%s\"", source, why);
        /* Only key ids that exist are counted: an invented one costs nothing to refuse. */
        if (key_n > 0 && cm_strmap_get(&s->keys, c->key_id, strlen(c->key_id)) != NULL &&
            gw_session__failed(w->gw, key, key_n))
            cm_log_info("failed authentications limited", "key=%s source=%s", c->key_id, source);
        return rc;
    }
    out->snap = s;
    if (!out->tenant->active) {
        snprintf(why, cap, "this tenant is suspended");
        return GW_AUTH_SUSPENDED;
    }
    return GW_AUTH_OK;
}

/* ---- ACLs ---------------------------------------------------------------------------- */

bool gw_session_allowed(const gw_session_t *ss, cm_acl_rtype_t rt, const char *name, cm_acl_op_t op)
{
    if (ss->admin)
        return true;
    const gw_tenant_t *t = ss->tenant;
    if (t->acls_unreadable) {
        /* A rule this gateway cannot read may be a deny: refuse rather than guess. */
        cm_log_warn("ACL refused: the tenant has an ACL this gateway cannot read",
                    "tenant=%s principal=%s", t->name, ss->principal);
        return false;
    }
    return cm_acl_allowed(t->acls, t->n_acls, ss->principal, rt, name, op);
}

/* ---- quotas and meters --------------------------------------------------------------- */

static cm_bucket_t *gw_session__bucket(gw_tenant_rt_t *rt, gw_charge_t what)
{
    return what == GW_CHARGE_PRODUCE   ? &rt->produce
           : what == GW_CHARGE_CONSUME ? &rt->consume
                                       : &rt->requests;
}

int64_t gw_session_charge_us(const gw_session_t *ss, gw_charge_t what, double cost)
{
    gw_tenant_rt_t *rt = ss->tenant->rt;
    pthread_mutex_lock(&rt->mu);
    int64_t wait = cm_bucket_take(gw_session__bucket(rt, what), cost, cm_mono_us());
    pthread_mutex_unlock(&rt->mu);
    if (wait > 0)
        atomic_fetch_add(&rt->throttled, 1);
    return wait;
}

int gw_session_charge(const gw_session_t *ss, gw_charge_t what, double cost)
{
    int64_t wait = gw_session_charge_us(ss, what, cost);
    return (int)((wait + 999999) / 1000000);
}

int gw_session_storage_full(const gw_session_t *ss, int64_t poll_ms, char *msg, size_t cap)
{
    int64_t max = ss->tenant->quota.storage_bytes;
    long long used = atomic_load(&ss->tenant->rt->storage_used);
    if (max <= 0 || used < max)
        return 0;
    atomic_fetch_add(&ss->tenant->rt->throttled, 1);
    snprintf(msg, cap,
             "over the storage quota: the tenant's topics hold %lld bytes (every replica) of "
             "the %lld allowed; produce resumes once retention or deleted topics free room",
             used, (long long)max);
    return (int)((poll_ms + 999) / 1000);
}

void gw_session_charge_after(const gw_session_t *ss, gw_charge_t what, double cost)
{
    gw_tenant_rt_t *rt = ss->tenant->rt;
    pthread_mutex_lock(&rt->mu);
    cm_bucket_t *b = gw_session__bucket(rt, what);
    if (cm_bucket_take(b, cost, cm_mono_us()) != 0 && b->rate > 0)
        b->tokens -= cost;
    pthread_mutex_unlock(&rt->mu);
}

bool gw_session_conn_open(const gw_session_t *ss)
{
    gw_tenant_rt_t *rt = ss->tenant->rt;
    int64_t cap = ss->tenant->quota.connections;
    long long n = atomic_fetch_add(&rt->connections, 1) + 1;
    if (cap > 0 && n > cap) {
        atomic_fetch_sub(&rt->connections, 1);
        atomic_fetch_add(&rt->throttled, 1);
        return false;
    }
    return true;
}

void gw_session_conn_close(gw_tenant_rt_t *rt)
{
    atomic_fetch_sub(&rt->connections, 1);
}

void gw_session_meter(const gw_session_t *ss, bool in, uint64_t bytes, uint64_t records)
{
    gw_tenant_rt_t *rt = ss->tenant->rt;
    atomic_fetch_add(in ? &rt->bytes_in : &rt->bytes_out, bytes);
    atomic_fetch_add(in ? &rt->records_in : &rt->records_out, records);
}

void gw_session_cache_free(gw_worker_t *w)
{
    size_t it = 0;
    gw_verified_t *v;
    while ((v = cm_strmap_next(&w->verified, &it, NULL, NULL)) != NULL) {
        free(v->against);
        free(v);
    }
    cm_strmap_free(&w->verified);
}

/* ---- credentials and topics ---- */

bool gw_session_cred(const char *v, cm_arena_t *a, gw_cred_t *c)
{
    memset(c, 0, sizeof(*c));
    if (v == NULL)
        return true;
    if (strncasecmp(v, "Bearer ", 7) == 0) {
        c->kind = GW_CRED_JWT;
        c->token = v + 7;
        while (*c->token == ' ')
            c->token++;
        c->token_len = strlen(c->token);
        return c->token_len > 0;
    }
    if (strncasecmp(v, "Basic ", 6) != 0)
        return false;
    v += 6;
    while (*v == ' ')
        v++;
    size_t n = strlen(v);
    char *dec = cm_arena_alloc(a, n / 4 * 3 + 4);
    long len = dec != NULL ? cm_b64_decode(v, n, false, (uint8_t *)dec) : -1;
    if (len <= 0 || memchr(dec, '\0', (size_t)len) != NULL)
        return false;
    dec[len] = '\0';
    char *colon = strchr(dec, ':');
    if (colon == NULL)
        return false;
    *colon = '\0';
    c->kind = GW_CRED_KEY;
    c->key_id = dec;
    c->secret = colon + 1;
    return true;
}

static int gw_session__by_name(const void *a, const void *b)
{
    return strcmp((*(const gw_topic_t *const *)a)->name, (*(const gw_topic_t *const *)b)->name);
}

const gw_topic_t **gw_session_topics(const gw_session_t *ss, cm_arena_t *a, size_t *n)
{
    const gw_tenant_t *tn = ss->tenant;
    const gw_topic_t **all = cm_arena_calloc(a, tn->topics.size + 1, sizeof(*all));
    *n = 0;
    if (all == NULL)
        return NULL;
    size_t it = 0;
    const gw_topic_t *t;
    while ((t = cm_strmap_next(&tn->topics, &it, NULL, NULL)) != NULL)
        if (gw_session_allowed(ss, CM_ACL_RT_TOPIC, t->name, CM_ACL_OP_DESCRIBE))
            all[(*n)++] = t;
    qsort(all, *n, sizeof(*all), gw_session__by_name);
    return all;
}
