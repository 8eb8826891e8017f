#!/usr/bin/env python3
"""Makes a JWT for tests: mkjwt.py HEADER_JSON CLAIMS_JSON KEYFILE.

The header's "alg" picks the signature: RS*, PS* and EdDSA sign with the PEM private key in
KEYFILE (through openssl), HS256/HS384/HS512 use KEYFILE's bytes as the HMAC secret (the
"public key as HMAC secret" attack), any other alg (none, None, ...) gets an empty
signature. Claims may use "$now+N" / "$now-N" strings for times relative to now.
"""
import base64
import hashlib
import hmac
import json
import re
import subprocess
import sys
import tempfile
import time


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


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
    print(signing.decode() + "." + b64url(sig))


main()
