"""Stripe webhook signatures: HMAC-SHA256 over `"{t}.{raw body}"`, checked in constant time.

Several secrets are accepted at once (platform endpoint, Connect endpoint, the old secret during a
rotation); a `v1` signature matching any of them is enough. The timestamp must lie within the
tolerance either way, so a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence


class SignatureError(Exception):
    """Why a delivery was refused; `reason` is a short code safe to log."""

    def __init__(self, reason: str, *, timestamp: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timestamp = timestamp


def compute_signature(payload: bytes, *, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign_header(payload: bytes, *, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header value, as Stripe would send it (used by tests and tools)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={compute_signature(payload, secret=secret, timestamp=t)}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("malformed_timestamp") from None
        elif key == "v1":
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("missing_timestamp")
    if not signatures:
        raise SignatureError("no_v1_signature", timestamp=timestamp)
    return timestamp, signatures


def check_header(
    header: str | None, *, tolerance_seconds: int = 300, now: float | None = None
) -> tuple[int, list[str]]:
    """The signed timestamp and the `v1` signatures, if the header is well formed and fresh —
    all that can be checked before the body is read (a refusal here reads no body at all)."""
    if not header:
        raise SignatureError("missing_header")
    if len(header) > 4096:
        raise SignatureError("header_too_long")
    timestamp, signatures = _parse(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise SignatureError("outside_tolerance", timestamp=timestamp)
    return timestamp, signatures


def check_body(
    payload: bytes, timestamp: int, signatures: Sequence[str], *, secrets: Sequence[str]
) -> None:
    """Raises `SignatureError` unless a signature matches the body under one of `secrets`."""
    matched = False
    # Bytes, not str: compare_digest raises on a non-ASCII str (a header byte past 0x7f).
    presented = [candidate.encode("utf-8", "surrogateescape") for candidate in signatures]
    for secret in secrets:
        expected = compute_signature(payload, secret=secret, timestamp=timestamp).encode()
        for candidate in presented:
            # No early exit: the time taken does not reveal which secret or signature matched.
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("no_matching_signature", timestamp=timestamp)


def verify_signature(
    payload: bytes,
    header: str | None,
    *,
    secrets: Sequence[str],
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> int:
    """Returns the signed timestamp, or raises `SignatureError`."""
    timestamp, signatures = check_header(header, tolerance_seconds=tolerance_seconds, now=now)
    check_body(payload, timestamp, signatures, secrets=secrets)
    return timestamp
