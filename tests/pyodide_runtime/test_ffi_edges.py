"""Edge values through Pyodide's FFI and the SDK-wrapped D1 binding, seen from the Worker's adapter.

SQL NULL in every nullable column, unicode, empty results, integers up to 2^53 - 1 (and a D1
type error beyond, which validation keeps requests from reaching), D1 errors with their text, and
a UNIQUE violation inside a `batch` that leaves nothing of the batch behind.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devstack.migrate import apply_migrations
from tests.worker.conftest import BETTER_AUTH

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
AT = "2026-11-27T15:47:04.557Z"


def _database(path: Path) -> None:
    """Better Auth's real tables with rows, and one row with every column set in each ledger."""
    shutil.copyfile(BETTER_AUTH / "auth.db", path)
    apply_migrations(path)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(
            'UPDATE "organization" SET "stripe_connect_account_id" = ?, '
            "\"stripe_connect_status\" = 'pending', \"onboarding_rejection_reason\" = 'x', "
            '"requirements_disabled_reason" = \'y\', "stripe_synced_at" = 1, "logo" = \'l\', '
            "\"metadata\" = '{}'",
            ("acct_1Ffi",),
        )
        conn.execute(
            'INSERT INTO "connect_webhook_event" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
            ("evt_1", "t", 1, "acct_1Ffi", "processed", "c", 2, 1, "e", AT, AT),
        )
        conn.execute(
            'INSERT INTO "connect_transfer" ("organization_id", "idempotency_key", "request_hash", '
            '"gross_amount", "fee_amount", "net_amount", "currency", "stripe_account_id", '
            '"stripe_transfer_id", "status", "failure_message", "created_at", "updated_at") '
            "VALUES ('o', 'k', 'h', 10, 1, 9, 'usd', 'acct_1Ffi', 'tr_1', 'failed', 'm', ?, ?)",
            (AT, AT),
        )
        conn.execute(
            'INSERT INTO "connect_payment" ("payment_intent_id", "organization_id", "charge_id", '
            '"amount", "amount_refunded", "currency", "status", "created", "updated_at") '
            "VALUES ('pi_1', 'o', 'ch_1', 10, 0, 'usd', 'succeeded', 1, ?)",
            (AT,),
        )
        conn.execute(
            'INSERT INTO "connect_payout" ("stripe_payout_id", "organization_id", '
            '"stripe_account_id", "idempotency_key", "request_hash", "amount", "currency", '
            '"status", "failure_code", "failure_message", "arrival_date", "event_created", '
            "\"updated_at\") VALUES ('po_1', 'o', 'acct_1Ffi', 'k', 'h', 5, 'usd', 'refused', "
            "'c', 'm', 1, 1, ?)",
            (AT,),
        )
        conn.execute(
            'INSERT INTO "connect_return" ("organization_id", "source_transaction", '
            '"stripe_transfer_id", "kind", "cause", "cause_id", "idempotency_key", "amount", '
            '"currency", "status", "stripe_object_id", "amount_reversed", "reversing_transfer", '
            '"reversing_amount", "failure_message", "created_at", "updated_at") '
            "VALUES ('o', 'ch_1', 'tr_1', 'reversal', 'refund', 're_1', 'reversal:re_1:tr_1', 9, "
            "'usd', 'owed', 'trr_1', 4, 'tr_2', 5, 'm', ?, ?)",
            (AT, AT),
        )
    finally:
        conn.close()


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory, harness_installed: None) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("ffi") / "d1.sqlite3"
    _database(path)
    result = subprocess.run(
        ["node", str(HERE / "ffi_edges.mjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_sql_null_round_trips_in_every_nullable_column(seen: dict[str, Any]) -> None:
    nulls = seen["nulls"]
    # Every table with a nullable column had a row to write NULLs into.
    assert [t for t, columns in nulls.items() if columns == "no row"] == []
    assert {"user", "session", "organization", "account", "jwks"} <= set(nulls)
    for table in (
        "connect_webhook_event",
        "connect_transfer",
        "connect_payment",
        "connect_payout",
        "organization",
    ):
        assert isinstance(nulls[table], dict), (table, nulls[table])
    checked = {
        (table, column): values
        for table, columns in nulls.items()
        if isinstance(columns, dict)
        for column, values in columns.items()
    }
    assert ("organization", "stripe_connect_account_id") in checked
    assert ("connect_payout", "stripe_payout_id") in checked
    assert ("connect_payment", "charge_id") in checked
    assert ("organization", "requirements_current_deadline") in checked
    assert all(values == [None, None] for values in checked.values()), checked


def test_unicode_and_empty_results_cross_unchanged(seen: dict[str, Any]) -> None:
    assert seen["unicode"] == [True, True]
    assert seen["empty"] == {"first": None, "all": [], "batch_rows": [[], []]}


def test_integers_up_to_2_53_minus_1_are_exact_integers(seen: dict[str, Any]) -> None:
    sent = seen["integers"]["sent"]
    assert seen["integers"]["got"] == [[n, "int", "integer"] for n in sent]


def test_beyond_2_53_the_binding_refuses_with_a_d1_type_error(seen: dict[str, Any]) -> None:
    assert seen["beyond_2_53"]["message"].startswith("D1_TYPE_ERROR: Type 'bigint' not supported")


def test_d1_errors_keep_their_text(seen: dict[str, Any]) -> None:
    assert seen["bad_sql"] == {
        "message": "D1_ERROR: no such table: nope: SQLITE_ERROR",
        "is_constraint": False,
    }


def test_a_unique_violation_inside_a_batch_rolls_the_whole_batch_back(
    seen: dict[str, Any],
) -> None:
    error = seen["unique_in_batch"]
    assert error["is_constraint"] is True
    assert error["message"].startswith(
        "D1_ERROR: UNIQUE constraint failed: connect_webhook_event.event_id"
    )
    assert seen["left_behind"] == {"n": 0}
    assert seen["batch_changes"] == 1
