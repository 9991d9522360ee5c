"""verify-user-context against the real Better Auth database and tokens, with an injected clock."""

from __future__ import annotations

import base64
import json
import sqlite3
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.worker.conftest import Core, make_core
from tests.worker.test_jwt import b64url, jwk_of, make_jwt

INVALID = {"error": {"code": "invalid_token", "message": "The token is invalid or expired."}}


async def verify(core: Core, token: str, org_id: str | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"token": token}
    if org_id is not None:
        body["organization_id"] = org_id
    return await core.post("verify-user-context", body)


@pytest.mark.parametrize(
    "variant", ["signed_cookie_token", "signed_cookie_token_decoded", "raw_token"]
)
async def test_real_session_tokens_verify_with_org_in_one_round_trip(
    real_core: Core, ba_fixture: dict[str, Any], variant: str
) -> None:
    before = real_core.db.round_trips
    status, body = await verify(real_core, ba_fixture[variant], ba_fixture["org_id"])
    assert status == 200, body
    assert real_core.db.round_trips - before == 1
    assert body["token_type"] == "session"
    assert body["user"] == {
        "id": ba_fixture["user_id"],
        "name": "Alice",
        "email": "alice@example.com",
        "email_verified": False,
        "image": None,
    }
    assert body["session"] == {
        "id": ba_fixture["session_id"],
        "expires_at": ba_fixture["get_session_response"]["session"]["expiresAt"],
        "active_organization_id": ba_fixture["org_id"],
    }
    assert body["active_organization_id"] == ba_fixture["org_id"]
    assert body["memberships"] == [{"organization_id": ba_fixture["org_id"], "role": "owner"}]
    assert body["role"] == "owner"
    assert body["organization"]["id"] == ba_fixture["org_id"]
    assert body["organization"]["platform_fee_percent"] == 10.0
    assert body["organization"]["onboarding_step"] == "account_creation"


async def test_without_org_the_context_has_no_organization(
    real_core: Core, ba_fixture: dict[str, Any]
) -> None:
    bob_token = ba_fixture["other_session_cookies"][1]["set_auth_token"]
    status, body = await verify(real_core, bob_token)
    assert status == 200
    assert body["user"]["id"] == ba_fixture["bob_user_id"]
    assert body["memberships"] == [{"organization_id": ba_fixture["org_id"], "role": "member"}]
    assert body["organization"] is None
    assert body["role"] is None
    assert body["active_organization_id"] is None


async def test_the_real_jwt_verifies_in_one_round_trip(
    real_core: Core, ba_fixture: dict[str, Any]
) -> None:
    before = real_core.db.round_trips
    status, body = await verify(real_core, ba_fixture["jwt"], ba_fixture["org_id"])
    assert status == 200, body
    assert real_core.db.round_trips - before == 1
    assert body["token_type"] == "jwt"
    assert body["session"] is None
    assert body["active_organization_id"] is None
    assert body["user"]["id"] == ba_fixture["user_id"]
    assert body["role"] == "owner"


async def test_jwt_issuer_and_audience_are_enforced_when_configured(
    real_db_path: Any, ba_fixture: dict[str, Any], ba_secret: str
) -> None:
    base = ba_fixture["base_url"]
    for issuer, audience, expected in [(base, base, 200), ("https://other", base, 401)]:
        core = make_core(
            real_db_path,
            real_core_clock(ba_fixture),
            BETTER_AUTH_SECRET=ba_secret,
            BETTER_AUTH_JWT_ISSUER=issuer,
            BETTER_AUTH_JWT_AUDIENCE=audience,
        )
        status, _ = await verify(core, ba_fixture["jwt"])
        core.db.close()
        assert status == expected


def real_core_clock(ba_fixture: dict[str, Any]) -> Any:
    from tests.fixtures.worker import ShiftableClock
    from tests.worker.conftest import fixture_time

    return ShiftableClock(fixture_time(ba_fixture))


async def test_signatures_can_be_required(
    real_db_path: Any, ba_fixture: dict[str, Any], ba_secret: str
) -> None:
    core = make_core(
        real_db_path,
        real_core_clock(ba_fixture),
        BETTER_AUTH_SECRET=ba_secret,
        BETTER_AUTH_REQUIRE_SIGNED_TOKENS="true",
    )
    assert (await verify(core, ba_fixture["raw_token"])) == (401, INVALID)
    assert (await verify(core, ba_fixture["signed_cookie_token"]))[0] == 200
    core.db.close()


async def test_expired_session_and_expired_jwt_are_rejected(
    real_core: Core, ba_fixture: dict[str, Any]
) -> None:
    real_core.clock.advance(16 * 60)  # past the JWT's 15 minutes
    assert await verify(real_core, ba_fixture["jwt"]) == (401, INVALID)
    assert (await verify(real_core, ba_fixture["raw_token"]))[0] == 200
    real_core.clock.advance(7 * 24 * 3600)  # past the session's 7 days
    assert await verify(real_core, ba_fixture["signed_cookie_token"]) == (401, INVALID)


async def test_sessions_of_a_deleted_user_are_rejected(
    real_core: Core, ba_fixture: dict[str, Any]
) -> None:
    conn = sqlite3.connect(real_core.db_path)
    conn.execute("PRAGMA foreign_keys = OFF")  # keep the orphan session: the join must still refuse
    conn.execute('DELETE FROM "user" WHERE id = ?', (ba_fixture["user_id"],))
    conn.commit()
    conn.close()
    assert await verify(real_core, ba_fixture["signed_cookie_token"]) == (401, INVALID)
    assert await verify(real_core, ba_fixture["jwt"]) == (401, INVALID)


def _tamper_payload(jwt: str, **changes: Any) -> str:
    header, payload, signature = jwt.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims.update(changes)
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"


@pytest.mark.parametrize(
    "make_token",
    [
        lambda fx: "x" + fx["raw_token"][1:],  # unknown raw token
        lambda fx: fx["bearer_results"]["signed_badsig"]["sent"],
        lambda fx: fx["bearer_results"]["signed_b64url_nopad"]["sent"],
        lambda fx: fx["bearer_results"]["raw_bad"]["sent"],
        lambda fx: "x" + fx["signed_cookie_token_decoded"][1:],
        lambda fx: _tamper_payload(fx["jwt"], sub=fx["bob_user_id"]),
        lambda fx: fx["jwt"][:-6] + "AAAAAA",
        lambda fx: fx["jwt"].replace("eyJhbGciOiJFZERTQSIs", "eyJhbGciOiJub25lIiwi", 1),
        lambda fx: "not a token at all",
        lambda fx: "' OR '1'='1",
        lambda fx: "eyJ.eyJ.eyJ",
    ],
)
async def test_every_bad_token_gets_the_same_401(
    real_core: Core, ba_fixture: dict[str, Any], make_token: Any
) -> None:
    assert await verify(real_core, make_token(ba_fixture)) == (401, INVALID)


async def test_wrong_secret_rejects_real_signed_tokens(
    real_db_path: Any, ba_fixture: dict[str, Any]
) -> None:
    core = make_core(real_db_path, real_core_clock(ba_fixture))  # a different secret
    assert await verify(core, ba_fixture["signed_cookie_token"]) == (401, INVALID)
    core.db.close()


async def test_jwt_with_unknown_kid_or_foreign_key_is_rejected(
    real_core: Core, ba_fixture: dict[str, Any]
) -> None:
    key = Ed25519PrivateKey.generate()
    claims = {**ba_fixture["jwt_claims"]}
    claims["exp"] = int(real_core.clock()) + 600
    unknown_kid = make_jwt({"alg": "EdDSA", "kid": "no-such-kid"}, claims, key)
    assert await verify(real_core, unknown_kid) == (401, INVALID)
    # Signed by an attacker's key but naming the real kid.
    forged = make_jwt({"alg": "EdDSA", "kid": ba_fixture["jwt_header"]["kid"]}, claims, key)
    assert await verify(real_core, forged) == (401, INVALID)


async def test_fresh_jwt_from_a_registered_key_verifies(
    real_core: Core, ba_fixture: dict[str, Any]
) -> None:
    key = Ed25519PrivateKey.generate()
    conn = sqlite3.connect(real_core.db_path)
    conn.execute(
        "INSERT INTO jwks (id, publicKey, privateKey, createdAt, alg, crv) "
        "VALUES ('fresh-kid', ?, 'x', '2026-11-27T00:00:00.000Z', 'EdDSA', 'Ed25519')",
        (jwk_of(key),),
    )
    conn.commit()
    conn.close()
    claims = {"sub": ba_fixture["bob_user_id"], "exp": int(real_core.clock()) + 600}
    status, body = await verify(
        real_core, make_jwt({"alg": "EdDSA", "kid": "fresh-kid"}, claims, key)
    )
    assert status == 200
    assert body["user"]["email"] == "bob@example.com"


async def test_org_the_user_is_not_in_is_403_same_as_a_missing_org(
    real_core: Core, ba_fixture: dict[str, Any]
) -> None:
    conn = sqlite3.connect(real_core.db_path)
    conn.execute(
        "INSERT INTO organization (id, name, slug, createdAt) "
        "VALUES ('other-org', 'Other', 'other', '2026-11-27T00:00:00.000Z')"
    )
    conn.commit()
    conn.close()
    token = ba_fixture["signed_cookie_token"]
    existing = await verify(real_core, token, "other-org")
    missing = await verify(real_core, token, "no-such-org")
    sqlish = await verify(real_core, token, "x' OR '1'='1")
    assert existing[0] == missing[0] == sqlish[0] == 403
    assert existing[1] == missing[1] == sqlish[1]
    assert existing[1]["error"]["code"] == "forbidden"
    assert (await verify(real_core, ba_fixture["jwt"], "other-org"))[0] == 403
