"""`/v1/disputes`: retrieve, list (by `charge`, `payment_intent`, `created`), update (evidence,
metadata, submit) and close (accept the loss). Disputes are opened by the control API only, as at
Stripe they are opened by the cardholder's bank."""

from __future__ import annotations

import copy

from stripe_fake import disputes
from stripe_fake.accounts import metadata, parse_bool
from stripe_fake.core import Ctx, in_range, paginate
from stripe_fake.errors import resource_missing
from stripe_fake.store import JSON


def _owned(ctx: Ctx) -> JSON:
    dispute_id = ctx.path["dispute"]
    dispute = ctx.state.disputes.get(dispute_id)
    if dispute is None:
        raise resource_missing("dispute", dispute_id)
    charge = ctx.state.charges[dispute["charge"]]
    if disputes.charge_owner(ctx.fake, charge) != ctx.owner:
        raise resource_missing("dispute", dispute_id)
    return dispute


def retrieve_dispute(ctx: Ctx) -> JSON:
    return copy.deepcopy(_owned(ctx))


def list_disputes(ctx: Ctx) -> JSON:
    items = [
        d
        for d in ctx.state.disputes.values()
        if disputes.charge_owner(ctx.fake, ctx.state.charges[d["charge"]]) == ctx.owner
    ]
    for key in ("charge", "payment_intent"):
        if key in ctx.params:
            items = [d for d in items if d[key] == ctx.params[key]]
    items = in_range(items, ctx.params, "created")
    return paginate(items, ctx.params, url="/v1/disputes")


def update_dispute(ctx: Ctx) -> JSON:
    dispute = _owned(ctx)
    evidence = ctx.params.get("evidence") or {}
    meta = metadata(ctx.params, dispute["metadata"]) if "metadata" in ctx.params else None
    submit = parse_bool(ctx.params.get("submit", "true"), "submit")
    return disputes.submit_evidence(
        ctx.fake, dispute, evidence if isinstance(evidence, dict) else {}, meta, submit
    )


def close_dispute(ctx: Ctx) -> JSON:
    """Closing is accepting the dispute as lost (irreversible)."""
    return disputes.close_dispute(ctx.fake, _owned(ctx), won=False)
