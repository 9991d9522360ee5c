"""The Worker's request pipeline: API key → route → body → handler → reply model → JSON.

The composition root: each table module declares its own routes; this module only prefixes and
joins them, serializes every reply model, and answers every failure through `errors.HANDLERS`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from connect_worker import (
    account_events,
    debts,
    disputes,
    health,
    history,
    ledger_events,
    organizations,
    payment_events,
    payments,
    payouts,
    reconciliation,
    request_log,
    retention,
    returns,
    sessions,
    transfers,
    webhook_events,
)
from connect_worker.api_keys import match_key, presented_key
from connect_worker.auth_schema import canonical_serial_id
from connect_worker.deps import Deps
from connect_worker.errors import ApiError, as_api_error
from connect_worker.http import Request, Response
from connect_worker.route import Route
from connect_worker.routing import Router
from connect_worker.validation import parse_json_body, validate_object

log = logging.getLogger("connect_worker")

PREFIX = "/api/internal"
ROUTES: dict[tuple[str, str], Route] = {
    (method, PREFIX + path): route
    for table in (
        health,
        sessions,
        organizations,
        webhook_events,
        account_events,
        ledger_events,
        payment_events,
        transfers,
        payments,
        payouts,
        history,
        retention,
        reconciliation,
        returns,
        debts,
        disputes,
    )
    for (method, path), route in table.ROUTES.items()
}
ROUTER: Router[Route] = Router(ROUTES)


# The pattern each route was declared under: the request log names the route, never the path.
_PATTERNS = {id(route): pattern for (_method, pattern), route in ROUTES.items()}


async def handle(request: Request, *, deps: Deps) -> Response:
    """The reply to one request, and its log line (`request_log`) under the caller's trace id."""
    return await _answer(request, lambda: _dispatch(request, deps))


async def answer_misconfigured(request: Request) -> Response:
    """What a Worker whose settings are invalid answers every request (the entry module, when
    the settings do not load): 500 `misconfigured`, logged and named like any other answer."""

    async def refuse() -> Response:
        raise ApiError("misconfigured", "The Worker is misconfigured.")

    return await _answer(request, refuse)


async def _answer(request: Request, dispatch: Callable[[], Awaitable[Response]]) -> Response:
    entry = request_log.begin(request)
    token = request_log.CURRENT.set(entry)
    code: str | None = None
    try:
        response = await dispatch()
    except Exception as exc:
        error = as_api_error(exc, where=f"{request.method} {request.path}")
        code = error.code
        response = error_response(error)
    request_log.finish(entry, response.status, code)
    request_log.CURRENT.reset(token)
    return response


def error_response(exc: ApiError) -> Response:
    """`{"error": {"code", "message", "request_id"}}`: the id is the caller's trace id (the
    backend's request id), when there is a request."""
    error = {"code": exc.code, "message": exc.message}
    found = request_log.request_id()
    if found is not None:
        error["request_id"] = found
    return Response(exc.status, {"error": error}, exc.headers)


# A value of one of these types is already JSON data (`type`, not `isinstance`: a subclass just
# takes the slower path, which returns it unchanged).
_SCALARS = frozenset({str, int, float, bool, type(None)})


def to_json(value: Any) -> Any:
    """A reply model as JSON data: a NamedTuple's fields in declared order, recursively."""
    if isinstance(value, tuple):
        return {
            name: item if type(item) in _SCALARS else to_json(item)
            for name, item in zip(value._fields, value, strict=True)  # type: ignore[attr-defined]
        }
    if isinstance(value, list):
        return [item if type(item) in _SCALARS else to_json(item) for item in value]
    return value


# Where a request names an organization: its path parameter or its body's field.
_ORGANIZATION_PARAMS = ("organization_id", "id")


def _serial_organization_ids(params: Mapping[str, str], body: Any) -> None:
    """With serial ids, an organization is named by its id's one text form, or not found."""
    values = [params[p] for p in _ORGANIZATION_PARAMS if p in params]
    if isinstance(body, dict) and isinstance(body.get("organization_id"), str):
        values.append(body["organization_id"])  # another type is the route's 400 to give
    if not all(canonical_serial_id(v) for v in values):
        raise ApiError("organization_not_found", "Organization not found.")


async def _dispatch(request: Request, deps: Deps) -> Response:
    version = match_key(presented_key(request.headers), deps.config.api_keys)
    if version is None:
        # The presented key never reaches the log: it matched no version, so "unknown".
        log.warning(
            "internal API key rejected: key_version=unknown method=%s path=%s",
            request.method,
            request.path,
        )
        raise ApiError("unauthorized", "A valid API key is required.")
    if log.isEnabledFor(logging.DEBUG):
        log.debug("internal API call: key_version=%s %s %s", version, request.method, request.path)
    if not deps.schema_check.passed:  # the first request (per isolate or host) only
        await deps.schema_check.ensure(deps.db, deps.config.auth_schema)
    match = ROUTER.match(request.method, request.path)
    route = match.handler
    entry = request_log.CURRENT.get()
    if entry is not None:
        entry.route = _PATTERNS[id(route)]
    body: Any = None
    if request.method.upper() == "POST":
        body = parse_json_body(request.body)
        if route.fields is not None:
            body = validate_object(body, route.fields)
    if deps.config.auth_schema.serial_ids:
        _serial_organization_ids(match.params, body)
    reply = await route.handler(deps, match.params, body)
    if route.reply is not None:  # under a key, `created` is the model's own (a Payment's time)
        return Response(200, {route.reply: to_json(reply)})
    return Response(201 if getattr(reply, "created", False) is True else 200, to_json(reply))
