"""The soak's money-back audit holds each payment to the issue's worked numbers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bench.soak_returns_audit import Payment, audit_returns, expected_kept
from devstack.migrate import apply_migrations
from tests.fixtures.stripe import StripeFake
from tests.stripe_fake.conftest import new_account


def _transfer(gross: int, net: int) -> dict[str, int]:
    return {"gross_amount": gross, "net_amount": net}


@pytest.mark.parametrize(
    ("amount", "refunded", "lost", "transfers", "kept"),
    [
        # 100.00 paid, 50.00 transferred as 45.00, 80.00 refunded: 90 % of the 20.00 left.
        (10_000, 8_000, 0, [_transfer(5_000, 4_500)], 1_800),
        # A full refund after a full transfer: nothing kept.
        (10_000, 10_000, 0, [_transfer(10_000, 9_000)], 0),
        # A refund of the part never transferred takes nothing from the transfer.
        (10_000, 5_000, 0, [_transfer(5_000, 4_500)], 4_500),
        # A lost dispute counts as refunded; a won one (lost = 0) not at all.
        (10_000, 0, 10_000, [_transfer(10_000, 9_000)], 0),
        (10_000, 0, 0, [_transfer(10_000, 9_000)], 9_000),
        # Rounding down: the platform is never short.
        (333, 1, 0, [_transfer(333, 299)], 298),
        # Never transferred: nothing kept whatever happened.
        (10_000, 3_000, 0, [], 0),
    ],
)
def test_the_organization_keeps_its_net_share_of_what_is_left(
    amount: int, refunded: int, lost: int, transfers: list[dict[str, int]], kept: int
) -> None:
    assert expected_kept(amount, refunded, lost, list(transfers)) == kept


# --- the audit itself, against a real Stripe fake and a migrated D1 ------------------------------

BENCH_KEY = {"api_keys": ("sk_test_bench_fake_key",)}


def _now() -> str:
    return "2026-12-07T00:00:00.000Z"


async def _refunded_after_transfer(fake: StripeFake, d1: Path, *, reverse: bool) -> Payment:
    """100.00 paid, transferred as 90.00, refunded in full; reversed at Stripe when `reverse`,
    the ledger and return rows written as the backend writes them."""
    async with fake.client() as sdk:
        account = await new_account(sdk)
        await fake.aio.complete_onboarding(account.id)
        charge = await fake.paid("org_1", 10_000)
        transfer = await sdk.v1.transfers.create_async(
            {"amount": 9_000, "currency": "usd", "destination": account.id,
             "source_transaction": charge}
        )  # fmt: skip
        await sdk.v1.refunds.create_async({"charge": charge})
        reversal = None
        if reverse:
            reversal = await sdk.v1.transfers.reversals.create_async(transfer.id)
    with sqlite3.connect(d1) as conn:
        conn.execute(
            'INSERT INTO "connect_transfer" ("organization_id", "idempotency_key", "request_hash", '
            '"gross_amount", "fee_amount", "net_amount", "currency", "stripe_account_id", '
            '"stripe_transfer_id", "status", "created_at", "updated_at", "source_transaction", '
            "\"source_seq\") VALUES ('org_1', 'k1', 'h', 10000, 1000, 9000, 'usd', ?, ?, "
            "'succeeded', ?, ?, ?, 1)",
            (account.id, transfer.id, _now(), _now(), charge),
        )
        if reversal is not None:
            conn.execute(
                'INSERT INTO "connect_return" ("organization_id", "source_transaction", '
                '"stripe_transfer_id", "kind", "cause", "cause_id", "idempotency_key", "amount", '
                '"currency", "status", "stripe_object_id", "amount_reversed", "created_at", '
                "\"updated_at\") VALUES ('org_1', ?, ?, 'reversal', 'refund', 'evt_1', 'rev-1', "
                "9000, 'usd', 'done', ?, 9000, ?, ?)",
                (charge, transfer.id, reversal.id, _now(), _now()),
            )
    return Payment("org_1", charge)


@pytest.fixture
def d1(tmp_path: Path) -> Path:
    path = tmp_path / "d1.sqlite3"
    apply_migrations(path)
    return path


@pytest.mark.parametrize("fresh_stripe_fake", [BENCH_KEY], indirect=True)
async def test_the_audit_passes_a_refund_reversed_once_and_recorded(
    fresh_stripe_fake: StripeFake, d1: Path
) -> None:
    payment = await _refunded_after_transfer(fresh_stripe_fake, d1, reverse=True)
    lines = audit_returns(d1, fresh_stripe_fake.url, [payment])
    assert all(ok for ok, _ in lines), lines


@pytest.mark.parametrize("fresh_stripe_fake", [BENCH_KEY], indirect=True)
async def test_the_audit_fails_a_refund_that_left_the_organization_its_money(
    fresh_stripe_fake: StripeFake, d1: Path
) -> None:
    payment = await _refunded_after_transfer(fresh_stripe_fake, d1, reverse=False)
    [kept, *_] = audit_returns(d1, fresh_stripe_fake.url, [payment])
    assert kept[0] is False
    assert "kept 9000 (held 9000, owes 0), expected 0" in kept[1]


@pytest.mark.parametrize("fresh_stripe_fake", [BENCH_KEY], indirect=True)
async def test_the_audit_fails_a_reversal_the_ledger_does_not_name_or_names_twice(
    fresh_stripe_fake: StripeFake, d1: Path
) -> None:
    payment = await _refunded_after_transfer(fresh_stripe_fake, d1, reverse=True)
    with sqlite3.connect(d1) as conn:
        conn.execute(
            'INSERT INTO "connect_return" ("organization_id", "source_transaction", '
            '"stripe_transfer_id", "kind", "cause", "cause_id", "idempotency_key", "amount", '
            '"currency", "status", "stripe_object_id", "amount_reversed", "created_at", '
            '"updated_at") SELECT "organization_id", "source_transaction", "stripe_transfer_id", '
            '"kind", "cause", \'evt_2\', \'rev-2\', "amount", "currency", "status", '
            '"stripe_object_id", "amount_reversed", "created_at", "updated_at" '
            'FROM "connect_return"'
        )
    lines = dict((text.split(":")[0], ok) for ok, text in audit_returns(
        d1, fresh_stripe_fake.url, [payment]
    ))  # fmt: skip
    assert lines["nothing twice"] is False
    with sqlite3.connect(d1) as conn:
        conn.execute('DELETE FROM "connect_return"')
    lines = dict((text.split(":")[0], ok) for ok, text in audit_returns(
        d1, fresh_stripe_fake.url, [payment]
    ))  # fmt: skip
    assert lines["ledger = Stripe"] is False


def _reinstatement(d1: Path, key: str, cause_id: str) -> None:
    """A done reinstatement row of the payment naming its transfer at Stripe (9000, funded by
    the charge): enough for the audit's checks of what funds it and how often a cause gives."""
    with sqlite3.connect(d1) as conn:
        conn.execute(
            'INSERT INTO "connect_return" ("organization_id", "source_transaction", '
            '"stripe_transfer_id", "kind", "cause", "cause_id", "idempotency_key", "amount", '
            '"currency", "status", "stripe_object_id", "created_at", "updated_at") '
            'SELECT "organization_id", "source_transaction", "stripe_transfer_id", '
            "'reinstatement', 'refund', ?, ?, 9000, 'usd', 'done', \"stripe_transfer_id\", ?, ? "
            'FROM "connect_transfer"',
            (cause_id, key, _now(), _now()),
        )


def _audited(d1: Path, url: str, payment: Payment) -> dict[str, bool]:
    return {text.split(":")[0]: ok for ok, text in audit_returns(d1, url, [payment])}


@pytest.mark.parametrize("fresh_stripe_fake", [BENCH_KEY], indirect=True)
async def test_the_audit_holds_a_reinstatement_to_its_funding_and_one_per_cause_and_funding(
    fresh_stripe_fake: StripeFake, d1: Path
) -> None:
    payment = await _refunded_after_transfer(fresh_stripe_fake, d1, reverse=True)
    charge = payment.charge
    _reinstatement(d1, f"reinstatement:evt_9:{charge}", "evt_9")
    assert _audited(d1, fresh_stripe_fake.url, payment)["ledger = Stripe"] is True
    # A row whose key says the platform's balance funds it, naming a transfer the charge funded.
    _reinstatement(d1, f"reinstatement-held:evt_9:{charge}", "evt_9")
    lines = _audited(d1, fresh_stripe_fake.url, payment)
    assert lines["ledger = Stripe"] is False
    assert lines["nothing twice"] is True  # one part per funding is not twice
    _reinstatement(d1, f"reinstatement:evt_9:{charge}:again", "evt_9")
    assert _audited(d1, fresh_stripe_fake.url, payment)["nothing twice"] is False
