#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/: a few inputs per target that reach the
paths worth mutating (valid tokens of both kinds, a valid JWKS, bodies at the limits, cursors
the server sealed...). Deterministic: run it again and nothing changes. Standard library only;
the Ed25519 signer below is the textbook construction (RFC 8032 §5.1), checked at start
against the RFC's first test vector.

Keys and constants match fuzz/src/lib.rs: HS256 secret, Ed25519 seeds [7]*32 ("ed") and
[9]*32 ("ed-2"), issuer/audience, the clock (NOW), the cursor key and context.
"""
import base64
import hashlib
import hmac
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = 1_800_000_000
SECRET = b"fuzzing-secret-of-more-than-32-bytes!"
ISSUER = "https://auth.example"
AUDIENCE = "https://api.example"
CURSOR_KEY = b"a-cursor-key-for-fuzzing-32-bytes!"

# --- Ed25519 (RFC 8032 §5.1) -------------------------------------------------------------
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def recover_x(y, sign):
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if x & 1 != sign:
        x = P - x
    return x


BASE_Y = 4 * pow(5, P - 2, P) % P
BASE = (recover_x(BASE_Y, 0), BASE_Y, 1, recover_x(BASE_Y, 0) * BASE_Y % P)


def add(p1, p2):
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def mul(s, point):
    q = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = add(q, point)
        point = add(point, point)
        s >>= 1
    return q


def encode(point):
    x, y, z, _ = point
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def h_int(*parts):
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little")


def expand(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def public_key(seed):
    a, _ = expand(seed)
    return encode(mul(a, BASE))


def sign(seed, message):
    a, prefix = expand(seed)
    public = encode(mul(a, BASE))
    r = h_int(prefix, message) % L
    big_r = encode(mul(r, BASE))
    k = h_int(big_r, public, message) % L
    return big_r + int.to_bytes((r + k * a) % L, 32, "little")


_vector = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
assert public_key(_vector).hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
assert sign(_vector, b"").hex().startswith("e5564300c360ac729086e2cc806e828a84877f1e")

# --- tokens -------------------------------------------------------------------------------
ED, ED2 = bytes([7] * 32), bytes([9] * 32)


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(value):
    return json.dumps(value, separators=(",", ":")).encode()


def hs256(header, claims, secret=SECRET):
    signing = f"{b64(compact(header))}.{b64(compact(claims))}"
    mac = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{b64(mac)}"


def eddsa(header, claims, seed=ED):
    signing = f"{b64(compact(header))}.{b64(compact(claims))}"
    return f"{signing}.{b64(sign(seed, signing.encode()))}"


def claims(**extra):
    base = {"sub": "user-1", "exp": NOW + 600, "iat": NOW - 10, "iss": ISSUER, "aud": AUDIENCE}
    base.update(extra)
    return base


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data if isinstance(data, bytes) else data.encode())


HS_HEADER = {"alg": "HS256", "typ": "JWT"}
ED_HEADER = {"alg": "EdDSA", "kid": "ed"}

write("authorization", "hs256", "Bearer " + hs256(HS_HEADER, claims()))
write("authorization", "hs256-better-auth-claims", "bearer " + hs256(
    HS_HEADER, claims(id="kGqZ1sT9a8B3xYw2LmN4oP6rQ7uV0cDe", email="a@example.com",
                      emailVerified=True, nbf=NOW - 5, aud=[AUDIENCE, "x"])))
write("authorization", "eddsa", "Bearer " + eddsa(ED_HEADER, claims()))
write("authorization", "eddsa-second-key", "Bearer  " + eddsa(
    {"alg": "EdDSA", "kid": "ed-2", "typ": "JWT"}, claims(user_id="u:2"), ED2))
write("authorization", "crit", "Bearer " + hs256({**HS_HEADER, "crit": ["exp"]}, claims()))
write("authorization", "none", "Bearer " + b64(b'{"alg":"none"}') + "." + b64(compact(claims())) + ".")
write("authorization", "basic", "Basic dXNlcjpwYXNz")

# Structured tokens: flags, header JSON, 0xFF, payload JSON (the harness signs).
def structured(flags, header, payload):
    return bytes([flags]) + compact(header) + b"\xff" + compact(payload)

for target, header in (("token_hs256", HS_HEADER), ("token_jwks", ED_HEADER)):
    write(target, "valid", structured(3, header, claims()))
    write(target, "valid-no-checks", structured(0, header, {"sub": "u", "exp": NOW}))
    write(target, "b64-true", structured(3, {**header, "b64": True}, claims()))
    write(target, "crit-empty", structured(3, {**header, "crit": []}, claims()))
    write(target, "times-at-edges", structured(0, header, claims(
        exp=253402300799, nbf=NOW + 60, iat=0)))
    write(target, "fallback-ids", structured(3, header, claims(sub=None, user_id=None, id="id.7")))
    write(target, "tampered", structured(3 | (8 if target == "token_hs256" else 16), header, claims()))
write("token_jwks", "second-key", structured(4 | 3, {"alg": "EdDSA", "kid": "ed-2"}, claims()))
write("token_jwks", "typ-jwt", structured(3, {**ED_HEADER, "typ": "application/jwt"}, claims()))

ed_x, ed2_x = b64(public_key(ED)), b64(public_key(ED2))
write("jwks", "ours", compact({"keys": [
    {"kty": "OKP", "crv": "Ed25519", "x": ed_x, "kid": "ed", "alg": "EdDSA", "use": "sig"}]}))
write("jwks", "ours-no-kid", compact({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": ed_x}]}))
write("jwks", "mixed", compact({"keys": [
    {"kty": "oct", "k": b64(SECRET), "kid": "ed", "alg": "HS256"},
    {"kty": "OKP", "crv": "Ed25519", "x": ed2_x, "kid": "ed"},
    {"kty": "OKP", "crv": "Ed25519", "x": ed_x, "kid": "ed", "use": "enc"},
    {"kty": "OKP", "crv": "Ed25519", "x": ed_x, "kid": "ed", "alg": "ES256"},
    {"kty": "OKP", "crv": "Ed25519", "x": ed_x, "kid": "ed"},
]}))
write("jwks", "ec-and-rsa", compact({"keys": [
    {"kty": "EC", "crv": "P-256", "kid": "p",
     "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
     "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
    {"kty": "RSA", "kid": "r", "alg": "RS256", "e": "AQAB", "n": b64(b"\xc1" + bytes(255))},
]}))

write("task_body", "create", compact({"title": " Buy milk ", "description": "2 litres\tnow\n", "completed": False}))
write("task_body", "put-back", compact({"id": "x", "user_id": "u", "created_at": "t", "updated_at": "t",
                                      "title": "T", "description": None, "completed": True}))
write("task_body", "completion", b'{"completed":true}')
write("task_body", "empty", b"")
write("task_body", "widest", compact({"title": "\u00e9" * 255, "description": "\U0001f600" * 10000}))
write("task_body", "controls", compact({"title": "a\u0007", "description": "\u001f\u007f\u0085"}))

write("list_query", "everything", "completed=false&q=%20Milk%25&sort=title&order=desc&limit=25")
write("list_query", "defaults", "")
write("list_query", "repeated", "limit=5&limit=6&page=2")
write("list_query", "bad-cursor", "sort=updated_at&order=asc&cursor=abc.def")


def cursor(position, context):
    payload = b64(compact(position))
    mac = hmac.new(CURSOR_KEY, digestmod=hashlib.sha256)
    for part in ["task-api cursor v1", *context, payload]:
        data = part.encode()
        mac.update(struct.pack(">Q", len(data)))
        mac.update(data)
    return f"{payload}.{b64(mac.digest()[:16])}"


ID = "07070707-0707-0707-0707-070707070707"
write("list_query", "sealed-time", "cursor=" + cursor({"t": NOW * 1_000_000, "i": ID},
                                                     ["alice", "created_at", "desc", "", ""]))
write("list_query", "sealed-title", "sort=title&completed=true&cursor=" + cursor(
    {"s": "Buy \"milk\"", "i": ID}, ["alice", "title", "asc", "true", ""]))
write("cursor", "sealed", b"\x00" + cursor({"s": "Buy milk", "i": ID}, ["alice", "title", "asc", "", ""]).encode())
write("cursor", "position-time", b"\x01\x01" + struct.pack(">q", NOW * 1_000_000) + bytes(range(16)))
write("cursor", "position-title", b"\x01\x02" + bytes(8) + bytes(range(16)) + "\u00e9\u001f\"x".encode())

write("conditional", "list", '"v3", W/"v5", "abc"')
write("conditional", "star", " * ")
write("conditional", "garbage", '"v 3", v4')
write("idempotency_key", "plain", " order-7 ")
write("idempotency_key", "longest", "k" * 255)
write("idempotency_key", "latin1", b"caf\xe9")
write("path", "user", "a%40b%3Ac")
write("path", "task-id", "0b5c6f5e-8a51-4e0c-9a4f-4f5c1c2d3e4f")
write("path", "bad-escapes", "%zz%4%FF%C3%A9")
