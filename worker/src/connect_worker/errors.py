"""The Worker's one error type and the one table of its codes: a route raises
`ApiError(code, message)`, the status comes from `STATUS`, and `as_api_error` maps what was not
raised as an `ApiError` (a D1 failure, a bug)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from connect_worker.d1 import D1Error
from connect_worker.kv import KVError

log = logging.getLogger("connect_worker")

# Every error code the Worker answers with, by status (docs/internal-api.md names each one).
_CODES = {
    400: ("invalid_json", "invalid_request"),
    401: ("unauthorized", "invalid_token"),
    403: ("forbidden",),
    404: (
        "not_found",
        "organization_not_found",
        "transfer_not_found",
        "payout_not_found",
        "payment_not_found",
        "return_not_found",
    ),
    405: ("method_not_allowed",),
    409: (
        "account_conflict",
        "claim_lost",
        "idempotency_key_reused",
        "payment_conflict",
        "returns_conflict",
        "source_currency_mismatch",
        "source_disputed",
        "source_exhausted",
        "source_not_for_organization",
        "source_not_succeeded",
        "source_refunded",
        "stripe_id_conflict",
        "transfer_mismatch",
    ),
    413: ("payload_too_large",),
    500: ("internal_error", "misconfigured"),
    503: ("better_auth_schema_mismatch", "d1_unavailable", "session_store_unavailable"),
}
STATUS = {code: status for status, codes in _CODES.items() for code in codes}


class ApiError(Exception):
    """A failure the caller is told about: `{"error": {"code", "message"}}` with the code's status.
    The message is for people and never holds a secret or a stored value the caller did not send."""

    def __init__(
        self, code: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = STATUS[code]  # an unknown code fails where it is raised, in every test
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def stripe_id_conflict() -> ApiError:
    """A Stripe id (transfer, payout, account) already recorded on another ledger row or
    organization. Not an outage: repeating the request cannot succeed, so it is never a 503."""
    return ApiError(
        "stripe_id_conflict",
        "This Stripe id is already recorded for another idempotency key or another organization.",
    )


def as_api_error(exc: Exception, *, where: str) -> ApiError:
    """What a failure is answered with: ours as raised; a D1 failure as a 409 when a UNIQUE index
    refused the write (every one left to violate holds a Stripe id: a conflict, not an outage),
    else a 503; anything else a 500 without detail. `where` ("GET /path") only reaches the log."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, D1Error) and exc.is_unique_violation:
        log.warning("unique conflict on %s: %s", where, exc)
        return stripe_id_conflict()
    if isinstance(exc, D1Error):
        log.error("D1 failure on %s: %s", where, exc)
        return ApiError("d1_unavailable", "The database is unavailable.")
    if isinstance(exc, KVError):
        log.error("session store (KV) failure on %s: %s", where, exc)
        return ApiError("session_store_unavailable", "The session store is unavailable.")
    log.error("unexpected failure on %s", where, exc_info=exc)
    return ApiError("internal_error", "Internal error.")
