"""Control routes for money that comes back: a cardholder's bank opens a dispute and decides it,
and a refund succeeds late, fails or is canceled (not Stripe's surface; under `/_fake/`)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stripe_fake import disputes, refunds
from stripe_fake.control import ControlError, Handler, control_route, json_body
from stripe_fake.core import Fake
from stripe_fake.errors import StripeFakeError
from stripe_fake.store import JSON


def _charge(fake: Fake, charge_id: str) -> JSON:
    charge = fake.state.charges.get(charge_id)
    if charge is None:
        raise ControlError(404, "not_found", f"No such charge: {charge_id}")
    return charge


def _amount(body: dict[str, Any], left: int) -> int | None:
    amount = body.get("amount")
    if amount is None:
        return None
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= left:
        raise ControlError(
            400,
            "invalid_amount",
            f"amount must be an integer from 1 to what was not refunded ({left}), minor units",
        )
    return amount


def _in_state(fake: Fake, change: Any) -> JSONResponse:
    """Run a state change; Stripe-side refusals (already disputed, closed…) are 409s."""
    try:
        result = change()
    except StripeFakeError as exc:
        raise ControlError(409, exc.code or "invalid_state", exc.message) from None
    fake.store.save()
    return JSONResponse(result)


async def open_dispute(fake: Fake, request: Request) -> Response:
    body = await json_body(request)
    charge = _charge(fake, request.path_params["id"])
    reason = body.get("reason", "fraudulent")
    if reason not in disputes.REASONS:
        raise ControlError(
            400, "invalid_reason", f"reason must be one of {', '.join(disputes.REASONS)}"
        )
    amount = _amount(body, max(charge["amount"] - charge["amount_refunded"], 1))
    return _in_state(
        fake, lambda: disputes.open_dispute(fake, charge, amount=amount, reason=str(reason))
    )


async def close_dispute(fake: Fake, request: Request) -> Response:
    body = await json_body(request)
    dispute = fake.state.disputes.get(request.path_params["id"])
    if dispute is None:
        raise ControlError(404, "not_found", f"No such dispute: {request.path_params['id']}")
    status = body.get("status")
    if status not in ("won", "lost"):
        raise ControlError(400, "invalid_status", "status must be won or lost")
    return _in_state(fake, lambda: disputes.close_dispute(fake, dispute, won=status == "won"))


async def pending_refunds(fake: Fake, request: Request) -> Response:
    """Refunds of this charge start `pending` from now on (test card 4000000000007726)."""
    body = await json_body(request)
    charge = _charge(fake, request.path_params["id"])
    pending = body.get("pending", True)
    if not isinstance(pending, bool):
        raise ControlError(400, "invalid_flag", "pending must be true or false")
    marked = fake.state.pending_refund_charges
    if pending and charge["id"] not in marked:
        marked.append(charge["id"])
    if not pending and charge["id"] in marked:
        marked.remove(charge["id"])
    fake.store.save()
    return JSONResponse({"charge": charge["id"], "pending_refunds": pending})


def _refund_outcome(status: str) -> Handler:
    async def handler(fake: Fake, request: Request) -> Response:
        body = await json_body(request)
        refund = fake.state.refunds.get(request.path_params["id"])
        if refund is None:
            raise ControlError(404, "not_found", f"No such refund: {request.path_params['id']}")
        reason = body.get("failure_reason", "expired_or_canceled_card")
        if status == "failed" and reason not in refunds.FAILURE_REASONS:
            raise ControlError(
                400,
                "invalid_failure_reason",
                f"failure_reason must be one of {', '.join(refunds.FAILURE_REASONS)}",
            )
        return _in_state(
            fake, lambda: refunds.settle(fake, refund, status, failure_reason=str(reason))
        )

    return handler


def routes(fake: Fake) -> list[Route]:
    table: list[tuple[str, Handler]] = [
        ("/_fake/charges/{id}/dispute", open_dispute),
        ("/_fake/disputes/{id}/close", close_dispute),
        ("/_fake/charges/{id}/pending-refunds", pending_refunds),
        ("/_fake/refunds/{id}/succeed", _refund_outcome("succeeded")),
        ("/_fake/refunds/{id}/fail", _refund_outcome("failed")),
        ("/_fake/refunds/{id}/cancel", _refund_outcome("canceled")),
    ]
    return [control_route(path, handler, fake, ["POST"]) for path, handler in table]
