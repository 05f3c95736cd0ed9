import base64, json, os
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b'=').decode()
key = ec.derive_private_key(0x1234567890abcdef1234567890abcdef, ec.SECP256R1())
pub = key.public_key().public_numbers()
jwk = {"kty":"EC","crv":"P-256","x":b64(pub.x.to_bytes(32,'big')),"y":b64(pub.y.to_bytes(32,'big'))}
def sign(header, claims):
    h=b64(json.dumps(header,separators=(',',':')).encode()); c=b64(json.dumps(claims,separators=(',',':')).encode())
    der=key.sign(f"{h}.{c}".encode(), ec.ECDSA(hashes.SHA256()))
    r,s=decode_dss_signature(der)
    return f"{h}.{c}."+b64(r.to_bytes(32,'big')+s.to_bytes(32,'big'))
NOW=1795000000
ISS="https://localhost:8443"
open("jose-seed-jwks.json","w").write(json.dumps({"keys":[dict(jwk,kid="k1",use="sig",alg="ES256")]}))
d="corpus/jose"; os.makedirs(d,exist_ok=True)
seeds={
 "dpop_valid": sign({"typ":"dpop+jwt","alg":"ES256","jwk":jwk},{"jti":"j1","htm":"POST","htu":ISS+"/oauth2/token","iat":NOW,"nonce":"n-1"}),
 "dpop_no_nonce": sign({"typ":"dpop+jwt","alg":"ES256","jwk":jwk},{"jti":"j2","htm":"POST","htu":ISS+"/oauth2/token","iat":NOW}),
 "dpop_iat_min": sign({"typ":"dpop+jwt","alg":"ES256","jwk":jwk},{"jti":"j3","htm":"POST","htu":ISS+"/oauth2/token","iat":-9223372036854775808,"nonce":"n-1"}),
 "dpop_iat_max": sign({"typ":"dpop+jwt","alg":"ES256","jwk":jwk},{"jti":"j4","htm":"POST","htu":ISS+"/oauth2/token?x#y","iat":9223372036854775807,"nonce":"n-1"}),
 "assertion_valid": sign({"alg":"ES256","kid":"k1"},{"iss":"ck_fuzz","sub":"ck_fuzz","aud":ISS,"exp":NOW+60,"iat":NOW,"jti":"a1"}),
 "assertion_no_kid": sign({"alg":"ES256"},{"iss":"ck_fuzz","sub":"ck_fuzz","aud":ISS,"exp":NOW+60,"jti":"a2"}),
 "assertion_iat_min": sign({"alg":"ES256","kid":"k1"},{"iss":"ck_fuzz","sub":"ck_fuzz","aud":ISS,"exp":NOW+60,"iat":-9223372036854775808,"jti":"a3"}),
 "assertion_exp_max": sign({"alg":"ES256","kid":"k1"},{"iss":"ck_fuzz","sub":"ck_fuzz","aud":ISS,"exp":9223372036854775807,"nbf":-9223372036854775808,"jti":"a4"}),
 "assertion_aud_array": sign({"alg":"ES256","kid":"k1"},{"iss":"ck_fuzz","sub":"ck_fuzz","aud":[ISS],"exp":NOW+60,"jti":"a5"}),
 "alg_none": b64(b'{"alg":"none"}')+"."+b64(b'{"iss":"ck_fuzz"}')+".",
 "alg_hs256": b64(b'{"alg":"HS256","typ":"dpop+jwt"}')+"."+b64(b'{}')+".AAAA",
 "not_a_jwt": "a.b",
 "empty": "",
 "private_jwk": sign({"typ":"dpop+jwt","alg":"ES256","jwk":dict(jwk,d="AAAA")},{"jti":"j5","htm":"POST","htu":ISS+"/oauth2/token","iat":NOW,"nonce":"n-1"}),
}
seeds["assertion_other_jwks"] = seeds["assertion_valid"]+"\n"+json.dumps({"keys":[jwk,jwk,{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]})
seeds["assertion_bad_jwks"] = seeds["assertion_valid"]+"\n{\"keys\":"
for k,v in seeds.items(): open(f"{d}/{k}","w").write(v)
