"""The `Idempotency-Key` header, by Stripe's rules, for every route that moves money.

At most 255 characters (Stripe's limit). The key is taken exactly as sent: one with leading or
trailing whitespace, or any character outside printable ASCII (controls included), is a 400 —
never trimmed into a different key that would silently replay or miss another request. Nor
`.` or `..`: a replay looks the key up as a segment of a Worker URL, which Cloudflare's runtime
resolves away (the WHATWG URL parser), so such a key could never be found again.
"""

from __future__ import annotations

from starlette.requests import Request

from backend.core.errors import InvalidRequest

MAX_IDEMPOTENCY_KEY = 255


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(code="invalid_idempotency_key", message=message)


def require_idempotency_key(request: Request) -> str:
    key = request.headers.get("idempotency-key")
    if key is None or key == "":
        raise InvalidRequest(
            code="idempotency_key_required", message="Send an Idempotency-Key header."
        )
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise _invalid(f"Idempotency-Key may have at most {MAX_IDEMPOTENCY_KEY} characters.")
    if any(not 0x20 <= ord(ch) <= 0x7E for ch in key):
        raise _invalid("Idempotency-Key must be printable ASCII, without control characters.")
    if key != key.strip():
        raise _invalid("Idempotency-Key must not start or end with whitespace.")
    if key in (".", ".."):
        raise _invalid("Idempotency-Key must not be `.` or `..`.")
    return key
