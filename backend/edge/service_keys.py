"""The two server-to-server keys: the platform's services (`X-Platform-Key`) and the operator
(`X-Operator-Key`). Compared in constant time; never logged or echoed."""

from __future__ import annotations

import hmac
from typing import Literal

from pydantic import SecretStr
from starlette.requests import Request

from backend.core.errors import ApiError

PLATFORM_HEADER = "x-platform-key"
OPERATOR_HEADER = "x-operator-key"
Caller = Literal["member", "platform", "operator"]


def _matches(presented: str, configured: SecretStr | None) -> bool:
    if configured is None:
        return False
    return hmac.compare_digest(presented.encode(), configured.get_secret_value().encode())


def require_platform_key(request: Request, configured: SecretStr | None) -> None:
    if not _matches(request.headers.get(PLATFORM_HEADER, ""), configured):
        raise ApiError(401, "invalid_platform_key", "Missing or invalid platform key.")


def caller_of(
    request: Request, *, platform: SecretStr | None, operator: SecretStr | None
) -> Caller:
    """Who is asking: a request carrying a service key is that service (and refused if the key
    is wrong — it never falls back to the session); otherwise an organization's member."""
    if OPERATOR_HEADER in request.headers:
        if not _matches(request.headers[OPERATOR_HEADER], operator):
            raise ApiError(401, "invalid_operator_key", "Missing or invalid operator key.")
        return "operator"
    if PLATFORM_HEADER in request.headers:
        require_platform_key(request, platform)
        return "platform"
    return "member"
