#!/usr/bin/env python3
"""Makes a JWT for tests: mkjwt.py HEADER_JSON CLAIMS_JSON KEYFILE.

The header's "alg" picks the signature: RS*, PS*, ES* and EdDSA sign with the PEM private
key in KEYFILE (through openssl; ES* signatures are turned from DER into JWS's fixed-size
r || s), HS256/HS384/HS512 use KEYFILE's bytes as the HMAC secret (the "public key as HMAC
secret" attack), any other alg (none, None, ...) gets an empty signature. MKJWT_SIG=zero
replaces the signature with as many zero bytes (ECDSA's r = s = 0, CVE-2022-21449);
MKJWT_SIG=der leaves an ES* signature in DER. Claims may use "$now+N" / "$now-N" strings for times relative to now.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import tempfile
import time


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def der_to_raw(der, n):
    """An ECDSA-Sig-Value (SEQUENCE of INTEGER r, s) as r || s, each n bytes."""
    def length(b, i):
        if b[i] < 0x80:
            return b[i], i + 1
        k = b[i] & 0x7f
        return int.from_bytes(b[i + 1:i + 1 + k], "big"), i + 1 + k
    assert der[0] == 0x30
    _, i = length(der, 1)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        ln, i = length(der, i + 1)
        out += int.from_bytes(der[i:i + ln], "big").to_bytes(n, "big")
        i += ln
    return out


def main():
    header = json.loads(sys.argv[1])
    claims = json.loads(sys.argv[2])
    keyfile = sys.argv[3]
    now = int(time.time())
    for k, v in list(claims.items()):
        m = re.fullmatch(r"\$now([+-]\d+)?", str(v))
        if m:
            claims[k] = now + int(m.group(1) or 0)
    signing = (b64url(json.dumps(header).encode()) + "." +
               b64url(json.dumps(claims).encode())).encode()
    alg = header.get("alg", "")
    bits = alg[2:]
    if alg in ("RS256", "RS384", "RS512"):
        sig = subprocess.run(["openssl", "dgst", "-sha" + bits, "-sign", keyfile],
                             input=signing, capture_output=True, check=True).stdout
    elif alg in ("PS256", "PS384", "PS512"):
        sig = subprocess.run(["openssl", "dgst", "-sha" + bits, "-sigopt", "rsa_padding_mode:pss",
                              "-sigopt", "rsa_pss_saltlen:digest", "-sign", keyfile],
                             input=signing, capture_output=True, check=True).stdout
    elif alg in ("ES256", "ES384", "ES512"):
        sig = subprocess.run(["openssl", "dgst", "-sha" + bits, "-sign", keyfile],
                             input=signing, capture_output=True, check=True).stdout
        if os.environ.get("MKJWT_SIG") != "der":
            sig = der_to_raw(sig, {"256": 32, "384": 48, "512": 66}[bits])
    elif alg == "EdDSA":
        with tempfile.NamedTemporaryFile() as f:
            f.write(signing)
            f.flush()
            sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", keyfile,
                                  "-in", f.name], capture_output=True, check=True).stdout
    elif alg in ("HS256", "HS384", "HS512"):
        sig = hmac.new(open(keyfile, "rb").read(), signing, getattr(hashlib, "sha" + bits)).digest()
    else:
        sig = b""
    if os.environ.get("MKJWT_SIG") == "zero":
        sig = bytes(len(sig))
    print(signing.decode() + "." + b64url(sig))


main()
