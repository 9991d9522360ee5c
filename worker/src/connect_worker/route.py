"""What a table module declares per route: its handler and, for a POST, the body's field specs.

Each table module exports `ROUTES` keyed by (method, path below the prefix); `app.py` composes
them. The field kinds several tables share are named here once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connect_worker.deps import Deps
from connect_worker.validation import MAX_SAFE_INTEGER, Field, integer, string

Result = tuple[int, dict[str, Any]]
Handler = Callable[[Deps, Mapping[str, str], Any], Awaitable[Result]]


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    # For POST routes: the body's fields; None with json_body=True hands the handler raw JSON.
    fields: Mapping[str, Field] | None = None
    json_body: bool = False

    @classmethod
    def get(cls, handler: Handler) -> Route:
        return cls(handler)

    @classmethod
    def post(cls, handler: Handler, fields: Mapping[str, Field] | None = None) -> Route:
        return cls(handler, fields, json_body=True)


def path_param(params: Mapping[str, str], name: str) -> str | None:
    """A path segment as an id: None (so the handler answers 404) when empty or over 255 chars."""
    value = params[name]
    return value if 0 < len(value) <= 255 else None


ID = string(max_len=128)
ACCOUNT_ID = string(pattern=r"acct_[A-Za-z0-9]{1,100}")
CURRENCY = string(pattern=r"[a-z]{3}")
AMOUNT = integer(min_value=0, max_value=10**12)
IDEMPOTENCY_KEY = string(min_len=1, max_len=255)
UNIX_TIME = integer(min_value=0, max_value=MAX_SAFE_INTEGER)
