"""Drive the webhook-ingestion bench against a running stack: set up, fire, resend, audit."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from dataclasses import dataclass

from bench.machine import cpu_seconds
from bench.stack import FAKE_API_KEY, Stack, http_json, seed_organizations
from bench.webhooks import Audit, FireResult, account_updated_event, audit_events, fire


@dataclass(frozen=True, slots=True)
class IngestResult:
    events: int
    organizations: int
    concurrency: int
    first: FireResult
    duplicates: FireResult
    duplicate_answers_2xx: int
    audit: Audit
    orgs_synced: int
    # role -> CPU used during the first delivery, as a fraction of one core
    cpu: dict[str, float]


def connect_accounts(stack: Stack, org_ids: list[str]) -> list[dict[str, object]]:
    """A finished Express account in the fake for each org, stored in D1 through the Worker."""
    stripe_auth = {"Authorization": f"Bearer {FAKE_API_KEY}"}
    worker_auth = {"X-API-Key": stack.secrets.internal_api_key}
    accounts = []
    for org_id in org_ids:
        status, account = http_json(
            "POST",
            f"{stack.stripe_url}/v1/accounts",
            headers=stripe_auth,
            form={"type": "express", "metadata[organization_id]": org_id},
        )
        if status != 200:
            raise RuntimeError(f"the Stripe fake refused to create an account: {status} {account}")
        acct = str(account["id"])
        http_json("POST", f"{stack.stripe_url}/_fake/accounts/{acct}/complete-onboarding")
        status, body = http_json(
            "POST",
            f"{stack.worker_url}/api/internal/create-connect-account",
            headers=worker_auth,
            json_body={"organization_id": org_id, "stripe_account_id": acct},
        )
        if status not in (200, 201):
            raise RuntimeError(f"the Worker refused create-connect-account: {status} {body}")
        _, fresh = http_json("GET", f"{stack.stripe_url}/v1/accounts/{acct}", headers=stripe_auth)
        accounts.append(fresh)
    return accounts


def ledger_transfers(
    stack: Stack, org_ids: list[str], accounts: list[dict[str, object]], *, prefix: str
) -> list[dict[str, object]]:
    """One succeeded transfer per organization in the Worker's ledger (an operator's adjustment,
    reserved and completed through the Worker as the transfer route does), for `transfer.*`
    events to land on; returns `{stripe_transfer_id, destination, amount}` per transfer."""
    worker_auth = {"X-API-Key": stack.secrets.internal_api_key}
    transfers: list[dict[str, object]] = []
    for n, (org_id, account) in enumerate(zip(org_ids, accounts, strict=True)):
        key = f"{prefix}{n}"
        stripe_id = "tr_" + "".join(c for c in key if c.isalnum())  # a Stripe-shaped id
        reserve = {
            "organization_id": org_id,
            "idempotency_key": key,
            "request_hash": "0" * 64,
            "gross_amount": 10_000,
            "fee_amount": 1_000,
            "net_amount": 9_000,
            "currency": "usd",
            "stripe_account_id": str(account["id"]),
            "reason": "bench: a transfer for transfer.* events to land on",
            "initiated_by": "operator",
        }
        complete = {
            "organization_id": org_id,
            "idempotency_key": key,
            "status": "succeeded",
            "stripe_transfer_id": stripe_id,
        }
        for path, body in (("transfers/reserve", reserve), ("transfers/complete", complete)):
            status, reply = http_json(
                "POST",
                f"{stack.worker_url}/api/internal/{path}",
                headers=worker_auth,
                json_body=body,
            )
            if status not in (200, 201):
                raise RuntimeError(f"the Worker refused {path}: {status} {reply}")
        transfers.append(
            {"stripe_transfer_id": stripe_id, "destination": account["id"], "amount": 9_000}
        )
    return transfers


def burst(
    accounts: list[dict[str, object]], *, events: int, prefix: str, base: int
) -> tuple[list[str], list[bytes]]:
    """A burst as a requirements change across all accounts makes it: each account's k-th event
    in second `base + k` (ordered by time, delivered in any order)."""
    ids = [f"{prefix}{i}" for i in range(events)]
    bodies = [
        account_updated_event(
            event_id, accounts[i % len(accounts)], created=base + i // len(accounts)
        )
        for i, event_id in enumerate(ids)
    ]
    return ids, bodies


def synced_earlier(stack: Stack, org_ids: list[str], *, synced_at: int) -> None:
    """Each organization as a platform with established accounts holds it: synced an hour ago,
    still `pending` (a never-synced one has no watermark, and its first event reads Stripe)."""
    worker_auth = {"X-API-Key": stack.secrets.internal_api_key}
    for org_id in org_ids:
        status, body = http_json(
            "POST",
            f"{stack.worker_url}/api/internal/update-organization",
            headers=worker_auth,
            json_body={
                "organization_id": org_id,
                "fields": {"stripe_connect_status": "pending", "charges_enabled": False},
                "synced_at": synced_at,
            },
        )
        if status != 200:
            raise RuntimeError(f"the Worker refused update-organization: {status} {body}")


def run_ingest(
    stack: Stack, *, events: int, organizations: int, concurrency: int, duplicate_every: int = 10
) -> IngestResult:
    org_ids = seed_organizations(
        stack.d1_path, count=organizations, owner_id=stack.principal.user_id
    )
    accounts = connect_accounts(stack, org_ids)
    url = f"{stack.backend_url}/api/connect/webhook"
    secret = stack.secrets.webhook
    now = int(time.time())
    synced_earlier(stack, org_ids, synced_at=now - 3600)
    prefix = f"evt_bench{secrets.token_hex(4)}_"
    ids, bodies = burst(accounts, events=events, prefix=prefix, base=now - 1800)
    pids = {"backend": stack.backend.pid, "worker": stack.worker.pid, "stripe": stack.stripe.pid}
    before = {role: cpu_seconds(pid) for role, pid in pids.items()}
    harness_before = time.process_time()
    first = asyncio.run(fire(url, bodies, secret=secret, concurrency=concurrency))
    cpu = {role: (cpu_seconds(pid) - before[role]) / first.wall_s for role, pid in pids.items()}
    cpu["sender"] = (time.process_time() - harness_before) / first.wall_s
    # Stripe delivers at least once: the same events again must be acknowledged and not re-applied.
    resend = bodies[::duplicate_every]
    duplicates = asyncio.run(fire(url, resend, secret=secret, concurrency=concurrency))
    audit = audit_events(stack.d1_path, ids, prefix=prefix)
    with sqlite3.connect(f"file:{stack.d1_path}?mode=ro", uri=True) as conn:
        marks = ",".join("?" * len(org_ids))
        synced = conn.execute(
            f'SELECT COUNT(*) FROM "organization" WHERE "id" IN ({marks}) '
            'AND "stripe_connect_status" = \'active\' AND "charges_enabled" = 1',
            org_ids,
        ).fetchone()[0]
    return IngestResult(
        events=events,
        organizations=organizations,
        concurrency=concurrency,
        first=first,
        duplicates=duplicates,
        duplicate_answers_2xx=duplicates.ok,
        audit=audit,
        orgs_synced=int(synced),
        cpu=cpu,
    )
