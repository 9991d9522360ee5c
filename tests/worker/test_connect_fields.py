"""README's "Bring your own Better Auth" snippet (auth_app/connect_fields.mjs) against real
Better Auth: with the Connect columns declared as read-only `additionalFields`, its migrator finds
nothing to change on a database our migrations added them to, it reads the values the Worker
wrote, organizations it creates get the columns' defaults, and a client cannot set them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from tests.fixtures.platform_auth import AUTH_APP, PlatformAuth, run_node


def test_better_auth_with_the_snippet_reads_our_columns_and_finds_nothing_to_migrate(
    platform_auth: Callable[[str], PlatformAuth], tmp_path: Path
) -> None:
    db = platform_auth("default").copy_to(tmp_path)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(
            "UPDATE organization SET stripe_connect_status = 'active', charges_enabled = 1, "
            "platform_fee_percent = 2.5, payout_schedule_interval = 'weekly', "
            "payout_schedule_weekly_anchor = 'friday' WHERE slug = 'acme'"
        )
        conn.commit()
    config = AUTH_APP / "configs" / "default_with_connect_fields.mjs"
    seen = json.loads(run_node(["connect_fields_check.mjs", str(config)], {"AUTH_DB": str(db)}))
    assert seen["to_be_created"] == []
    assert seen["to_be_added"] == []
    acme = seen["organization"]
    assert acme["slug"] == "acme"
    assert acme["stripeConnectStatus"] == "active"
    assert acme["chargesEnabled"] is True
    assert acme["platformFeePercent"] == 2.5
    assert acme["payoutScheduleInterval"] == "weekly"
    assert acme["payoutScheduleWeeklyAnchor"] == "friday"
    assert seen["created_status"] == 200
    second = seen["second"]
    assert second["onboardingStep"] == "account_creation"
    assert second["chargesEnabled"] is False
    assert second["platformFeePercent"] == 10
    # `input: false`: what a client sends for a Connect field is not written.
    assert seen["forged"]["chargesEnabled"] is False
    assert seen["forged"]["stripeConnectStatus"] is None
    with closing(sqlite3.connect(db)) as conn:
        row = conn.execute(
            "SELECT charges_enabled, stripe_connect_status FROM organization WHERE slug = 'forged'"
        ).fetchone()
    assert row == (0, None)
