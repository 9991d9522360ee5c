"""Service authentication: the backend presents one of the configured internal API keys."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from connect_worker.config import ApiKey


def presented_key(headers: Mapping[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def match_key(presented: str | None, keys: tuple[ApiKey, ...]) -> str | None:
    """The version of the matching key, or None.

    Every configured key is compared (constant time each, no early exit) so timing does not reveal
    which key, or whether any key, shares a prefix with the presented one.
    """
    candidate = (presented or "").encode()
    matched: str | None = None
    for key in keys:
        if hmac.compare_digest(candidate, key.key.encode()) and matched is None:
            matched = key.version
    return matched
