"""Account Link return/refresh URLs: only ever back to a configured frontend origin.

Anything else would turn onboarding into an open redirect that carries a Stripe-hosted flow.
"""

from __future__ import annotations

from collections.abc import Sequence

from backend.core.errors import InvalidRequest
from backend.core.settings import normalise_origin

DEFAULT_PATH = "/settings/payments"


def _bad(message: str) -> InvalidRequest:
    return InvalidRequest(code="invalid_redirect", message=message)


def _safe_path(path: str) -> str:
    if not path.startswith("/") or path.startswith("//"):
        raise _bad("A redirect path must start with a single '/'.")
    if "\\" in path or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in path):
        raise _bad("A redirect path must not contain spaces, backslashes or control characters.")
    return path


def resolve_redirect(
    url: str | None, path: str | None, *, origins: Sequence[str], purpose: str
) -> str:
    """`url` on a configured origin, or `path` on the first origin, or the default settings page."""
    if url is not None and path is not None:
        raise _bad(f"Send either {purpose}_url or {purpose}_path, not both.")
    if path is not None:
        return origins[0] + _safe_path(path)
    if url is None:
        return f"{origins[0]}{DEFAULT_PATH}?connect={purpose}"
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url) or "\\" in url:
        raise _bad("The redirect URL contains forbidden characters.")
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise _bad("The redirect URL must be absolute.")
    authority, slash, tail = rest.partition("/")
    try:
        origin = normalise_origin(f"{scheme}://{authority}")
    except ValueError:
        raise _bad("The redirect URL must be on a configured frontend origin.") from None
    if origin not in origins:
        raise _bad("The redirect URL must be on a configured frontend origin.")
    return origin + _safe_path(slash + tail) if slash else origin + "/"
