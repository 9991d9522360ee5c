"""What a table module declares per route: its handler, for a POST the body's field specs, and
the key its reply model is sent under.

Each table module exports `ROUTES` keyed by (method, path below the prefix); `app.py` composes
them and is the one place a reply model becomes JSON. The field kinds several tables share are
named here once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from connect_worker.d1 import Row
from connect_worker.deps import Deps
from connect_worker.validation import MAX_SAFE_INTEGER, Field, integer, string

# A route's answer: a NamedTuple whose fields, in order, are the reply's JSON keys (nested models
# and lists of them alike), or — on a route that names its reply key — one model or a list of
# them sent under that key. `app.to_json` is the one place it becomes JSON; a reply whose
# `created` is true answers 201 (the contract's rule for every reservation), any other 200.
Reply = NamedTuple
M = TypeVar("M", bound=NamedTuple)


def from_row(model: type[M], row: Row, **computed: Any) -> M:
    """The model from a row's columns, values as stored; `computed` gives the fields no column
    holds."""
    return model._make(computed[n] if n in computed else row.get(n) for n in model._fields)


Params = Mapping[str, str]  # the path's parameters, decoded
Body = dict[str, Any]  # the body as its route's fields validated it
Handler = Callable[[Deps, Params, Any], Awaitable["Reply | Sequence[Reply]"]]


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    # A POST's body is JSON, validated against these fields; None hands the handler raw JSON.
    fields: Mapping[str, Field] | None = None
    # The JSON key the handler's model (`{"transfer": …}`) goes under; None: the model is the reply.
    reply: str | None = None


def path_param(params: Params, name: str) -> str | None:
    """A path segment as an id: None (so the handler answers 404) when empty or over 255 chars."""
    value = params[name]
    return value if 0 < len(value) <= 255 else None


ID = string(max_len=128)
ACCOUNT_ID = string(pattern=r"acct_[A-Za-z0-9]{1,100}")
CURRENCY = string(pattern=r"[a-z]{3}")
AMOUNT = integer(min_value=0, max_value=10**12)
IDEMPOTENCY_KEY = string(min_len=1, max_len=255)
UNIX_TIME = integer(min_value=0, max_value=MAX_SAFE_INTEGER)
