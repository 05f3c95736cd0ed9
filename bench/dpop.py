"""ES256 client assertions (RFC 7523) and DPoP proofs (RFC 9449) for the
`private_key_jwt` + DPoP token case.

wrk's Lua cannot sign, so the harness signs one assertion and one proof per
request here, each with its own `jti`, just before the case, and wrk sends
each pair once (`wrk/request.lua`, `BENCH_POOL`). Needs `cryptography`
(bench/requirements.txt, installed by bench/run into bench/.venv).
"""

import base64
import json
import time
import urllib.parse
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(obj):
    return b64(json.dumps(obj, separators=(",", ":")).encode())


class Es256Key:
    def __init__(self, kid):
        self.kid = kid
        self.key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.key.public_key().public_numbers()
        self.jwk = {"kty": "EC", "crv": "P-256", "x": b64(numbers.x.to_bytes(32, "big")),
                    "y": b64(numbers.y.to_bytes(32, "big"))}

    def sign(self, header, claims):
        signing_input = f"{compact({'alg': 'ES256', **header})}.{compact(claims)}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


class Fapi2Client:
    """A `fapi2` client: its assertion key (registered as its JWKS) and its DPoP key."""

    def __init__(self):
        self.signing = Es256Key("bench-client-key")
        self.dpop = Es256Key("bench-dpop-key")
        self.client_id = None

    def jwks(self):
        return {"keys": [{**self.signing.jwk, "kid": self.signing.kid, "use": "sig", "alg": "ES256"}]}

    def assertion(self, issuer, now):
        return self.signing.sign({"kid": self.signing.kid}, {
            "iss": self.client_id, "sub": self.client_id, "aud": issuer, "iat": now,
            "exp": now + 120, "jti": str(uuid.uuid4())})

    def proof(self, htu, now, nonce):
        claims = {"jti": str(uuid.uuid4()), "htm": "POST", "htu": htu, "iat": now}
        if nonce is not None:
            claims["nonce"] = nonce
        return self.dpop.sign({"typ": "dpop+jwt", "jwk": self.dpop.jwk}, claims)

    def token_form(self, issuer, now):
        return urllib.parse.urlencode({"grant_type": "client_credentials",
                                       "client_assertion_type": ASSERTION_TYPE,
                                       "client_assertion": self.assertion(issuer, now)})

    def write_pool(self, path, count, issuer, nonce, budget_secs):
        """Up to `count` lines of "token request body<TAB>DPoP proof", each usable once,
        signed for at most `budget_secs` (every proof's `iat` is the start, and the
        server takes proofs up to 60 s old). Returns how many were written."""
        now, started = int(time.time()), time.monotonic()
        htu = f"{issuer}/oauth2/token"
        with open(path, "w") as f:
            for written in range(count):
                # The clock is read every thousand pairs, not for each.
                if written % 1000 == 0 and time.monotonic() - started >= budget_secs:
                    return written
                f.write(f"{self.token_form(issuer, now)}\t{self.proof(htu, now, nonce)}\n")
        return count
