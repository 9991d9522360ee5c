"""One error type, one handler table: every failure leaves as
`{"error": {"code", "message", "request_id"}}` — the request id (`request_context`) is what a user
hands support to find this request's log lines in the backend and the Worker."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from backend.core.request_context import request_id

logger = logging.getLogger("backend.errors")


class ApiError(Exception):
    """An error with the HTTP status, machine code and human message the client will see."""

    status = 500
    code = "internal_error"
    message = "Internal error."

    def __init__(
        self,
        status: int | None = None,
        code: str | None = None,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status if status is not None else type(self).status
        self.code = code if code is not None else type(self).code
        self.message = message if message is not None else type(self).message
        self.headers = dict(headers or {})
        super().__init__(f"{self.status} {self.code}: {self.message}")


class InvalidRequest(ApiError):
    status, code, message = 400, "invalid_request", "The request is invalid."


class Unauthorized(ApiError):
    status, code, message = 401, "invalid_token", "Missing or invalid session token."


class Forbidden(ApiError):
    status, code, message = 403, "forbidden", "You do not have access to this organization."


class Conflict(ApiError):
    status, code, message = 409, "conflict", "The request conflicts with the current state."


class ServiceUnavailable(ApiError):
    status, code, message = 503, "service_unavailable", "Service temporarily unavailable."


class WorkerUnavailable(ServiceUnavailable):
    code, message = "worker_unavailable", "The data service is temporarily unavailable."


class UpstreamError(ApiError):
    status, code, message = 502, "upstream_error", "A dependency failed."


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    error = {"code": code, "message": message}
    found = request_id()
    if found is not None:
        error["request_id"] = found
    return {"error": error}


def error_response(
    status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=dict(headers or {}))


def describe_validation_error(exc: ValidationError) -> ApiError:
    """Names the first bad field without echoing its value (it may be a token or a secret)."""
    errors = exc.errors(include_input=False, include_url=False, include_context=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return InvalidRequest(code="invalid_json", message="The body is not valid JSON.")
    if not errors:
        return InvalidRequest()
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    if first["type"] == "extra_forbidden":
        return InvalidRequest(message=f"Unknown field: {field}.")
    if first["type"] == "missing":
        return InvalidRequest(message=f"Missing field: {field}.")
    if first["type"] == "model_type" and field == "body":
        return InvalidRequest(message="The body must be a JSON object.")
    return InvalidRequest(message=f"Invalid field {field}: {first['msg']}.")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    return await _api_error(request, describe_validation_error(exc))


_HTTP_CODES = {
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    413: ("payload_too_large", "The body is too large."),
}


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, ("http_error", "Request failed."))
    return error_response(exc.status_code, code, message, headers=exc.headers)


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client left mid-body: nobody is there to read an answer, and a flood of such clients
    must not flood the logs either — one debug line, no traceback, a 400 that is never seen."""
    logger.debug("client left mid-body on %s %s", request.method, request.url.path)
    return error_response(400, "client_disconnected", "The request body was not received.")


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error(
        "unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc
    )
    return error_response(500, "internal_error", "Internal error.")


EXCEPTION_HANDLERS = {
    ApiError: _api_error,
    ValidationError: _validation_error,
    HTTPException: _http_exception,
    ClientDisconnect: _client_gone,
    Exception: _unexpected,
}
