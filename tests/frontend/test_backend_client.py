"""`frontend/backend-client.mjs` run by the real Node against the real backend stack.

One Node process drives the whole story (`client_flow.mjs`: onboard, Stripe's hosted page, status,
transfer and its replay, balance, payout, login link, and the errors) and prints what it saw; the
tests here hold those outcomes to the backend's contract. Browsers add CORS on top of that, so the
requests the client actually made are replayed as preflights from a configured origin.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.ports import free_port
from tests.fixtures.backend import FRONTEND_ORIGIN, BackendStack

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "frontend" / "backend-client.mjs"
FLOW = Path(__file__).with_name("client_flow.mjs")
UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def _node() -> str:
    node = shutil.which("node")
    assert node is not None, "Node 20 is required (it also builds the Worker with wrangler)"
    return node


def _closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def flow(backend_stack: BackendStack) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CLIENT_MODULE": CLIENT.as_uri(),
        "BACKEND_URL": backend_stack.url,
        "FAKE_URL": backend_stack.stripe.url,
        "FAKE_API_KEY": backend_stack.stripe.api_key,
        "ORG_ID": backend_stack.org_id,
        "TOKEN_OWNER": backend_stack.tokens["owner"],
        "TOKEN_MEMBER": backend_stack.tokens["member"],
        "TOKEN_OUTSIDER": backend_stack.tokens["outsider"],
        "CLOSED_URL": _closed_url(),
    }
    done = subprocess.run(
        [_node(), str(FLOW)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def _error(outcome: dict[str, Any]) -> tuple[int, str]:
    assert "error" in outcome, outcome
    assert outcome["error"]["name"] == "BackendError"
    return outcome["error"]["status"], outcome["error"]["code"]


def test_onboarding_to_transfer_payout_and_dashboard(
    flow: dict[str, Any], backend_stack: BackendStack
) -> None:
    r = flow["results"]
    assert r["statusBefore"]["ok"]["stripe_connect_status"] is None
    onboard = r["onboard"]["ok"]
    assert onboard["url"].startswith(backend_stack.stripe.url)
    assert onboard["account_id"].startswith("acct_")
    assert isinstance(onboard["expires_at"], int)
    assert r["onboardAgain"]["ok"]["account_id"] == onboard["account_id"]  # never a second account
    # Stripe's hosted page sends the user back to the configured frontend origin + returnPath.
    assert r["hosted"]["status"] == 303
    assert r["hosted"]["location"] == f"{FRONTEND_ORIGIN}/settings/payments?connect=return"
    status = r["statusRefreshed"]["ok"]
    assert (status["stripe_connect_status"], status["payouts_enabled"]) == ("active", True)
    assert status["stripe_connect_account_id"] == onboard["account_id"]

    first = r["transfer"]["ok"]
    assert (first["gross_amount"], first["fee_amount"], first["net_amount"]) == (
        20_000,
        2_000,
        18_000,
    )
    assert (first["status"], first["idempotency_key"], first["replayed"]) == (
        "succeeded",
        "order-42",
        False,
    )
    again = r["transferAgain"]["ok"]
    assert again["replayed"] is True
    assert again["stripe_transfer_id"] == first["stripe_transfer_id"]

    assert first["source_transaction"].startswith("ch_")
    assert _error(r["transferAgainNewKey"]) == (409, "source_exhausted")  # paid out once

    generated = r["transferGeneratedKey"]["ok"]
    assert re.fullmatch(UUID4, generated["idempotency_key"])
    retried = r["transferGeneratedKeyRetry"]["ok"]
    assert (retried["replayed"], retried["stripe_transfer_id"]) == (
        True,
        generated["stripe_transfer_id"],
    )

    # 18_000 + 900 net arrived; the payout's 5_000 left the available balance.
    available = r["balance"]["ok"]["available"]
    assert {"amount": 18_900, "currency": "usd"} in available
    payout = r["payout"]["ok"]
    assert (payout["amount"], payout["currency"], payout["replayed"]) == (5_000, "usd", False)
    assert payout["payout_id"].startswith("po_")
    assert payout["idempotency_key"] == "payout-1"
    assert r["payoutAgain"]["ok"]["payout_id"] == payout["payout_id"]

    # The payout schedule: owners set it, members may not, and "pay out now" waits for manual.
    assert _error(r["memberSchedule"])[0] == 403
    assert _error(r["weeklyNoAnchor"]) == (400, "weekly_anchor_required")
    schedule = r["schedule"]["ok"]
    assert (
        schedule["payout_schedule_interval"],
        schedule["payout_schedule_weekly_anchor"],
        schedule["payout_schedule_delay_days"],
    ) == ("weekly", "friday", 3)
    assert _error(r["payoutOnSchedule"]) == (409, "automatic_payouts")
    assert r["manualAgain"]["ok"]["payout_schedule_interval"] == "manual"
    # History, newest first, a page at a time, for any member.
    page1, page2 = r["transferPage1"]["ok"], r["transferPage2"]["ok"]
    assert page1["transfers"][0]["gross_amount"] == 1_000  # the later, smaller transfer
    assert page2["transfers"][0]["gross_amount"] == 20_000
    assert page1["next_cursor"]
    assert page2["next_cursor"] is None
    (paid_out,) = r["payoutHistory"]["ok"]["payouts"]
    assert (paid_out["stripe_payout_id"], paid_out["automatic"]) == (payout["payout_id"], False)
    assert _error(r["outsiderHistory"])[0] == 403
    assert r["payoutAgain"]["ok"]["replayed"] is True
    assert r["loginLink"]["ok"]["url"].startswith(backend_stack.stripe.url)
    # Account Sessions for the embedded components, by role.
    assert r["ownerSession"]["ok"]["components"] == [
        "account_management",
        "account_onboarding",
        "balances",
        "notification_banner",
        "payouts",
    ]
    assert r["memberSession"]["ok"]["components"] == ["payouts_list"]
    assert r["ownerSession"]["ok"]["client_secret"] != r["memberSession"]["ok"]["client_secret"]
    assert _error(r["outsiderSession"])[0] == 403
    # Earned, not claimed: only the third payment is left to transfer, all of it.
    payments = r["payments"]["ok"]
    assert payments["auto_transfer_payments"] is False
    assert [(p["charge_id"], p["amount_remaining"]) for p in payments["payments"]] == [
        (r["unclaimed"], 3_000)
    ]
    assert r["autoTransfer"]["ok"]["auto_transfer_payments"] is False


def test_failures_arrive_as_backend_errors_with_the_backends_codes(flow: dict[str, Any]) -> None:
    r = flow["results"]
    assert _error(r["noToken"]) == (401, "missing_token")
    assert _error(r["outsiderStatus"]) == (403, "forbidden")
    assert _error(r["memberOnboard"]) == (403, "insufficient_role")
    assert _error(r["memberTransfer"]) == (403, "insufficient_role")
    assert _error(r["memberPayments"]) == (403, "insufficient_role")
    assert _error(r["badRedirect"]) == (400, "invalid_redirect")
    assert _error(r["transferKeyReused"]) == (409, "idempotency_key_reused")
    assert r["transferKeyReused"]["error"]["idempotencyKey"] == "order-42"
    assert r["transferKeyReused"]["error"]["message"]
    # What support needs from the user: the request's id, as the backend logged it.
    assert re.fullmatch(r"[0-9a-f]{32}", r["transferKeyReused"]["error"]["requestId"])
    assert "requestId" not in r["unreachable"]["error"]  # no answer, no id

    assert _error(r["rateLimited"]) == (503, "stripe_rate_limited")
    assert isinstance(r["rateLimited"]["error"]["retryAfter"], int)
    assert r["rateLimited"]["error"]["retryAfter"] > 0
    assert "retryAfter" not in r["noToken"]["error"]  # undefined: no Retry-After header

    assert _error(r["unreachable"]) == (0, "network_error")
    assert r["unreachable"]["error"]["idempotencyKey"] == "order-43"  # what to retry with


def test_a_401_re_reads_the_token_once_and_retries_then_gives_up(flow: dict[str, Any]) -> None:
    r = flow["results"]
    assert r["staleThenFresh"]["ok"]["organization_id"]  # retried with the fresh token
    assert r["asked"]["stale"] == [False, True]
    assert _error(r["revokedThenNone"]) == (401, "invalid_token")  # no token: signed out
    assert r["asked"]["revoked"] == [False, True]
    assert r["noToken"]["error"]["code"] == "missing_token"


def test_the_token_travels_only_in_the_authorization_header(
    flow: dict[str, Any], backend_stack: BackendStack
) -> None:
    sent = flow["sent"]
    assert len(sent) > 10
    tokens = backend_stack.tokens.values()
    for request in sent:
        assert not any(token in request["url"] for token in tokens), request["url"]
        assert "X-User-ID" not in request["headers"]
        assert "X-Org-ID" not in request["headers"]
    nobody = [s for s in sent if "Authorization" not in s["headers"]]
    assert len(nobody) == 1  # the getToken() → null call, answered 401


def test_every_request_the_client_makes_passes_cors_from_a_frontend_origin(
    flow: dict[str, Any], backend_stack: BackendStack
) -> None:
    shapes = {
        (s["method"], s["url"].split("?")[0], ",".join(sorted(h.lower() for h in s["headers"])))
        for s in flow["sent"]
        if s["url"].startswith(backend_stack.url)
    }
    assert any("idempotency-key" in headers for _, _, headers in shapes)
    with httpx.Client(timeout=10) as client:
        for method, url, headers in shapes:
            preflight = client.options(
                url,
                headers={
                    "Origin": FRONTEND_ORIGIN,
                    "Access-Control-Request-Method": method,
                    "Access-Control-Request-Headers": headers,
                },
            )
            assert preflight.status_code == 200, (method, url, headers, preflight.text)
            assert preflight.headers["access-control-allow-origin"] == FRONTEND_ORIGIN
        replay = client.options(
            f"{backend_stack.url}/api/connect/transfer",
            headers={
                "Origin": "https://not-configured.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
            },
        )
        assert replay.status_code == 400
        assert "access-control-allow-origin" not in replay.headers


def test_a_silent_backend_times_out_as_network_error_and_keys_need_no_random_uuid() -> None:
    script = f"""
        const m = await import({json.dumps(CLIENT.as_uri())});
        Object.defineProperty(globalThis.crypto, "randomUUID", {{ value: undefined }});
        const key = m.newIdempotencyKey();
        const client = m.createBackendClient({{
          baseUrl: process.env.SILENT_URL, getToken: () => "t", timeoutMs: 200,
        }});
        const error = await client.payout("org", {{ currency: "usd" }}).catch((e) => e);
        console.log(JSON.stringify({{
          key, isBackendError: error instanceof m.BackendError, status: error.status,
          code: error.code, message: error.message, idempotencyKey: error.idempotencyKey,
        }}));
    """
    with socket.socket() as silent:  # listens (the kernel completes the handshake), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        done = subprocess.run(
            [_node(), "--input-type=module", "-e", script],
            env={"PATH": os.environ.get("PATH", ""), "SILENT_URL": f"http://127.0.0.1:{port}"},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert re.fullmatch(UUID4, out["key"])
    assert (out["isBackendError"], out["status"], out["code"]) == (True, 0, "network_error")
    assert "200 ms" in out["message"]
    assert re.fullmatch(UUID4, out["idempotencyKey"])  # generated, and handed back for a retry
