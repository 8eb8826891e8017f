/*
 * Credential and JWT parsing as the gateway does it for every REST and gRPC call: the input
 * is an Authorization header value ("Basic <base64 key:secret>", "Bearer <JWT>", or
 * anything else a client sends).
 *
 * The parsing lives in gateway/gw_session.c, most of it static, so the file is included
 * here whole (its statics become reachable, nothing in gateway/ changes) and driven through
 * its entry points against a fixed snapshot:
 *   - gw_session_cred(): the header into a credential (cm_b64_decode of Basic);
 *   - gw_session_auth(): for a JWT, gw_session__jwt (both parts base64url-decoded and parsed
 *     with cm_json_parse, claims checked, issuer and audience matched) and, for a known
 *     issuer and algorithm, gw_session__jwt_signed: libjwt's jwt_decode with the issuer's
 *     key pinned (RS256, ES256) or OpenSSL (PS256, EdDSA); for an API key, gw_session__key
 *     against the snapshot's one key (an HMAC-SHA256 hash from cm_secret_hash) or none,
 *     with the failure limiter (cm_limiter) set wide open.
 *
 * The Ed25519 key comes from FUZZ_ED25519_SEED, so seeds signed by gen_seeds.c verify and
 * reach the checks after the signature (times, principal claim). The other keys' private
 * halves were thrown away: their seeds exercise parsing and failed verification.
 *
 * Properties checked: a Basic credential's base64 is exactly the canonical encoding of
 * "key:secret" (no second spelling of a credential); a bearer token is the rest of the
 * header after "Bearer " and its spaces; an accepted identity belongs to the snapshot's
 * tenant with a valid principal name; failures are never rate limited here (the limiter
 * is set wide open) and always say why.
 */
#include "../../gateway/gw_session.c"

#include "cm_b64.h"
#include "fuzz.h"

/* The one API key the snapshot holds, and its secret. */
#define FUZZ__KEY_ID "FUZZKEY1"
#define FUZZ__SECRET "fuzz-secret-1"
#define FUZZ__SOURCE "198.51.100.7"

static const char fuzz__rsa_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArqPdhW+y7wW8ouIr0IYW\n"
    "Cv2SK0ign9eEbdz+wAw/IZKN/4/toHf6A9HbdHpD6wU7bCRoEKb83rAUVuWD4CXw\n"
    "GoXinIt8GoZj8zCk9aCuI0mBY4umtSnb+8akGqA5f6fcmaCyYMGP7psv6F78kRPB\n"
    "WFLuoPQvSFnDJj363uzGsvuXTkW9fjZdGU5h8Y7CAJn1iKV8JmCYat8aFZOhHh7Q\n"
    "0+M214e4+SpM9q/eQzg06BFU9QHHxTsYmDKrGyX5qhSYqywWHJrtJPF97DKP5zLG\n"
    "V0n+D29HPt54jzAZ2+wyovBjBnyRBZTozEdJSlC8ANZSzLHG5NWEebSuO2+ZTicN\n"
    "YwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char fuzz__ec_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEHZXO6CBByLgqZ8RGBzf/Is11hCBV\n"
    "r5x69D41Al2Z0R5TGeb18N7FJbb1G4NLWPcKulTsKoaSXUdULrAcvOVgNw==\n"
    "-----END PUBLIC KEY-----\n";

static gw_t fuzz__gw;
static gw_worker_t fuzz__w;
static gw_snap_t fuzz__snap;
static gw_tenant_t fuzz__tenant;
static gw_principal_t fuzz__alice = { .name = "alice", .admin = true };
static gw_key_t fuzz__key;
static char fuzz__hash[CM_SECRET_HASH_MAX];
static char fuzz__ed_pub[256];
static gw_issuer_t fuzz__issuers[4];

/* The PEM public key of the Ed25519 key made from FUZZ_ED25519_SEED. */
static void fuzz__ed25519_pub(char *out, size_t cap)
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
                                               (const unsigned char *)FUZZ_ED25519_SEED, 32);
    BIO *bio = BIO_new(BIO_s_mem());
    if (k == NULL || bio == NULL || PEM_write_bio_PUBKEY(bio, k) != 1)
        abort();
    int n = BIO_read(bio, out, (int)cap - 1);
    if (n <= 0)
        abort();
    out[n] = '\0';
    BIO_free(bio);
    EVP_PKEY_free(k);
}

static void fuzz__issuer(gw_issuer_t *x, const char *iss, const char *alg, const char *keys)
{
    *x = (gw_issuer_t){ .tenant = &fuzz__tenant,
                        .issuer = iss,
                        .audience = "streamd",
                        .alg = alg,
                        .public_keys = keys,
                        .principal_claim = "sub" };
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    cm_log_init("fuzz", CM_LOG_ERROR);
    fuzz__gw.cfg.auth_cache_ms = 0;
    fuzz__gw.cfg.jwt_bytes_max = 8192;
    fuzz__gw.cfg.jwt_skew_ms = 60000;
    fuzz__gw.auth_failures = cm_limiter_new(4096, 1e12, 1e12);
    fuzz__w.gw = &fuzz__gw;
    cm_strmap_init(&fuzz__w.verified);

    fuzz__tenant.id = "00000000-0000-0000-0000-000000000001";
    fuzz__tenant.name = "acme";
    fuzz__tenant.active = true;
    cm_strmap_init(&fuzz__tenant.topics);
    cm_strmap_init(&fuzz__tenant.principals);
    cm_strmap_put(&fuzz__tenant.principals, "alice", 5, &fuzz__alice);

    cm_secret_hash(FUZZ__SECRET, fuzz__hash);
    fuzz__key = (gw_key_t){ .key_id = FUZZ__KEY_ID,
                            .tenant = &fuzz__tenant,
                            .principal = &fuzz__alice,
                            .secret_hash = fuzz__hash };
    cm_strmap_init(&fuzz__snap.keys);
    cm_strmap_init(&fuzz__snap.tenants);
    cm_strmap_put(&fuzz__snap.keys, FUZZ__KEY_ID, strlen(FUZZ__KEY_ID), &fuzz__key);
    cm_strmap_put(&fuzz__snap.tenants, fuzz__tenant.id, strlen(fuzz__tenant.id), &fuzz__tenant);

    fuzz__ed25519_pub(fuzz__ed_pub, sizeof(fuzz__ed_pub));
    fuzz__issuer(&fuzz__issuers[0], "https://rs.fuzz.example", "RS256", fuzz__rsa_pub);
    fuzz__issuer(&fuzz__issuers[1], "https://ps.fuzz.example", "PS256", fuzz__rsa_pub);
    fuzz__issuer(&fuzz__issuers[2], "https://es.fuzz.example", "ES256", fuzz__ec_pub);
    fuzz__issuer(&fuzz__issuers[3], "https://ed.fuzz.example", "EdDSA", fuzz__ed_pub);
    fuzz__snap.issuers = fuzz__issuers;
    fuzz__snap.n_issuers = 4;
    return 0;
}

/* Base64 both ways: what decodes re-encodes to the same text (one spelling per value). */
static void fuzz__b64(const char *in, size_t n)
{
    uint8_t *out = malloc(n / 4 * 3 + 3);
    char *again = malloc(n + 4);
    if (out == NULL || again == NULL)
        abort();
    long len = cm_b64_decode(in, n, false, out);
    if (len >= 0) {
        fuzz_assert((size_t)len <= n / 4 * 3);
        cm_b64_encode(out, (size_t)len, again);
        if (cm_b64_encoded_len((size_t)len) != n || memcmp(again, in, n) != 0)
            fuzz_fail("base64 %.*s decodes to %ld bytes that encode differently", (int)n, in, len);
    }
    len = cm_b64_decode(in, n, true, out);
    if (len >= 0) {
        size_t m = n;
        while (m > 0 && in[m - 1] == '=')
            m--;
        char *url = malloc(m + 4);
        if (url == NULL)
            abort();
        cm_secret_b64url(out, (size_t)len, url, m + 4);
        if (strlen(url) != m || memcmp(url, in, m) != 0)
            fuzz_fail("base64url %.*s decodes to %ld bytes that encode differently", (int)n, in,
                      len);
        free(url);
    }
    free(out);
    free(again);
}

/* The Basic credential is the canonical base64 of "key:secret". */
static void fuzz__basic(const char *header, const gw_cred_t *c)
{
    const char *b = header + 6;
    while (*b == ' ')
        b++;
    size_t kl = strlen(c->key_id), sl = strlen(c->secret), n = kl + 1 + sl;
    fuzz_assert(strchr(c->key_id, ':') == NULL);
    char *plain = malloc(n + 1), *enc = malloc(cm_b64_encoded_len(n) + 1);
    if (plain == NULL || enc == NULL)
        abort();
    snprintf(plain, n + 1, "%s:%s", c->key_id, c->secret);
    cm_b64_encode((const uint8_t *)plain, n, enc);
    enc[cm_b64_encoded_len(n)] = '\0';
    if (strcmp(enc, b) != 0)
        fuzz_fail("credential \"%s\" has a second base64 spelling: %s", plain, b);
    free(plain);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A header value as cm_http_header hands it over: a C string (a NUL ends it). */
    char *header = malloc(size + 1);
    if (header == NULL)
        abort();
    memcpy(header, data, size);
    header[size] = '\0';
    fuzz__b64(header, strlen(header));

    cm_arena_t a;
    cm_arena_init(&a, 1u << 20);
    gw_cred_t c;
    if (!gw_session_cred(header, &a, &c))
        goto out;
    if (c.kind == GW_CRED_KEY) {
        fuzz__basic(header, &c);
    } else if (c.kind == GW_CRED_JWT) {
        fuzz_assert(c.token_len > 0 && c.token_len == strlen(c.token) && c.token[0] != ' ');
        fuzz_assert(strcmp(c.token, header + strlen(header) - c.token_len) == 0);
    } else {
        goto out;
    }
    gw_session_t ss;
    int retry = 0;
    char why[256] = "";
    gw_auth_t rc =
        gw_session_auth(&fuzz__w, &fuzz__snap, &c, FUZZ__SOURCE, &ss, &retry, why, sizeof(why));
    fuzz_assert(rc != GW_AUTH_LIMITED && rc != GW_AUTH_MISSING);
    if (rc == GW_AUTH_OK) {
        fuzz_assert(ss.tenant == &fuzz__tenant && ss.snap == &fuzz__snap);
        fuzz_assert(gw_session_principal_ok(ss.principal));
        if (c.kind == GW_CRED_KEY)
            fuzz_assert(strcmp(c.secret, FUZZ__SECRET) == 0 && ss.admin);
    } else {
        fuzz_assert(why[0] != '\0');
    }
out:
    cm_arena_free(&a);
    free(header);
    return 0;
}
