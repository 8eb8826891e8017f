#include "bk_sasl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/hmac.h>

#include "bk_dispatch.h"
#include "cm_err.h"
#include "cm_fs.h"
#include "cm_kmsg.h"
#include "cm_log.h"
#include "cm_sbuf.h"
#include "cm_scram.h"
#include "cm_secret.h"
#include "cm_strmap.h"
#include "bk_server.h"
#include "cm_time.h"

#define BK_SASL__MECHANISM "SCRAM-SHA-256"
#define BK_SASL__FILE_MAX  (16 << 20)
/* Kafka's words for a failed exchange, whatever failed: nothing about which part. */
#define BK_SASL__FAILED                                                                            \
    "Authentication failed during authentication due to invalid credentials with SASL "            \
    "mechanism " BK_SASL__MECHANISM

struct bk_auth {
    cm_strmap_t users;    /* name -> cm_scram_verifier_t */
    uint8_t mock_key[32]; /* unknown users' salts: HMAC(mock_key, name) */
    char *cache_path;     /* managed: <data_dir>/principals, the last verifiers installed */
    char *cache_text;     /* what that file holds (written only when it changes) */
};

static void bk_sasl__free_users(struct bk_auth *a)
{
    size_t it = 0;
    cm_scram_verifier_t *v;
    while ((v = cm_strmap_next(&a->users, &it, NULL, NULL)) != NULL)
        free(v);
    cm_strmap_free(&a->users);
}

/* Reads "<name> <verifier>" lines ('#' comments and blank lines skipped) of the file
 * `what` names in its logs. */
static bool bk_sasl__load(struct bk_auth *a, const char *path, const char *what)
{
    char *text;
    size_t len;
    if (cm_fs_read_file(path, BK_SASL__FILE_MAX, &text, &len) != CM_OK) {
        cm_log_error("cannot read the verifiers", "file=%s path=%s", what, path);
        return false;
    }
    bool ok = true;
    int line = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l != NULL && ok;
         l = strtok_r(NULL, "\n", &save)) {
        line++;
        while (*l == ' ' || *l == '\t')
            l++;
        if (*l == '\0' || *l == '#')
            continue;
        char *sp = strchr(l, ' ');
        cm_scram_verifier_t *v = calloc(1, sizeof(*v));
        if (v == NULL)
            abort();
        if (sp != NULL)
            *sp = '\0';
        size_t nlen = strlen(l);
        if (sp == NULL || nlen == 0 || nlen > CM_SCRAM_USER_MAX ||
            !cm_scram_verifier_parse(sp + 1, v) || v->iterations < CM_SCRAM_ITERATIONS_MIN ||
            cm_strmap_get(&a->users, l, nlen) != NULL) {
            cm_log_error("a bad, weak or repeated verifier", "file=%s path=%s line=%d", what, path,
                         line);
            free(v);
            ok = false;
            break;
        }
        cm_strmap_put(&a->users, l, nlen, v); /* the map keeps its own copy of the name */
    }
    free(text);
    return ok;
}

bool bk_sasl_init(bk_broker_t *b)
{
    const char *mode = b->cfg.internal_auth;
    bool managed = b->cfg.database_url[0] != '\0';
    if (strcmp(mode, "auto") == 0)
        mode = managed ? "scram" : "none";
    if (strcmp(mode, "none") == 0) {
        if (managed)
            cm_log_warn("the Kafka listener of this managed broker is open to anyone who reaches "
                        "it (internal_auth=none)",
                        "listen=%s", b->cfg.listen);
        return true;
    }
    if (strcmp(mode, "scram") != 0) {
        cm_log_error("internal_auth must be auto, none or scram", "internal_auth=%s",
                     b->cfg.internal_auth);
        return false;
    }
    if (b->cfg.scram_verifiers_file[0] == '\0' && !managed) {
        cm_log_error("internal_auth=scram needs scram_verifiers_file (or, managed, the control "
                     "plane's components)",
                     "internal_auth=%s", b->cfg.internal_auth);
        return false;
    }
    struct bk_auth *a = calloc(1, sizeof(*a));
    if (a == NULL)
        abort();
    cm_strmap_init(&a->users);
    cm_secret_random(a->mock_key, sizeof(a->mock_key));
    if (b->cfg.scram_verifiers_file[0] == '\0') {
        /* Until the first snapshot, the verifiers it installed last time, so that gateways
         * get in while the control plane's database is away; else nobody. */
        if (asprintf(&a->cache_path, "%s/principals", b->cfg.data_dir) < 0)
            abort();
        if (access(a->cache_path, F_OK) == 0 &&
            !bk_sasl__load(a, a->cache_path, "the last verifiers from the control plane")) {
            bk_sasl__free_users(a);
            cm_strmap_init(&a->users);
            cm_log_warn("the saved verifiers are ignored: nobody gets in until the control "
                        "plane's first snapshot",
                        "path=%s", a->cache_path);
        }
        cm_log_info("the Kafka listener authenticates clients with SASL/SCRAM-SHA-256",
                    "verifiers=\"the control plane's components\" saved=%zu", a->users.size);
        b->auth = a;
        return true;
    }
    if (!bk_sasl__load(a, b->cfg.scram_verifiers_file, "scram_verifiers_file")) {
        bk_sasl__free_users(a);
        free(a);
        return false;
    }
    cm_log_info("the Kafka listener authenticates clients with SASL/SCRAM-SHA-256",
                "users=%zu file=%s", a->users.size, b->cfg.scram_verifiers_file);
    b->auth = a;
    return true;
}

bool bk_sasl_from_control_plane(const bk_broker_t *b)
{
    return b->auth != NULL && b->cfg.scram_verifiers_file[0] == '\0';
}

/* A connection to close on a new set of verifiers: authenticated as a name that is gone, or
 * whose verifier changed (marked by a negative iteration count while installing). */
static bool bk_sasl__revoked(const bk_conn_t *c, void *ud)
{
    const cm_strmap_t *fresh = ud;
    if (c->auth != BK_AUTH_OK)
        return false;
    const cm_scram_verifier_t *v = cm_strmap_get(fresh, c->who, strlen(c->who));
    return v == NULL || v->iterations < 0;
}

/* Writes the verifiers just installed to the cache file when they differ from what it
 * holds (0600: they are one-way, yet a server's keys). A failure is logged and harmless:
 * the file only matters to a restart while the control plane is away. */
static void bk_sasl__save(struct bk_auth *a, const cm_sbuf_t *text)
{
    const char *t = text->len > 0 ? text->buf : "";
    if (a->cache_text != NULL && strcmp(a->cache_text, t) == 0)
        return;
    if (cm_fs_write_atomic_mode(a->cache_path, t, strlen(t), 0600) != CM_OK) {
        cm_log_warn("cannot save the verifiers for a restart", "path=%s errno=%s", a->cache_path,
                    strerror(errno));
        return;
    }
    free(a->cache_text);
    a->cache_text = strdup(t);
    if (a->cache_text == NULL)
        abort();
}

void bk_sasl_install(bk_broker_t *b, const char *const *names, const char *const *verifiers,
                     int32_t n)
{
    struct bk_auth *a = b->auth;
    if (a == NULL || !bk_sasl_from_control_plane(b))
        return;
    cm_strmap_t fresh;
    cm_strmap_init(&fresh);
    cm_sbuf_t text;
    cm_sbuf_init(&text);
    for (int32_t i = 0; i < n; i++) {
        cm_scram_verifier_t *v = calloc(1, sizeof(*v));
        if (v == NULL)
            abort();
        size_t len = strlen(names[i]);
        if (len > CM_SCRAM_USER_MAX || !cm_scram_verifier_parse(verifiers[i], v) ||
            cm_strmap_get(&fresh, names[i], len) != NULL) {
            cm_log_warn("a component's verifier is unreadable; it cannot connect", "name=%s",
                        names[i]);
            free(v);
            continue;
        }
        const cm_scram_verifier_t *was = cm_strmap_get(&a->users, names[i], len);
        if (was != NULL && memcmp(was->stored_key, v->stored_key, sizeof(v->stored_key)) != 0)
            v->iterations = -v->iterations;
        cm_strmap_put(&fresh, names[i], len, v);
        cm_sbuf_printf(&text, "%s %s\n", names[i], verifiers[i]);
    }
    bk_sasl__save(a, &text);
    cm_sbuf_free(&text);
    int closed = b->server != NULL
                     ? bk_server_close_if(b->server, bk_sasl__revoked, &fresh, "credential revoked")
                     : 0;
    if (closed > 0)
        cm_log_info("connections of revoked credentials closed", "connections=%d", closed);
    size_t it = 0;
    cm_scram_verifier_t *v;
    while ((v = cm_strmap_next(&fresh, &it, NULL, NULL)) != NULL)
        if (v->iterations < 0)
            v->iterations = -v->iterations;
    bk_sasl__free_users(a);
    a->users = fresh;
}

void bk_sasl_free(bk_broker_t *b)
{
    if (b->auth == NULL)
        return;
    bk_sasl__free_users(b->auth);
    free(b->auth->cache_path);
    free(b->auth->cache_text);
    free(b->auth);
    b->auth = NULL;
}

uint8_t bk_sasl_conn_start(const bk_broker_t *b)
{
    return b->auth != NULL ? BK_AUTH_START : BK_AUTH_OPEN;
}

bool bk_sasl_allowed(const bk_conn_t *c, int16_t api_key)
{
    return c->auth == BK_AUTH_OPEN || c->auth == BK_AUTH_OK || api_key == CM_KAPI_API_VERSIONS ||
           api_key == CM_KAPI_SASL_HANDSHAKE || api_key == CM_KAPI_SASL_AUTHENTICATE;
}

void bk_sasl_conn_free(bk_conn_t *c)
{
    if (c->scram != NULL)
        OPENSSL_cleanse(c->scram, sizeof(*c->scram));
    free(c->scram);
    c->scram = NULL;
}

/* The verifier of `user`, or a made-up one that no proof matches (an unknown user). */
static void bk_sasl__verifier(const struct bk_auth *a, const char *user, cm_scram_verifier_t *out)
{
    const cm_scram_verifier_t *v = cm_strmap_get(&a->users, user, strlen(user));
    if (v != NULL) {
        *out = *v;
        return;
    }
    uint8_t mac[32];
    unsigned int n = sizeof(mac);
    HMAC(EVP_sha256(), a->mock_key, sizeof(a->mock_key), (const uint8_t *)user, strlen(user), mac,
         &n);
    memset(out, 0, sizeof(*out));
    out->iterations = CM_SCRAM_ITERATIONS_MIN;
    out->salt_len = 16;
    memcpy(out->salt, mac, 16);
    cm_secret_random(out->stored_key, sizeof(out->stored_key));
    cm_secret_random(out->server_key, sizeof(out->server_key));
}

int bk_handle_sasl_handshake(bk_req_t *req)
{
    bk_conn_t *c = req->conn;
    cm_sasl_handshake_req_t r;
    if (cm_sasl_handshake_req_decode(&req->body, req->hdr.api_version, &req->resp->arena, &r) != 0)
        return BK_CLOSE;
    cm_sasl_handshake_resp_t resp;
    cm_sasl_handshake_resp_init(&resp);
    cm_kstr_t mech = CM_KSTR(BK_SASL__MECHANISM);
    resp.mechanisms = &mech;
    resp.mechanisms_n = 1;
    int rc = BK_DONE_CLOSE;
    if (c->auth != BK_AUTH_START) {
        /* On an open listener, as Kafka's PLAINTEXT one, or a second handshake (no KIP-368
         * re-authentication). */
        resp.error_code = CM_KERR_ILLEGAL_SASL_STATE;
        rc = c->auth == BK_AUTH_OPEN ? BK_DONE : BK_DONE_CLOSE;
    } else if (req->hdr.api_version == 0 ||
               r.mechanism.len != (int32_t)strlen(BK_SASL__MECHANISM) ||
               memcmp(r.mechanism.ptr, BK_SASL__MECHANISM, strlen(BK_SASL__MECHANISM)) != 0) {
        resp.error_code = CM_KERR_UNSUPPORTED_SASL_MECHANISM;
    } else {
        c->auth = BK_AUTH_HANDSHAKEN;
        rc = BK_DONE;
    }
    cm_sasl_handshake_resp_encode(&req->resp->w, req->hdr.api_version, &resp);
    return rc;
}

/* A failed exchange: Kafka's answer, then the connection closes. */
static int bk_sasl__fail(bk_req_t *req, cm_sasl_authenticate_resp_t *resp, int16_t err,
                         const char *msg, const char *why)
{
    bk_conn_t *c = req->conn;
    bk_metrics_add(&req->b->metrics.auth_failed, 1);
    cm_log_warn("SASL authentication failed", "peer=%s user=\"%s\" why=\"%s\"", c->peer,
                c->scram != NULL ? c->scram->user : "", why);
    bk_sasl_conn_free(c);
    resp->error_code = err;
    resp->error_message = bk_req_msg(req, msg);
    cm_sasl_authenticate_resp_encode(&req->resp->w, req->hdr.api_version, resp);
    return BK_DONE_CLOSE;
}

int bk_handle_sasl_authenticate(bk_req_t *req)
{
    bk_conn_t *c = req->conn;
    cm_sasl_authenticate_req_t r;
    if (cm_sasl_authenticate_req_decode(&req->body, req->hdr.api_version, &req->resp->arena, &r) !=
        0)
        return BK_CLOSE;
    cm_sasl_authenticate_resp_t resp;
    cm_sasl_authenticate_resp_init(&resp);
    char out[CM_SCRAM_MSG_MAX], err[128];
    const uint8_t *in = r.auth_bytes.ptr;
    size_t in_len = r.auth_bytes.len > 0 ? (size_t)r.auth_bytes.len : 0;
    if (c->auth == BK_AUTH_HANDSHAKEN) {
        c->scram = calloc(1, sizeof(*c->scram));
        if (c->scram == NULL)
            abort();
        if (!cm_scram_server_start(c->scram, in, in_len, err, sizeof(err)))
            return bk_sasl__fail(req, &resp, CM_KERR_SASL_AUTHENTICATION_FAILED, err, err);
        cm_scram_verifier_t v;
        bk_sasl__verifier(req->b->auth, c->scram->user, &v);
        int n = cm_scram_server_challenge(c->scram, &v, NULL, out, sizeof(out));
        OPENSSL_cleanse(&v, sizeof(v));
        if (n < 0)
            return bk_sasl__fail(req, &resp, CM_KERR_SASL_AUTHENTICATION_FAILED, BK_SASL__FAILED,
                                 "no room for the challenge");
        c->auth = BK_AUTH_FIRST;
        resp.auth_bytes = (cm_kbytes_t){ (uint8_t *)bk_req_msg(req, out).ptr, n };
    } else if (c->auth == BK_AUTH_FIRST) {
        int n = cm_scram_server_finish(c->scram, in, in_len, out, sizeof(out), err, sizeof(err));
        if (n < 0)
            return bk_sasl__fail(req, &resp, CM_KERR_SASL_AUTHENTICATION_FAILED, BK_SASL__FAILED,
                                 err);
        snprintf(c->who, sizeof(c->who), "%s", c->scram->user);
        bk_sasl_conn_free(c);
        c->auth = BK_AUTH_OK;
        bk_metrics_add(&req->b->metrics.auth_succeeded, 1);
        cm_log_info("client authenticated", "peer=%s user=\"%s\"", c->peer, c->who);
        resp.auth_bytes = (cm_kbytes_t){ (uint8_t *)bk_req_msg(req, out).ptr, n };
        resp.session_lifetime_ms = 0; /* no re-authentication (KIP-368) */
    } else {
        return bk_sasl__fail(req, &resp, CM_KERR_ILLEGAL_SASL_STATE,
                             "SaslAuthenticate is not expected now", "out of order");
    }
    cm_sasl_authenticate_resp_encode(&req->resp->w, req->hdr.api_version, &resp);
    return BK_DONE;
}
