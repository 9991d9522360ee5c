"""Query strings, read strictly and once, by the route table's own declarations.

Every route declares the query parameters it takes (`Endpoint.query`) and `/openapi.json`
documents the same specs. A route that takes none refuses any query string before its handler
runs; one that takes some reads it through `query_values` once the caller is authenticated.
What is not declared, repeated, too long, not UTF-8 or out of range is a 400 naming the parameter
— never a 500: integers are ASCII digits of bounded length before `int()` sees them (Python's
`str.isdigit` accepts `٣` and `²`, and `int()` refuses numbers past 4,300 digits with an error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote_plus

from starlette.requests import Request

from backend.core.errors import InvalidRequest

MAX_QUERY_BYTES = 1024
QUERY_KEY = "backend.edge.query"  # where a route's declared parameters sit in the request's scope

Value = int | bool | str
_TRUE, _FALSE = ("true", "1"), ("false", "0", "")


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    kind: Literal["integer", "boolean", "string"]
    minimum: int = 0
    maximum: int = 0
    max_length: int = 0
    description: str = ""

    def openapi(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.kind}
        if self.kind == "integer":
            schema |= {"minimum": self.minimum, "maximum": self.maximum}
        elif self.kind == "string":
            schema |= {"minLength": 1, "maxLength": self.max_length, "pattern": "^[\\x21-\\x7e]+$"}
        extra = {"description": self.description} if self.description else {}
        return {"name": self.name, "in": "query", "required": False, **extra, "schema": schema}

    def read(self, raw: str) -> Value:
        bad = InvalidRequest(code=f"invalid_{self.name}", message=self._rule())
        if self.kind == "boolean":
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise bad
        if self.kind == "integer":
            digits = raw.lstrip("0") or "0"
            if not (raw.isascii() and raw.isdigit() and len(digits) <= len(str(self.maximum))):
                raise bad
            if not self.minimum <= int(digits) <= self.maximum:
                raise bad
            return int(digits)
        if not (1 <= len(raw) <= self.max_length and raw.isascii() and raw.isprintable()):
            raise bad
        if " " in raw:
            raise bad
        return raw

    def _rule(self) -> str:
        if self.kind == "boolean":
            return f"{self.name} must be true or false."
        if self.kind == "integer":
            return f"{self.name} must be an integer from {self.minimum} to {self.maximum}."
        return f"{self.name} must be 1 to {self.max_length} printable ASCII characters."


def _invalid_query(message: str) -> InvalidRequest:
    return InvalidRequest(code="invalid_query", message=message)


def parse_query(raw: bytes, params: Sequence[QueryParam]) -> dict[str, Value]:
    """The declared parameters present in `raw`, read; anything else in it is a 400."""
    if not raw:
        return {}
    if len(raw) > MAX_QUERY_BYTES:
        raise _invalid_query(f"The query string is longer than {MAX_QUERY_BYTES} bytes.")
    declared = {param.name: param for param in params}
    values: dict[str, Value] = {}
    for part in raw.split(b"&"):
        if not part:
            continue
        name_bytes, _, value_bytes = part.partition(b"=")
        try:
            name = unquote_plus(name_bytes.decode("ascii"), errors="strict")
            value = unquote_plus(value_bytes.decode("ascii"), errors="strict")
        except UnicodeError:
            raise _invalid_query("The query string is not valid percent-encoded UTF-8.") from None
        param = declared.get(name)
        if param is None:
            known = ", ".join(declared) or "none"
            raise _invalid_query(f"Unknown query parameter (this route takes: {known}).")
        if name in values:
            raise _invalid_query(f"{name} is given more than once.")
        values[name] = param.read(value)
    return values


def query_values(request: Request) -> Mapping[str, Value]:
    """The request's query read against its route's declarations (`Endpoint.route` put them in
    the scope), or 400. A handler asks once it has authenticated the caller."""
    params: tuple[QueryParam, ...] = request.scope.get(QUERY_KEY, ())
    return parse_query(request.scope["query_string"], params)


REFRESH = QueryParam("refresh", "boolean", description="re-read the account from Stripe")
LIMIT = QueryParam("limit", "integer", minimum=1, maximum=100, description="page size (20)")
CURSOR = QueryParam(
    "cursor", "string", max_length=64, description="next_cursor of the previous page (opaque)"
)
