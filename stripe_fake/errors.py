"""Stripe's error shapes: one exception carrying the status and the `{"error": {...}}` body."""

from __future__ import annotations

from typing import Any


class StripeFakeError(Exception):
    """An error answered as Stripe would: status plus `{"error": {type, code, message, param}}`."""

    def __init__(
        self,
        status: int,
        *,
        type: str,
        message: str,
        code: str | None = None,
        param: str | None = None,
        store_idempotent: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.code = code
        self.param = param
        self.store_idempotent = store_idempotent
        self.extra = extra or {}

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        if request_id is not None:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}?t=0"
        error.update(self.extra)
        return {"error": error}


def invalid_request(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> StripeFakeError:
    """A 400 invalid_request_error; validation failures are not stored for idempotent replay."""
    return StripeFakeError(
        status,
        type="invalid_request_error",
        message=message,
        code=code,
        param=param,
        store_idempotent=False,
    )


def resource_missing(kind: str, object_id: str, *, param: str = "id") -> StripeFakeError:
    return StripeFakeError(
        404,
        type="invalid_request_error",
        code="resource_missing",
        message=f"No such {kind}: '{object_id}'",
        param=param,
    )


def unknown_parameter(path: str) -> StripeFakeError:
    return invalid_request(
        f"Received unknown parameter: {path}", param=path, code="parameter_unknown"
    )


def missing_parameter(path: str) -> StripeFakeError:
    return invalid_request(f"Missing required param: {path}.", param=path, code="parameter_missing")


def balance_insufficient(message: str) -> StripeFakeError:
    return StripeFakeError(
        400, type="invalid_request_error", code="balance_insufficient", message=message
    )


def account_invalid(api_key: str, account: str) -> StripeFakeError:
    """Stripe's answer when the key may not act on that account (it never existed, or revoked)."""
    return StripeFakeError(
        403,
        type="invalid_request_error",
        code="account_invalid",
        message=(
            f"The provided key '{redact_key(api_key)}' does not have access to account "
            f"'{account}' (or that account does not exist). Application access may have been "
            "revoked."
        ),
    )


def redact_key(key: str) -> str:
    """Stripe shows only the prefix and the last four characters of a key."""
    prefix = key[:8] if key.startswith(("sk_", "rk_")) else ""
    return f"{prefix}{'*' * 12}{key[-4:]}" if len(key) > 4 else "****"
