"""Better Auth JWTs (`jwt()` plugin): EdDSA / Ed25519, `kid` = `jwks.id`, `exp` always checked.

Only `alg: EdDSA` is accepted — `none`, HS256 and every other algorithm are refused before any key
is looked at, so a public key can never be used as an HMAC secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
ED25519_PUBLIC_KEY_BYTES = 32
ED25519_SIGNATURE_BYTES = 64


class Ed25519Verifier(Protocol):
    async def verify(self, public_key: bytes, signature: bytes, message: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class UnverifiedJwt:
    kid: str
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def subject(self) -> str | None:
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) and sub else None


def looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and value.startswith("eyJ")


def b64url_decode(segment: str) -> bytes:
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def parse_jwt(value: str) -> UnverifiedJwt | None:
    """Split and decode a compact JWS; None when malformed or not EdDSA with a `kid`."""
    try:
        header_b64, payload_b64, signature_b64 = value.split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(payload_b64))
        signature = b64url_decode(signature_b64)
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    if header.get("alg") != "EdDSA" or "crit" in header:
        return None
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(signature) != ED25519_SIGNATURE_BYTES:
        return None
    return UnverifiedJwt(
        kid=kid,
        claims=claims,
        signing_input=f"{header_b64}.{payload_b64}".encode(),
        signature=signature,
    )


def public_key_from_jwk(public_jwk: str) -> bytes | None:
    """The raw Ed25519 key from `jwks.publicKey` (a JWK as JSON text), or None if unusable."""
    try:
        jwk = json.loads(public_jwk)
    except (ValueError, RecursionError):
        return None
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        return None
    x = jwk.get("x")
    if not isinstance(x, str):
        return None
    try:
        key = b64url_decode(x)
    except (ValueError, binascii.Error):
        return None
    return key if len(key) == ED25519_PUBLIC_KEY_BYTES else None


def claims_acceptable(
    claims: dict[str, Any], *, now: float, issuer: str | None, audience: str | None
) -> bool:
    """`exp` is required and must lie in the future; `nbf` honoured; `iss`/`aud` when configured."""
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float) or exp <= now:
        return False
    nbf = claims.get("nbf")
    if nbf is not None and (isinstance(nbf, bool) or not isinstance(nbf, int | float) or nbf > now):
        return False
    if issuer is not None and claims.get("iss") != issuer:
        return False
    if audience is not None:
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if audience not in audiences:
            return False
    return True


async def verify_signature(
    token: UnverifiedJwt, public_jwk: str, verifier: Ed25519Verifier
) -> bool:
    key = public_key_from_jwk(public_jwk)
    if key is None:
        return False
    return await verifier.verify(key, token.signature, token.signing_input)
