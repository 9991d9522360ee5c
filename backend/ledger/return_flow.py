"""Bring a payment's transfers to what the organization may keep (`backend/money/money_back.py`), by
the one path every cause takes: a refund, a refund that failed, a dispute's withdrawn or
reinstated funds, and reconciliation's retries.

1. Read the payment, its transfers and its returns (`returns/{charge}`); finish any part an
   earlier run reserved and did not hear Stripe's answer for (same Stripe key: exactly once).
2. Plan from that state, and reserve the plan under the payment's `returns_version`: a plan made
   from a state another run has moved on from is refused (409) and made again from the new one.
3. Send each part to Stripe with its key — a reversal of a transfer, or a transfer to the
   organization again — and record the answers. A reversal Stripe refuses (the account paid the
   money out) is the organization's debt (`owed`), shown to it and the operator and recovered
   later; anything not definitive stays `pending` and the caller's retry finishes it.

Stripe keys: `reversal:<cause id>:<transfer>`, `debt:<cause id>:<charge>`,
`reinstatement:<cause id>:<charge>` (funded by the charge), `reinstatement-held:<cause
id>:<charge>` (funded by the platform's balance: what debts paid out of later transfers brought
back, which the charge cannot fund — its own transfers were never reversed), and `<key>:<n>` for
the n-th attempt of a debt; every Stripe object made carries metadata naming the organization,
the charge, the cause and the row (and, for a reinstatement, what funds it: `return_funding`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from backend.core import telemetry
from backend.core.errors import ApiError, ServiceUnavailable
from backend.money.money_back import Part, Plan, Returned, Transferred, plan
from backend.services import Services
from backend.stripe_side.stripe_errors import is_definitive
from backend.stripe_side.stripe_gateway import idempotency_key
from backend.worker_side.return_models import ReturnRow, ReturnsState
from backend.worker_side.worker_client import WorkerError

logger = logging.getLogger("backend.returns")

Cause = Literal["refund", "dispute"]
HELD = "reinstatement-held"  # the key of a reinstatement funded by the platform's balance
MAX_PLANS = 3  # a plan refused because another was reserved first is made again, this often


@dataclass(frozen=True, slots=True)
class Settled:
    """What one run did: the rows it sent to Stripe and how they ended."""

    sent: tuple[ReturnRow, ...] = ()

    @property
    def owed(self) -> int:
        return sum(r.amount_owed for r in self.sent)


def _transferred(state: ReturnsState) -> list[Transferred]:
    return [
        Transferred(t.stripe_transfer_id, t.gross_amount, t.net_amount, t.amount_reversed)
        for t in state.transfers
        if t.stripe_transfer_id is not None
    ]


def _returned(rows: Sequence[ReturnRow]) -> list[Returned]:
    return [
        Returned(
            r.id,
            r.stripe_transfer_id,
            r.kind,
            r.status,
            r.amount,
            r.amount_reversed,
            r.amount_forgiven,
            r.amount_owed,
            r.stripe_object_id if r.kind == "reinstatement" else None,
            r.amount_recovered,
            from_balance(r),
        )
        for r in rows
    ]


def plan_of(state: ReturnsState) -> Plan:
    payment = state.payment
    return plan(
        amount=payment.amount,
        refunded=payment.amount_refunded,
        disputed=payment.amount_disputed,
        transfers=_transferred(state),
        returns=_returned(state.returns),
    )


def from_balance(row: ReturnRow) -> bool:
    """A reinstatement funded by the platform's balance: its key says so (the row's one record of
    how it was planned, so every attempt sends Stripe the same request)."""
    return row.kind == "reinstatement" and row.idempotency_key.startswith(f"{HELD}:")


def _key(part: Part, cause_id: str, charge: str) -> str:
    if part.kind == "reinstatement":
        return idempotency_key(HELD if part.from_balance else "reinstatement", cause_id, charge)
    if part.status == "owed":
        return idempotency_key("debt", cause_id, charge)
    return idempotency_key("reversal", cause_id, part.stripe_transfer_id)


def stripe_key(row: ReturnRow) -> str:
    """Attempt n > 1 of a debt is a new Stripe request: Stripe replays a refusal for its key."""
    return row.idempotency_key if row.attempts <= 1 else f"{row.idempotency_key}:{row.attempts}"


def _metadata(row: ReturnRow) -> dict[str, str]:
    funding = {"return_funding": "platform_balance" if from_balance(row) else "charge"}
    return {
        "organization_id": row.organization_id,
        "source_transaction": row.source_transaction,
        "return_cause": row.cause,
        "return_cause_id": row.cause_id,
        "return_key": row.idempotency_key,
        "reversed_transfer": row.stripe_transfer_id,
        **(funding if row.kind == "reinstatement" else {}),
    }


async def _send_one(
    svc: Services, row: ReturnRow, destination: str | None
) -> dict[str, Any] | None:
    """Stripe's answer for one pending row as a `returns/complete` result; None when Stripe's
    answer is not known (the row stays pending, the caller is retried). A debt's attempt on a
    later transfer takes the part recorded with it (`reversing_transfer`, `reversing_amount`)."""
    outstanding = row.amount - row.amount_reversed - row.amount_recovered - row.amount_forgiven
    from_transfer = row.reversing_transfer
    try:
        if row.kind == "reversal":
            reversal = await svc.stripe.reverse_transfer(
                from_transfer or row.stripe_transfer_id,
                amount=row.reversing_amount or outstanding,
                key=stripe_key(row),
                metadata=_metadata(row),
            )
            result: dict[str, Any] = {"status": "done", "stripe_object_id": reversal.id}
            if from_transfer is not None:
                result["recovered_from"] = from_transfer
                result["amount"] = row.reversing_amount
        else:
            transfer = await svc.stripe.create_transfer(
                destination=destination or "",
                amount=row.amount,
                currency=row.currency,
                key=stripe_key(row),
                transfer_group=None,
                description="Transferred again: the money came back to the platform",
                metadata=_metadata(row),
                source_transaction=None if from_balance(row) else row.source_transaction,
            )
            result = {"status": "done", "stripe_object_id": transfer.id}
    except ApiError as exc:
        if not is_definitive(exc):
            logger.warning("return %s: Stripe's answer unknown (%s)", row.idempotency_key, exc.code)
            return None
        refused = "owed" if row.kind == "reversal" else "failed"
        logger.warning(
            "return %s refused by Stripe (%s): %s", row.idempotency_key, exc.code, refused
        )
        result = {"status": refused, "failure_message": f"{exc.code}: {exc.message}"[:500]}
    return {"idempotency_key": row.idempotency_key, **result}


async def send(
    svc: Services, rows: Sequence[ReturnRow], destination: str | None
) -> tuple[ReturnRow, ...]:
    """Send pending rows and record Stripe's answers; raises (a retry finishes the rest) when
    any answer is unknown, after recording the known ones."""
    pending = [r for r in rows if r.status == "pending"]
    if not pending:
        return ()
    results = [await _send_one(svc, r, destination) for r in pending]
    known = [r for r in results if r is not None]
    stored = tuple(await svc.worker.complete_returns(known)) if known else ()
    if len(known) < len(results):
        raise ServiceUnavailable(
            code="stripe_unavailable", message="Stripe did not answer for every return; retry."
        )
    return stored


async def settle_payment(svc: Services, charge_id: str, *, cause: Cause, cause_id: str) -> Settled:
    """Bring the payment of `charge_id` to its target (see the module's steps)."""
    for _ in range(MAX_PLANS):
        state = await svc.worker.returns_state(charge_id)
        if state is None:
            return Settled()
        if any(t.stripe_transfer_id is None for t in state.transfers):
            # A transfer Stripe has not answered for yet: plan once it has (the retry does).
            raise ServiceUnavailable(
                code="transfer_in_flight",
                message="A transfer of this payment is still being made; retry.",
            )
        if sum(t.gross_amount for t in state.transfers) != state.payment.amount_transferred:
            # Transfer rows of this payment were pruned by retention (the payment's own total is
            # kept): planning without them would count its returns against too little and could
            # transfer money again. An operator settles such a payment by hand.
            logger.warning("payment %s: its transfer rows were pruned; not planned", charge_id)
            return Settled()
        destination = state.transfers[0].stripe_account_id if state.transfers else None
        finished = await send(svc, state.returns, destination)
        if finished:
            state = await svc.worker.returns_state(charge_id) or state
        planned = plan_of(state)
        if planned.empty:
            return Settled(finished)
        parts = [(p, cause, cause_id, _key(p, cause_id, charge_id)) for p in planned.parts]
        forgive = [(f, cause_id) for f in planned.forgive]
        try:
            reserved = await svc.worker.reserve_returns(
                charge_id,
                returns_version=state.payment.returns_version,
                parts=parts,
                forgive=forgive,
            )
        except WorkerError as exc:
            if exc.code == "returns_conflict":
                continue  # another run reserved first: plan again from its state
            raise
        sent = await send(svc, reserved.returns, destination)
        for row in sent:
            telemetry.count_money("owed", row.amount_owed, row.currency)
        logger.info(
            "payment %s: %s %s, %d part(s) sent, %d owed",
            charge_id,
            cause,
            cause_id,
            len(sent),
            sum(r.amount_owed for r in sent),
        )
        return Settled(finished + sent)
    raise ServiceUnavailable(
        code="returns_busy", message="The payment's returns kept changing; retry."
    )
