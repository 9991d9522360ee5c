"""`account.*` events on the organization: an `account.updated` snapshot applied under its
claim (`webhook-events/apply-organization`, and the claim itself when it carries the snapshot) and
the organization update an event asks for (`webhook-events/update-organization`), each with its
claim's completion in one D1 batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from connect_worker import organizations
from connect_worker.clock import iso_ms
from connect_worker.d1 import D1Statement, Row
from connect_worker.deps import Deps
from connect_worker.event_claims import (
    CLAIM_KEY_FIELDS,
    COMPLETE_HELD,
    HELD_BY_CALLER,
    ORGANIZATION_EXISTS,
    STATUS,
    claim_lost,
)
from connect_worker.organizations import Organization
from connect_worker.route import ID, UNIX_TIME, Body, Params, Route
from connect_worker.validation import required


def organization_and_watermark(row: Row | None) -> tuple[Organization | None, float | None]:
    """The organization as the contract shows it, plus its exact watermark: `Organization` shows
    `stripe_synced_at` in whole seconds, but ordering an event against it needs the fraction."""
    if row is None:
        return None, None
    watermark = row.get("stripe_synced_at")
    return organizations.to_model(row), None if watermark is None else float(watermark)


# The effect of an `account.updated` snapshot and the end of its claim, in one batch. The event's
# `created` is a whole second S and its snapshot was taken somewhere inside it, so the snapshot is
# stamped S + 0.999 and written only over a watermark from an earlier second: a watermark inside S
# is a tie no timestamp can break (the caller reads Stripe instead). The claim completes only if,
# after the update, D1 holds a state this event may leave — a later second's, or exactly the
# event's own fields; else (a same-second event with another state won the race) it stays claimed
# and the caller re-reads.
#
# Two callers: `apply-organization` (a claim already held; the organization by id; a NULL
# watermark is written over, as the caller decided) and the claim itself with a `snapshot` (the
# organization by the event's account; written only under the claim this batch just granted, and
# never over a NULL watermark, which has no time to order against — the caller reads Stripe).
WITHIN_SECOND = 0.999
_BY_ID = '"id" = ?'
BY_ACCOUNT = '"stripe_connect_account_id" = ?'
_CLAIM_HELD = (
    'EXISTS (SELECT 1 FROM "connect_webhook_event" WHERE "event_id" = ? AND "claim_id" = ? '
    "AND \"status\" = 'processing')"
)
_SETTLED = (
    'EXISTS (SELECT 1 FROM "organization" WHERE {organization} AND "stripe_synced_at" IS NOT NULL '
    'AND ("stripe_synced_at" >= ? OR ({same})))'
)


def snapshot_statements(
    deps: Deps,
    *,
    event_id: str,
    claim_id: str,
    fields: Mapping[str, Any],
    second: int,
    organization: str,
    key: str,
    under_new_claim: bool,
) -> list[D1Statement]:
    """[update, complete, the organization as left]; `organization` is `_BY_ID`/`BY_ACCOUNT`."""
    columns = [c for c in organizations.UPDATABLE_COLUMNS if c in fields]
    values = [organizations.to_db_value(c, fields[c]) for c in columns]
    assignments = ", ".join(f'"{c}" = ?' for c in columns)
    if under_new_claim:
        guard, guard_values = f'"stripe_synced_at" < ? AND {_CLAIM_HELD}', [event_id, claim_id]
    else:
        guard, guard_values = '("stripe_synced_at" IS NULL OR "stripe_synced_at" < ?)', []
    update = deps.db.prepare(
        f'UPDATE "organization" SET {assignments}, "stripe_synced_at" = ? '
        f"WHERE {organization} AND {guard}"
    ).bind(*values, second + WITHIN_SECOND, key, second, *guard_values)
    same = " AND ".join(f'"{c}" IS ?' for c in columns)
    complete = deps.db.prepare(
        'UPDATE "connect_webhook_event" SET "status" = \'processed\', "last_error" = NULL, '
        '"lease_expires_at" = NULL, "processed_at" = ? '
        'WHERE "event_id" = ? AND "claim_id" = ? AND "status" = \'processing\' AND '
        + _SETTLED.format(organization=organization, same=same)
    ).bind(iso_ms(deps.now()), event_id, claim_id, key, second + 1, *values)
    select = (
        organizations.SELECT_BY_ID if organization == _BY_ID else organizations.SELECT_BY_ACCOUNT
    )
    return [update, complete, deps.db.prepare(select).bind(key)]


APPLY_FIELDS = {
    **CLAIM_KEY_FIELDS,
    "organization_id": required(ID),
    "fields": required(organizations.update_fields_value),
    "event_created": required(UNIX_TIME),
}


class Applied(NamedTuple):
    updated: bool
    completed: bool
    organization: Organization | None
    watermark: float | None


async def apply_organization(deps: Deps, params: Params, body: Body) -> Applied:
    statements = snapshot_statements(
        deps,
        event_id=body["event_id"],
        claim_id=body["claim_id"],
        fields=body["fields"],
        second=body["event_created"],
        organization=_BY_ID,
        key=body["organization_id"],
        under_new_claim=False,
    )
    statements.append(deps.db.prepare(STATUS).bind(body["event_id"]))
    results = await deps.db.batch(statements)
    row, event = results[2].first_row, results[3].first_row
    if row is None:
        raise organizations.organization_not_found()
    # Completed by this call, or by this same call sent before (its answer lost): answered alike.
    completed = results[1].changes > 0 or (
        event is not None
        and event["status"] == "processed"
        and event["claim_id"] == body["claim_id"]
    )
    if not completed and (
        event is None or event["status"] != "processing" or event["claim_id"] != body["claim_id"]
    ):
        raise claim_lost()
    return Applied(results[0].changes > 0, completed, *organization_and_watermark(row))


# An organization update an event asks for (`account.application.deauthorized`: the payload's
# disabled state) and its claim's completion, in one batch: the update as `update-organization`
# (only if newer) but only under the caller's claim, and the completion only if the organization
# exists — one gone leaves the claim held and answers 404, as `update-organization` does.
_COMPLETE_IF_ORGANIZATION = f"{COMPLETE_HELD} AND {ORGANIZATION_EXISTS}"

UPDATE_ORGANIZATION_FIELDS = {**organizations.UPDATE_FIELDS, **CLAIM_KEY_FIELDS}


async def update_organization(
    deps: Deps, params: Params, body: Body
) -> organizations.OrganizationUpdated:
    event_id, claim_id, org_id = body["event_id"], body["claim_id"], body["organization_id"]
    held = (HELD_BY_CALLER, (event_id, claim_id))
    update = organizations.update_statement(deps.db, body, only_if=held)
    complete = deps.db.prepare(_COMPLETE_IF_ORGANIZATION).bind(
        iso_ms(deps.now()), event_id, claim_id, org_id
    )
    select = deps.db.prepare(organizations.SELECT_BY_ID).bind(org_id)
    updated, completed, row = await deps.db.batch([update, complete, select])
    organization = organizations.found(row.first_row)
    if completed.changes == 0:
        raise claim_lost()
    return organizations.OrganizationUpdated(updated.changes > 0, organization)


ROUTES = {
    ("POST", "/webhook-events/apply-organization"): Route(apply_organization, APPLY_FIELDS),
    ("POST", "/webhook-events/update-organization"): Route(
        update_organization, UPDATE_ORGANIZATION_FIELDS
    ),
}
