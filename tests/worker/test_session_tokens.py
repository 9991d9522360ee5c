from __future__ import annotations

from typing import Any

import pytest
from connect_worker.session_tokens import parse_session_token, sign


def test_signing_reproduces_better_auths_cookie_byte_for_byte(
    ba_fixture: dict[str, Any], ba_secret: str
) -> None:
    raw = ba_fixture["raw_token"]
    assert f"{raw}.{sign(raw, ba_secret)}" == ba_fixture["signed_cookie_token_decoded"]
    for other in ba_fixture["other_session_cookies"]:
        assert (
            f"{other['raw_token']}.{sign(other['raw_token'], ba_secret)}"
            == (other["set_auth_token"])
        )


@pytest.mark.parametrize(
    "variant", ["signed_cookie_token", "signed_cookie_token_decoded", "sign_in_set_auth_token"]
)
def test_real_signed_tokens_parse_to_the_session_token(
    ba_fixture: dict[str, Any], ba_secret: str, variant: str
) -> None:
    parsed = parse_session_token(ba_fixture[variant], secret=ba_secret)
    assert parsed is not None
    assert parsed.token == ba_fixture["raw_token"]
    assert parsed.signed


def test_raw_token_is_accepted_unless_signatures_are_required(
    ba_fixture: dict[str, Any], ba_secret: str
) -> None:
    raw = ba_fixture["raw_token"]
    parsed = parse_session_token(raw, secret=ba_secret)
    assert parsed is not None
    assert parsed.token == raw
    assert not parsed.signed
    assert parse_session_token(raw, secret=ba_secret, require_signed=True) is None
    signed = parse_session_token(
        ba_fixture["signed_cookie_token"], secret=ba_secret, require_signed=True
    )
    assert signed is not None


@pytest.mark.parametrize("case", ["signed_b64url_nopad", "signed_badsig"])
def test_variants_the_real_library_rejected_are_rejected(
    ba_fixture: dict[str, Any], ba_secret: str, case: str
) -> None:
    assert ba_fixture["bearer_results"][case]["ok"] is False
    assert parse_session_token(ba_fixture["bearer_results"][case]["sent"], secret=ba_secret) is None


def test_tampered_token_and_wrong_secret_are_rejected(
    ba_fixture: dict[str, Any], ba_secret: str
) -> None:
    signed = ba_fixture["signed_cookie_token_decoded"]
    tampered = "x" + signed[1:]
    assert parse_session_token(tampered, secret=ba_secret) is None
    assert parse_session_token(signed, secret="another-secret-of-at-least-32-chars!!") is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        ".",
        "abc",  # too short to be a session token
        "a" * 300,
        "has space inside the token 1234",
        "tok'; DROP TABLE session;--",
        ".EFIemKcXD6N30r+R1lJ1vTMcdjOz4vMGg26ByfrH7hk=",
        "jISyQX8BmotAYNXUaIJuAB0RQ9g4muHa.",
        "jISyQX8BmotAYNXUaIJuAB0RQ9g4muHa.EFIemKcXD6N30r+R1lJ1vTMcdjOz4vMGg26ByfrH7hk",
        "jISyQX8BmotAYNXUaIJuAB0RQ9g4muHa.%ZZ",
    ],
)
def test_malformed_values_are_rejected(ba_secret: str, value: str) -> None:
    assert parse_session_token(value, secret=ba_secret) is None
