from __future__ import annotations

import time

import pytest

from backend.stripe_side.webhook_verification import SignatureError, sign_header, verify_signature

BODY = b'{"id":"evt_1","type":"account.updated"}'
SECRETS = ("whsec_platform", "whsec_connect", "whsec_old")


@pytest.mark.parametrize("secret", SECRETS)
def test_signature_from_any_configured_secret_is_accepted(secret: str) -> None:
    now = int(time.time())
    header = sign_header(BODY, secret=secret, timestamp=now)
    assert verify_signature(BODY, header, secrets=SECRETS) == now


def test_one_matching_signature_among_several_is_enough() -> None:
    now = int(time.time())
    good = sign_header(BODY, secret="whsec_connect", timestamp=now).split(",")[1]
    header = f"t={now},v1={'0' * 64},{good},v0=ignored"
    assert verify_signature(BODY, header, secrets=SECRETS) == now


def test_unknown_secret_is_refused() -> None:
    header = sign_header(BODY, secret="whsec_attacker")
    with pytest.raises(SignatureError) as info:
        verify_signature(BODY, header, secrets=SECRETS)
    assert info.value.reason == "no_matching_signature"


def test_tampered_body_is_refused() -> None:
    header = sign_header(BODY, secret="whsec_platform")
    with pytest.raises(SignatureError):
        verify_signature(BODY.replace(b"evt_1", b"evt_2"), header, secrets=SECRETS)


def test_tampered_timestamp_is_refused() -> None:
    now = int(time.time())
    header = sign_header(BODY, secret="whsec_platform", timestamp=now)
    forged = header.replace(f"t={now}", f"t={now + 1}")
    with pytest.raises(SignatureError):
        verify_signature(BODY, forged, secrets=SECRETS)


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_timestamps_outside_the_300_second_tolerance_are_refused(age: int) -> None:
    now = time.time()
    header = sign_header(BODY, secret="whsec_platform", timestamp=int(now - age))
    with pytest.raises(SignatureError) as info:
        verify_signature(BODY, header, secrets=SECRETS, now=now)
    assert info.value.reason == "outside_tolerance"


def test_timestamp_inside_the_tolerance_is_accepted() -> None:
    now = time.time()
    header = sign_header(BODY, secret="whsec_platform", timestamp=int(now - 299))
    verify_signature(BODY, header, secrets=SECRETS, now=now)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing_header"),
        ("", "missing_header"),
        ("v1=abc", "missing_timestamp"),
        ("t=abc,v1=abc", "malformed_timestamp"),
        (f"t={int(time.time())}", "no_v1_signature"),
        ("t=1," + "v1=a" * 2000, "header_too_long"),
    ],
)
def test_missing_or_malformed_headers_are_refused(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError) as info:
        verify_signature(BODY, header, secrets=SECRETS)
    assert info.value.reason == reason
