"""The one error type of the Worker API: every failure becomes `{"error": {"code", "message"}}`."""

from __future__ import annotations


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class InvalidToken(ApiError):
    status = 401
    code = "invalid_token"

    def __init__(self) -> None:
        # One message for every token problem: the caller learns nothing about which check failed.
        super().__init__("The token is invalid or expired.")


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class InvalidJson(ApiError):
    status = 400
    code = "invalid_json"


class InvalidRequest(ApiError):
    status = 400
    code = "invalid_request"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"

    def __init__(self, allowed: tuple[str, ...]) -> None:
        super().__init__("Method not allowed.")
        self.allowed = allowed


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class D1Unavailable(ApiError):
    status = 503
    code = "d1_unavailable"


class StripeIdConflict(Conflict):
    """A Stripe id (transfer, payout, account) is already recorded on another ledger row or
    organization. Not an outage: repeating the request cannot succeed, so it is never a 503."""

    code = "stripe_id_conflict"

    def __init__(
        self,
        message: str = "This Stripe id is already recorded for another idempotency "
        "key or another organization.",
    ) -> None:
        super().__init__(message)
