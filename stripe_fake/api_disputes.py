"""`/v1/disputes`: retrieve, list (by `charge`, `payment_intent`, `created`), update (evidence,
metadata, submit) and close (accept the loss). Disputes are opened by the control API only, as at
Stripe they are opened by the cardholder's bank."""

from __future__ import annotations

from stripe_fake import disputes
from stripe_fake.accounts import metadata, parse_bool
from stripe_fake.core import Ctx
from stripe_fake.resources import Resource
from stripe_fake.store import JSON

# A dispute is its charge's owner's.
DISPUTES = Resource(
    "dispute",
    "/v1/disputes",
    lambda state: state.disputes,
    owner=lambda ctx, dispute: disputes.charge_owner(
        ctx.fake, ctx.state.charges[dispute["charge"]]
    ),
)


def retrieve_dispute(ctx: Ctx) -> JSON:
    return DISPUTES.retrieve(ctx, "dispute")


def list_disputes(ctx: Ctx) -> JSON:
    return DISPUTES.listed(ctx, equal=("charge", "payment_intent"), ranges=("created",))


def update_dispute(ctx: Ctx) -> JSON:
    dispute = DISPUTES.find(ctx, ctx.path["dispute"])
    evidence = ctx.params.get("evidence") or {}
    meta = metadata(ctx.params, dispute["metadata"]) if "metadata" in ctx.params else None
    submit = parse_bool(ctx.params.get("submit", "true"), "submit")
    return disputes.submit_evidence(
        ctx.fake, dispute, evidence if isinstance(evidence, dict) else {}, meta, submit
    )


def close_dispute(ctx: Ctx) -> JSON:
    """Closing is accepting the dispute as lost (irreversible)."""
    return disputes.close_dispute(ctx.fake, DISPUTES.find(ctx, ctx.path["dispute"]), won=False)
