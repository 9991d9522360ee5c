from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from connect_worker.jwt import (
    claims_acceptable,
    looks_like_jwt,
    parse_jwt,
    public_key_from_jwk,
    verify_signature,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from devstack.ed25519 import CryptographyEd25519Verifier


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(header: dict[str, Any], claims: dict[str, Any], key: Ed25519PrivateKey) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"


def jwk_of(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return json.dumps({"crv": "Ed25519", "x": b64url(raw), "kty": "OKP"})


@pytest.fixture
def real_jwk(ba_fixture: dict[str, Any]) -> str:
    key = ba_fixture["jwks"]["keys"][0]
    return json.dumps({"crv": key["crv"], "x": key["x"], "kty": key["kty"]})


async def test_the_real_better_auth_jwt_verifies(ba_fixture: dict[str, Any], real_jwk: str) -> None:
    token = parse_jwt(ba_fixture["jwt"])
    assert token is not None
    assert token.kid == ba_fixture["jwt_header"]["kid"]
    assert token.subject == ba_fixture["user_id"]
    assert await verify_signature(token, real_jwk, CryptographyEd25519Verifier())


async def test_a_tampered_real_jwt_fails_verification(
    ba_fixture: dict[str, Any], real_jwk: str
) -> None:
    header, payload, signature = ba_fixture["jwt"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = ba_fixture["bob_user_id"]
    forged = parse_jwt(f"{header}.{b64url(json.dumps(claims).encode())}.{signature}")
    assert forged is not None
    assert not await verify_signature(forged, real_jwk, CryptographyEd25519Verifier())


def test_exp_iss_and_aud_are_checked_against_the_injected_clock(
    ba_fixture: dict[str, Any],
) -> None:
    claims = ba_fixture["jwt_claims"]
    base = ba_fixture["base_url"]
    live = claims["iat"] + 60
    assert claims_acceptable(claims, now=live, issuer=base, audience=base)
    assert claims_acceptable(claims, now=live, issuer=None, audience=None)
    assert not claims_acceptable(claims, now=claims["exp"], issuer=None, audience=None)
    assert not claims_acceptable(claims, now=live, issuer="https://evil", audience=None)
    assert not claims_acceptable(claims, now=live, issuer=None, audience="https://evil")
    assert claims_acceptable({**claims, "aud": ["x", base]}, now=live, issuer=None, audience=base)
    assert not claims_acceptable({**claims, "exp": None}, now=live, issuer=None, audience=None)
    assert not claims_acceptable({**claims, "exp": True}, now=live, issuer=None, audience=None)
    assert not claims_acceptable(
        {**claims, "nbf": live + 100}, now=live, issuer=None, audience=None
    )


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none", "kid": "k"},
        {"alg": "HS256", "kid": "k"},
        {"alg": "RS256", "kid": "k"},
        {"alg": "EdDSA"},  # no kid
        {"alg": "EdDSA", "kid": ""},
        {"alg": "EdDSA", "kid": "k", "crit": ["exp"]},
    ],
)
def test_only_eddsa_with_a_kid_is_accepted(header: dict[str, Any]) -> None:
    key = Ed25519PrivateKey.generate()
    assert parse_jwt(make_jwt(header, {"sub": "u", "exp": 2**40}, key)) is None


def test_alg_none_with_an_empty_signature_is_refused() -> None:
    header = b64url(json.dumps({"alg": "none", "kid": "k"}).encode())
    payload = b64url(json.dumps({"sub": "u", "exp": 2**40}).encode())
    assert parse_jwt(f"{header}.{payload}.") is None


@pytest.mark.parametrize(
    "value",
    ["a.b.c", "eyJ.eyJ.", "eyJhbGciOiJFZERTQSJ9.bm90IGpzb24.AAAA", "eyJ!.eyJ.AAAA", "x.y"],
)
def test_malformed_jwts_are_refused(value: str) -> None:
    assert parse_jwt(value) is None


async def test_a_fresh_jwt_signed_by_another_key_fails() -> None:
    signer, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    token = parse_jwt(make_jwt({"alg": "EdDSA", "kid": "k"}, {"sub": "u", "exp": 2**40}, signer))
    assert token is not None
    verifier = CryptographyEd25519Verifier()
    assert await verify_signature(token, jwk_of(signer), verifier)
    assert not await verify_signature(token, jwk_of(other), verifier)


@pytest.mark.parametrize(
    "jwk",
    [
        "not json",
        "[]",
        '{"kty": "RSA", "crv": "Ed25519", "x": "AAAA"}',
        '{"kty": "OKP", "crv": "X25519", "x": "AAAA"}',
        '{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}',
        '{"kty": "OKP", "crv": "Ed25519"}',
    ],
)
def test_unusable_public_keys_are_refused(jwk: str) -> None:
    assert public_key_from_jwk(jwk) is None


def test_jwt_detection(ba_fixture: dict[str, Any]) -> None:
    assert looks_like_jwt(ba_fixture["jwt"])
    assert not looks_like_jwt(ba_fixture["signed_cookie_token_decoded"])
    assert not looks_like_jwt(ba_fixture["raw_token"])
