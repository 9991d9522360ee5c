"""The audit of the soak's money-back phase: each payment's money, read from Stripe (the fake)
and D1, against what refunds and disputes should have left the organization.

The rule checked (DESIGN decision 6): the organization keeps its net share of what is left of the
payment — `net × min(gross, amount − refunded − lost to disputes) // gross` over the payment's
transfers — within one minor unit. What it kept is read from Stripe: each of the payment's
transfers (and reinstatements) less what Stripe reversed of it, plus what was taken from them to
pay another payment's debt, less what D1 says this payment still owes and what other transfers
paid of its debts.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.ledger.return_flow import HELD
from bench.stack import FAKE_API_KEY, http_json


@dataclass(frozen=True, slots=True)
class Payment:
    org_id: str
    charge: str


def _get(stripe_url: str, path: str) -> Any:
    status, body = http_json(
        "GET", f"{stripe_url}{path}", headers={"Authorization": f"Bearer {FAKE_API_KEY}"}
    )
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body}")
    return body


def _rows(d1_path: Path, sql: str, *args: object) -> list[dict[str, Any]]:
    conn = sqlite3.connect(d1_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


def _from_balance(row: dict[str, Any]) -> bool:
    """A reinstatement funded by the platform's balance (its key says so)."""
    return str(row["idempotency_key"]).startswith(f"{HELD}:")


def expected_kept(amount: int, refunded: int, lost: int, transfers: list[dict[str, Any]]) -> int:
    gross = sum(int(t["gross_amount"]) for t in transfers)
    net = sum(int(t["net_amount"]) for t in transfers)
    if gross <= 0:
        return 0
    return net * min(gross, max(amount - refunded - lost, 0), amount) // gross


def audit_returns(
    d1_path: Path, stripe_url: str, payments: list[Payment]
) -> list[tuple[bool, str]]:
    """The money-back audit lines (ok, text); every failing payment is named."""
    charges = {p.charge for p in payments}
    ledger = _rows(d1_path, 'SELECT * FROM "connect_transfer" WHERE "status" != \'failed\'')
    returns = _rows(d1_path, 'SELECT * FROM "connect_return"')
    lines_rows = _rows(d1_path, 'SELECT * FROM "connect_debt_line"')
    ledger = [t for t in ledger if t["source_transaction"] in charges]
    by_transfer = {str(t["stripe_transfer_id"]): t for t in ledger if t["stripe_transfer_id"]}
    stripe_transfers: dict[str, dict[str, Any]] = {}
    for transfer_id in list(by_transfer) + [
        str(r["stripe_object_id"])
        for r in returns
        if r["kind"] == "reinstatement"
        and r["stripe_object_id"]
        and r["source_transaction"] in charges
    ]:
        stripe_transfers[transfer_id] = _get(stripe_url, f"/v1/transfers/{transfer_id}")
    reversals: dict[str, dict[str, Any]] = {}
    for transfer_id, transfer in stripe_transfers.items():
        page = _get(stripe_url, f"/v1/transfers/{transfer_id}/reversals?limit=100")
        assert not page["has_more"], "more than 100 reversals of one transfer"
        for reversal in page["data"]:
            reversals[str(reversal["id"])] = reversal
        if sum(r["amount"] for r in page["data"]) != transfer["amount_reversed"]:
            raise RuntimeError(f"{transfer_id}: its reversals do not add up to amount_reversed")
    payment_of_transfer: dict[str, str] = {}
    for t in ledger:
        if t["stripe_transfer_id"] and t["source_transaction"]:
            payment_of_transfer[str(t["stripe_transfer_id"])] = str(t["source_transaction"])
    for r in returns:
        if r["kind"] == "reinstatement" and r["stripe_object_id"]:
            payment_of_transfer[str(r["stripe_object_id"])] = str(r["source_transaction"])
    return_by_id = {int(r["id"]): r for r in returns}
    # A debt paid out of another payment's transfer: money that transfer's payment did keep.
    paid_for_others: Counter[str] = Counter()
    paid_by_others: Counter[str] = Counter()
    for line in lines_rows:
        if line["kind"] != "recovered":
            continue
        debt = return_by_id[int(line["return_id"])]
        reference = str(line["reference"])
        from_transfer = (
            str(reversals[reference]["transfer"]) if reference in reversals else reference
        )
        paid_for_others[payment_of_transfer.get(from_transfer, "?")] += int(line["amount"])
        paid_by_others[str(debt["source_transaction"])] += int(line["amount"])

    lines: list[tuple[bool, str]] = []
    wrong: list[str] = []
    for payment in payments:
        charge = _get(stripe_url, f"/v1/charges/{payment.charge}")
        disputes = _get(stripe_url, f"/v1/disputes?charge={payment.charge}")["data"]
        lost = sum(d["amount"] for d in disputes if d["status"] == "lost")
        mine = [t for t in ledger if t["source_transaction"] == payment.charge]
        want = expected_kept(charge["amount"], charge["amount_refunded"], lost, mine)
        held = sum(
            stripe_transfers[tid]["amount"] - stripe_transfers[tid]["amount_reversed"]
            for tid, source in payment_of_transfer.items()
            if source == payment.charge
        )
        owed = sum(
            int(r["amount"])
            - int(r["amount_reversed"])
            - int(r["amount_recovered"])
            - int(r["amount_forgiven"])
            for r in returns
            if r["source_transaction"] == payment.charge and r["status"] == "owed"
        )
        kept = held + paid_for_others[payment.charge] - owed - paid_by_others[payment.charge]
        if abs(kept - want) > 1:
            wrong.append(
                f"{payment.charge}: kept {kept} (held {held}, owes {owed}), expected {want} "
                f"(amount {charge['amount']}, refunded {charge['amount_refunded']}, lost {lost})"
            )
    lines.append(
        (
            not wrong,
            f"money back: {len(payments) - len(wrong)}/{len(payments)} payments kept their net "
            f"share of what is left, within one minor unit"
            + "".join(f"\n      {w}" for w in wrong),
        )
    )

    # The ledger equals Stripe's objects: what each row names at Stripe (its object, and the
    # reversals that paid it later as a debt) adds up to what the row says was taken back.
    mismatched: list[str] = []
    referenced: defaultdict[str, set[int]] = defaultdict(set)
    named: defaultdict[int, set[str]] = defaultdict(set)
    for line in lines_rows:
        if line["kind"] in ("reversed", "recovered"):
            named[int(line["return_id"])].add(str(line["reference"]))
    for r in returns:
        if r["source_transaction"] not in charges:
            continue
        if r["status"] == "pending":
            mismatched.append(f"return {r['id']} still pending")
        object_id = r["stripe_object_id"]
        if r["kind"] == "reinstatement":
            found = stripe_transfers.get(str(object_id))
            # Funded as its key says: by the platform's balance (no charge), or by its charge.
            source = None if _from_balance(r) else r["source_transaction"]
            if r["status"] == "done" and (
                found is None
                or found["amount"] != r["amount"]
                or found.get("source_transaction") != source
            ):
                mismatched.append(f"reinstatement {r['id']}: {object_id} does not match")
            continue
        ids = named[int(r["id"])] | ({str(object_id)} if object_id else set())
        for object_id in ids:
            referenced[object_id].add(int(r["id"]))
        at_stripe = sum(reversals[i]["amount"] for i in ids if i in reversals)
        taken = int(r["amount_reversed"]) + int(r["amount_recovered"])
        if any(i not in reversals for i in ids) or at_stripe != taken:
            mismatched.append(
                f"return {r['id']}: {taken} taken back per D1, {at_stripe} per Stripe ({ids})"
            )
    mine_at_stripe = {
        rid
        for rid, reversal in reversals.items()
        if payment_of_transfer.get(str(reversal["transfer"])) in charges
    }
    unclaimed = mine_at_stripe - set(referenced)
    lines.append(
        (
            not mismatched and not unclaimed,
            f"ledger = Stripe: {len(mine_at_stripe)} reversals at Stripe, "
            f"{len(unclaimed)} named by no row, {len(mismatched)} rows that disagree"
            + "".join(f"\n      {m}" for m in mismatched[:10]),
        )
    )

    # Nothing happened twice.
    twice = [object_id for object_id, rows in referenced.items() if len(rows) > 1]
    # A cause may give back in two parts, one per funding (`backend/money/money_back.py`): never
    # more.
    reinstated: defaultdict[tuple[str, bool], int] = defaultdict(int)
    for r in returns:
        if r["kind"] == "reinstatement" and r["status"] == "done":
            reinstated[(str(r["cause_id"]), _from_balance(r))] += 1
    again = [cause for cause, n in reinstated.items() if n > 1]
    lines.append(
        (
            not twice and not again,
            f"nothing twice: {len(twice)} Stripe reversals named twice, {len(again)} causes "
            f"reinstated more than once",
        )
    )
    return lines


def audit_events(d1_path: Path, delivered: list[str]) -> tuple[bool, str]:
    """Every event the fake delivered is processed. An event claimed again after a refused
    attempt (its claim released with an error, and Stripe's retry processed it) is counted, not
    failed: what would have been applied twice shows in the money and at Stripe, audited below."""
    if not delivered:
        return True, "money-back events: none delivered"
    rows = {
        r["event_id"]: r
        for r in _rows(
            d1_path,
            'SELECT "event_id", "status", "attempts", "last_error" FROM "connect_webhook_event" '
            f'WHERE "event_id" IN ({",".join("?" * len(delivered))})',
            *delivered,
        )
    }
    unprocessed = [e for e in delivered if rows.get(e, {}).get("status") != "processed"]
    retried = Counter(
        str(rows[e]["last_error"])[:60] for e in delivered if rows.get(e, {}).get("attempts", 1) > 1
    )
    return (
        not unprocessed,
        f"money-back events: {len(delivered)} delivered (each twice, batches reversed), "
        f"{len(unprocessed)} not processed, {sum(retried.values())} processed after a refused "
        f"attempt {dict(retried) if retried else ''}".rstrip(),
    )
