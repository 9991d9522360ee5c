"""Better Auth session tokens as the browser sends them.

Signed form: `<token>.<sig>` where `sig` is standard base64 (`=`-padded, 44 chars) of
HMAC-SHA256(key=BETTER_AUTH_SECRET, msg=token) — what better-call's `signCookieValue` produces. On
the wire it is URL-encoded (`%2B %2F %3D`); Better Auth's `bearer()` plugin accepts it encoded or
not, and the raw token too. base64url or unpadded signatures are refused, as the library does.
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass
from urllib.parse import unquote

_RAW_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,255}")
_STD_BASE64 = re.compile(r"[A-Za-z0-9+/]{43}=")  # 32 bytes: 44 characters, padded


@dataclass(frozen=True, slots=True)
class SessionToken:
    token: str
    signed: bool


def sign(token: str, secret: str) -> str:
    # One-shot `hmac.digest` (OpenSSL's HMAC in one call): no HMAC object per request.
    return base64.b64encode(hmac.digest(secret.encode(), token.encode(), "sha256")).decode()


def parse_session_token(
    value: str, *, secret: str, require_signed: bool = False
) -> SessionToken | None:
    """The session token to look up, or None when the value is not an acceptable session token."""
    decoded = unquote(value) if "%" in value else value
    token, dot, signature = decoded.rpartition(".")
    if not dot:
        if require_signed or not _RAW_TOKEN.fullmatch(decoded):
            return None
        return SessionToken(token=decoded, signed=False)
    if not _RAW_TOKEN.fullmatch(token) or not _STD_BASE64.fullmatch(signature):
        return None
    if not hmac.compare_digest(signature, sign(token, secret)):  # both ASCII: constant time
        return None
    return SessionToken(token=token, signed=True)
