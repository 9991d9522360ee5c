"""Counting the outcomes that move or account for money, at the one place each is decided:
`process_event` (every webhook event, delivered or replayed), `money_operation.perform` (every
transfer and payout request) and `Reconciler.run` (every reconciliation run). Each wraps that one
function, so no return path can be missed and the function itself stays as it reads.

The webhook wrapper also gives the event its log context (`request_context.event_context`): the
Stripe event id is in every log line and every Worker call made for it, as the request id is.
Outcome names are docs/operations.md's alerting vocabulary.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from backend.core import telemetry
from backend.core.errors import ApiError
from backend.core.models import ReconcileReply, WebhookReply
from backend.core.request_context import event_context, run_context


class _Event(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...


S = TypeVar("S")
E = TypeVar("E", bound=_Event)
R = TypeVar("R")


def webhook_outcome(reply: WebhookReply) -> str:
    if reply.duplicate:
        return "duplicate"
    if reply.rejected:
        return "rejected"
    return "processed" if reply.handled else "not_handled"


def _failure(exc: BaseException) -> str:
    if isinstance(exc, ApiError) and exc.code == "event_in_progress":
        return "busy"  # another replica holds the claim: Stripe's retry will find it settled
    return "failed"


def observed_event(
    process: Callable[[S, E], Awaitable[WebhookReply]],
) -> Callable[[S, E], Awaitable[WebhookReply]]:
    """`process_event` with the event's log context and `connect.webhook.events` by outcome."""

    @functools.wraps(process)
    async def observed(svc: S, event: E) -> WebhookReply:
        with event_context(event.id, event.type):
            tel = telemetry.current()
            if not isinstance(tel, telemetry.Telemetry):
                return await process(svc, event)
            attributes = {"stripe.event.type": event.type}
            span_attributes = {**attributes, "stripe.event.id": event.id}
            with tel.client_span("webhook event", span_attributes, internal=True):
                outcome = "failed"
                try:
                    reply = await process(svc, event)
                    outcome = webhook_outcome(reply)
                    return reply
                except BaseException as exc:
                    outcome = _failure(exc)
                    raise
                finally:
                    tel.webhook_events.add(1, {**attributes, "connect.outcome": outcome})

    return observed


class _Outcome(Protocol):
    @property
    def row(self) -> Any: ...
    @property
    def replayed(self) -> bool: ...


Done = TypeVar("Done", bound=_Outcome)


def observed_money(perform: Callable[..., Awaitable[Done]]) -> Callable[..., Awaitable[Done]]:
    """`perform` with `connect.money.operations` by kind (the operation's noun) and outcome: the
    ledger row's status (`succeeded`, `failed`, `pending`…), `replayed`, or the error's code."""

    @functools.wraps(perform)
    async def observed(op: Any, *args: Any, **kwargs: Any) -> Done:
        tel = telemetry.current()
        if not isinstance(tel, telemetry.Telemetry):
            return await perform(op, *args, **kwargs)
        outcome = "error"
        try:
            done = await perform(op, *args, **kwargs)
            outcome = "replayed" if done.replayed else str(getattr(done.row, "status", "done"))
            return done
        except ApiError as exc:
            outcome = exc.code
            raise
        finally:
            tel.money_operations.add(1, {"connect.kind": op.noun, "connect.outcome": outcome})

    return observed


def observed_reconciliation(
    run: Callable[[R], Awaitable[ReconcileReply]],
) -> Callable[[R], Awaitable[ReconcileReply]]:
    """`Reconciler.run` under one request id (the cron's run has no request) and with its
    findings counted: rows by kind and outcome (`unknown` and
    `mismatch` are what an operator must settle), replayed events by outcome, and errors."""

    @functools.wraps(run)
    async def observed(self: R) -> ReconcileReply:
        with run_context():
            reply = await run(self)
        tel = telemetry.current()
        if isinstance(tel, telemetry.Telemetry):
            for row in reply.rows:
                tel.reconciliation_rows.add(
                    1, {"connect.kind": row.kind, "connect.outcome": row.outcome}
                )
            for outcome, count in reply.events.model_dump().items():
                if isinstance(count, int) and count:
                    tel.reconciliation_events.add(count, {"connect.outcome": outcome})
            if reply.errors:
                tel.reconciliation_errors.add(len(reply.errors))
        return reply

    return observed
