"""The claim every call after `webhook-events/claim` acts under: the fields that name it, the
guard each write under it carries, its completion, and the error when it is lost.

The combined routes (`account_events`, `ledger_events`, `payment_events`, `disputes`) write an
event's effect and complete its claim in one batch, every write guarded by the claim still being
the caller's — `processing`, or `processed` by this same claim: a retried call whose first attempt
committed applies the same idempotent effect and completes again, harmlessly — so a lost claim
(another replica took the event over) writes nothing and answers 409 `claim_lost`. The claim is
granted and ended by `webhook_events`.
"""

from __future__ import annotations

from connect_worker.errors import ApiError
from connect_worker.route import ID
from connect_worker.validation import required

# Where an event's claim stands: read in the batch that acted under it, to tell a lost claim from
# one this same call completed before (its answer lost).
STATUS = 'SELECT "status", "claim_id", "attempts" FROM "connect_webhook_event" WHERE "event_id" = ?'

# An event and the claim a call acts under: the key of every call after the claim.
CLAIM_KEY_FIELDS = {"event_id": required(ID), "claim_id": required(ID)}

HELD_STATUSES = ("processing", "processed")
_HELD = '"event_id" = ? AND "claim_id" = ? AND "status" IN ({})'.format(
    ", ".join(f"'{status}'" for status in HELD_STATUSES)
)
HELD_BY_CALLER = f'EXISTS (SELECT 1 FROM "connect_webhook_event" WHERE {_HELD})'
COMPLETE_HELD = (
    'UPDATE "connect_webhook_event" SET "status" = \'processed\', "last_error" = NULL, '
    f'"lease_expires_at" = NULL, "processed_at" = COALESCE("processed_at", ?) WHERE {_HELD}'
)
# A write for an organization happens only while it exists (one gone leaves the claim held).
ORGANIZATION_EXISTS = 'EXISTS (SELECT 1 FROM "organization" WHERE "id" = ?)'


def claim_lost() -> ApiError:
    return ApiError("claim_lost", "This claim is no longer current.")
