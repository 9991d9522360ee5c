"""The Worker over a platform's own Better Auth database — defaults, plural tables with
snake_case columns, serial ids — each made by real Better Auth (its migrator, its writes), our
migrations rendered for its description applied on top, the Worker told the description."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from connect_worker.config import load_config

from devstack.migrate import MIGRATIONS_DIR, apply_migrations
from devstack.worker_host import serve_in_thread
from tests.fixtures.platform_auth import CONFIGS, PlatformAuth

API_KEY = "p" * 40
Factory = Callable[[str], PlatformAuth]


@contextmanager
def worker(db: Path, platform: PlatformAuth, description: str | None = None) -> Iterator[Any]:
    config = load_config(
        {
            "INTERNAL_API_KEYS": API_KEY,
            "BETTER_AUTH_SECRET": platform.values["secret"],
            "BETTER_AUTH_SCHEMA": description or platform.description,
        }
    )
    hosted = serve_in_thread(config, db)
    try:
        with httpx.Client(base_url=hosted.url, headers={"X-API-Key": API_KEY}) as client:
            yield client
    finally:
        hosted.stop()
        hosted.db.close()


def tables(db: Path) -> set[str]:
    with closing(sqlite3.connect(db)) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


@pytest.mark.parametrize("name", CONFIGS)
def test_the_worker_answers_real_tokens_of_each_better_auth_config(
    platform_auth: Factory, tmp_path: Path, name: str
) -> None:
    platform = platform_auth(name)
    values = platform.values
    with worker(platform.copy_to(tmp_path), platform) as client:
        assert client.get("/api/internal/health").json() == {"ok": True}
        for token in (values["signed_token"], values["raw_token"], values["jwt"]):
            reply = client.post(
                "/api/internal/verify-user-context",
                json={"token": token, "organization_id": values["org_id"]},
            )
            assert reply.status_code == 200, reply.text
            body = reply.json()
            assert body["user"]["id"] == values["user_id"]
            assert body["user"]["name"] == "Alice"
            assert body["memberships"] == [{"organization_id": values["org_id"], "role": "owner"}]
            assert body["role"] == "owner"
            assert body["organization"]["id"] == values["org_id"]
            assert body["organization"]["name"] == "Acme Inc"
            assert body["organization"]["slug"] == "acme"
            assert body["organization"]["onboarding_step"] == "account_creation"
        session = client.post(
            "/api/internal/verify-user-context", json={"token": values["signed_token"]}
        ).json()["session"]
        assert session == {
            "id": values["session_id"],
            "expires_at": values["session_expires_at"],
            "active_organization_id": values["org_id"],
        }
        bob = client.post(
            "/api/internal/verify-user-context",
            json={"token": values["bob_signed_token"], "organization_id": values["org_id"]},
        )
        assert bob.status_code == 200, bob.text
        assert bob.json()["role"] == "member"
        # The Connect columns live on the platform's organization table, whatever it is called.
        created = client.post(
            "/api/internal/create-connect-account",
            json={"organization_id": values["org_id"], "stripe_account_id": "acct_1Platform"},
        )
        assert created.status_code == 201, created.text
        by_account = client.get("/api/internal/organization-by-account/acct_1Platform")
        assert by_account.json()["organization"]["id"] == values["org_id"]


def test_default_migrations_on_renamed_tables_stop_and_create_no_look_alikes(
    platform_auth: Factory, tmp_path: Path
) -> None:
    platform = platform_auth("plural_snake")
    db = platform.copy_to(tmp_path, migrate=False)
    before = tables(db)
    with pytest.raises(sqlite3.IntegrityError, match="no Better Auth table user here"):
        apply_migrations(db)
    assert tables(db) - before <= {"d1_migrations", "sqlite_sequence"}
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM d1_migrations").fetchone() == (0,)


def test_rendered_migrations_put_the_connect_columns_on_the_platforms_organizations(
    platform_auth: Factory, tmp_path: Path
) -> None:
    platform = platform_auth("plural_snake")
    db = platform.copy_to(tmp_path)
    with closing(sqlite3.connect(db)) as conn:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(organizations)")}
        row = conn.execute(
            "SELECT slug, platform_fee_percent, onboarding_step FROM organizations"
        ).fetchone()
    assert {"stripe_connect_account_id", "payout_schedule_interval"} <= columns
    assert row == ("acme", 10.0, "account_creation")
    assert "organization" not in tables(db)


def test_serial_ids_are_text_and_only_their_one_form_names_an_organization(
    platform_auth: Factory, tmp_path: Path
) -> None:
    platform = platform_auth("serial")
    org_id = platform.values["org_id"]
    assert org_id.isdigit()
    with worker(platform.copy_to(tmp_path), platform) as client:
        found = client.get(f"/api/internal/organization/{org_id}")
        assert found.status_code == 200
        assert found.json()["organization"]["id"] == org_id
        for other in (f"0{org_id}", f"{org_id}.0", f" {org_id}", f"+{org_id}"):
            response = client.get(f"/api/internal/organization/{other}")
            assert response.status_code == 404, other
            assert response.json()["error"]["code"] == "organization_not_found"
            verify = client.post(
                "/api/internal/verify-user-context",
                json={"token": platform.values["signed_token"], "organization_id": other},
            )
            assert verify.status_code == 404, other
        reserved = client.post(
            "/api/internal/payouts/reserve",
            json={
                "organization_id": org_id,
                "idempotency_key": "k-1",
                "request_hash": "h",
                "stripe_account_id": "acct_1Serial",
                "amount": 500,
                "currency": "usd",
            },
        )
        assert reserved.status_code == 201, reserved.text
        assert reserved.json()["payout"]["organization_id"] == org_id
        again = client.get(f"/api/internal/payouts/{org_id}/k-1")
        assert again.status_code == 200
        assert client.get(f"/api/internal/payouts/0{org_id}/k-1").status_code == 404


def test_the_local_host_renders_and_applies_the_migrations_for_its_description(
    platform_auth: Factory, tmp_path: Path
) -> None:
    platform = platform_auth("plural_snake")
    db = platform.copy_to(tmp_path, migrate=False)  # as Better Auth left it
    with worker(db, platform) as client:
        found = client.get(f"/api/internal/organization/{platform.values['org_id']}")
        assert found.status_code == 200, found.text
        assert found.json()["organization"]["platform_fee_percent"] == 10.0
    with closing(sqlite3.connect(db)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM d1_migrations ORDER BY id")]
    assert names == sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
    assert "organization" not in tables(db)


def test_without_the_jwt_plugin_session_tokens_work_and_every_jwt_is_an_invalid_token(
    platform_auth: Factory, tmp_path: Path
) -> None:
    platform = platform_auth("no_jwt")  # organization() + bearer(): Better Auth made no jwks
    values = platform.values
    assert values["jwt"] is None
    assert platform.schema.has_jwt_keys is False
    db = platform.copy_to(tmp_path, migrate=False)  # as Better Auth left it
    assert not any("jwk" in name for name in tables(db))
    (tmp_path / "committed").mkdir()
    committed = platform.copy_to(tmp_path / "committed", migrate=False)
    with pytest.raises(sqlite3.IntegrityError, match="no Better Auth table jwks here"):
        apply_migrations(committed)  # Better Auth's defaults' rendering wants jwt()'s table
    # A real JWT, signed by a real Better Auth with jwt() (another platform's key).
    real_jwt = platform_auth("default").values["jwt"]
    forged = real_jwt.rsplit(".", 1)[0] + "." + "A" * 86
    with worker(db, platform) as client:
        assert client.get("/api/internal/health").json() == {"ok": True}
        for token in (values["signed_token"], values["raw_token"]):
            reply = client.post(
                "/api/internal/verify-user-context",
                json={"token": token, "organization_id": values["org_id"]},
            )
            assert reply.status_code == 200, reply.text
            assert reply.json()["token_type"] == "session"
            assert reply.json()["user"]["id"] == values["user_id"]
            assert reply.json()["role"] == "owner"
        unknown = client.post("/api/internal/verify-user-context", json={"token": "u" * 32})
        assert unknown.status_code == 401
        assert unknown.json()["error"]["code"] == "invalid_token"
        expected = unknown.json()
        assert expected["error"].pop("request_id")  # each reply's own
        for token in (real_jwt, forged):
            # Any statement naming jwks would fail here (no such table): the refusal is the
            # invalid-token one, not a 5xx.
            refused = client.post(
                "/api/internal/verify-user-context",
                json={"token": token, "organization_id": values["org_id"]},
            )
            error = refused.json()["error"]
            assert error.pop("request_id")
            assert (refused.status_code, {"error": error}) == (401, expected)
        assert client.get("/api/internal/health").json() == {"ok": True}
    # The host applied the migrations rendered for the description (no jwks in them), all of them.
    with closing(sqlite3.connect(db)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM d1_migrations ORDER BY id")]
    assert names == sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
