"""Stripe's errors in our terms: a flat hierarchy, mapped from the SDK's error classes in one
function (`map_stripe_error`), and the one rule of which refusals are final (`is_definitive`)."""

from __future__ import annotations

import logging

import stripe

from backend.core.errors import ApiError, InvalidRequest, ServiceUnavailable, UpstreamError

logger = logging.getLogger("backend.stripe")


class StripePermissionDenied(UpstreamError):
    """Stripe answered 403. On its own this is NOT a deauthorization: a restricted key (`rk_…`)
    missing one permission gets a 403 too, for every account alike."""

    code, message = "stripe_permission_denied", "Stripe refused access to the account."


class StripeAccountAccessLost(StripePermissionDenied):
    """A confirmed loss of access: Stripe's 403 with code `account_invalid` — "the provided key
    does not have access to account … (or that account does not exist). Application access may
    have been revoked." That is what a connected account that deauthorized the platform answers;
    a key missing a permission answers 403 without that code."""

    code, message = (
        "stripe_account_access_lost",
        "The platform no longer has access to the account.",
    )


class StripeRejected(InvalidRequest):
    """Stripe refused the request for a reason that a retry will not change."""

    code = "stripe_invalid_request"


def _error_code(exc: stripe.StripeError) -> str | None:
    """Stripe's `error.code`; the SDK leaves `exc.code` unset on a 403, so read the body too."""
    if exc.code:
        return exc.code
    body = exc.json_body.get("error") if isinstance(exc.json_body, dict) else None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def map_stripe_error(exc: stripe.StripeError, *, operation: str) -> ApiError:
    request_id = getattr(exc, "request_id", None)
    extra = {"stripe_request_id": request_id}  # a field of its own in JSON log lines
    if isinstance(exc, stripe.InvalidRequestError | stripe.CardError):
        message = (exc.user_message or "Stripe rejected the request.")[:300]
        return StripeRejected(message=message)
    if isinstance(exc, stripe.IdempotencyError):
        return ApiError(409, "idempotency_conflict", "A conflicting request is in progress.")
    if isinstance(exc, stripe.PermissionError):
        if _error_code(exc) == "account_invalid":
            logger.warning(
                "stripe %s: no access to the account (request %s)",
                operation,
                request_id,
                extra=extra,
            )
            return StripeAccountAccessLost()
        logger.error(
            "stripe %s: permission denied — does the (restricted) key lack a permission? "
            "(request %s)",
            operation,
            request_id,
            extra=extra,
        )
        return StripePermissionDenied()
    if isinstance(exc, stripe.AuthenticationError):
        logger.error("stripe %s: authentication failed — check STRIPE_SECRET_KEY", operation)
        return UpstreamError(code="stripe_misconfigured", message="Payment provider unavailable.")
    if isinstance(exc, stripe.RateLimitError):
        retry_after = str((exc.headers or {}).get("retry-after") or "2")
        logger.warning("stripe %s: rate limited (request %s)", operation, request_id, extra=extra)
        return ServiceUnavailable(
            code="stripe_rate_limited",
            message="Payment provider is busy; retry shortly.",
            headers={"Retry-After": retry_after if retry_after.isdigit() else "2"},
        )
    if isinstance(exc, stripe.APIConnectionError):
        logger.warning("stripe %s: unreachable (%s)", operation, type(exc).__name__)
        return UpstreamError(code="stripe_unavailable", message="Payment provider unreachable.")
    logger.warning(
        "stripe %s: %s status %s (request %s)",
        operation,
        type(exc).__name__,
        exc.http_status,
        request_id,
        extra=extra,
    )
    return UpstreamError(code="stripe_error", message="Payment provider error.")


def is_definitive(error: ApiError) -> bool:
    """A Stripe refusal that a retry with the same key will repeat (so the ledger may record it)."""
    return isinstance(error, StripeRejected)
