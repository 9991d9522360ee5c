"""Stripe's embedded Connect components in a real browser, on the real local stack in the Custom
profile (`CONNECT_ACCOUNT_PROFILE=custom`, `STRIPE_PUBLISHABLE_KEY` set).

Offline, Stripe's Connect.js cannot load. So, in this test only, Playwright answers Stripe's script
address with a stand-in that records what our page asks of it: the publishable key, the client
secret it was handed (and so which backend reply it came from), and the components created. The
stand-in is the only fake here: Better Auth, the backend, the Worker, the Stripe fake (Account
Sessions included) and `@stripe/connect-js` (bundled from npm) are the real ones. Without the
script the page keeps its own panels and says why.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from devstack.seed import add_member
from devstack.stack_config import DemoState
from tests.frontend.browser import RequestLog, launch_chromium
from tests.frontend.test_browser_story import (
    SHOTS,
    TIMEOUT_MS,
    _create_org,
    _new_context,
    _org_row,
    _shot,
    _sign_up,
    _state_badge,
    _user_id,
)
from tests.stack.procs import RunningStack

CONNECT_JS_URL = "https://connect-js.stripe.com/v1.0/connect.js"
PUBLISHABLE_KEY = "pk_test_localStandIn123"

pytestmark = pytest.mark.slow
expect.set_options(timeout=TIMEOUT_MS)

# What Connect.js provides, as far as our page and `@stripe/connect-js` use it: `StripeConnect.init`
# and the `stripe-connect-*` elements with `setConnector`. It records everything it is given.
STAND_IN = """
(() => {
  const seen = (window.__connectStandIn = { inits: [], connected: [] });
  window.StripeConnect = window.StripeConnect || {};
  window.StripeConnect.init = (params) => {
    const record = { publishableKey: params.publishableKey, secret: null };
    seen.inits.push(record);
    const eager = params.metaOptions && params.metaOptions.eagerClientSecretPromise;
    Promise.resolve(eager || params.fetchClientSecret())
      .then((secret) => { record.secret = secret; });
    return { connect: { standIn: true }, update() {}, logout: async () => {} };
  };
  const names = ["account-onboarding", "account-management", "notification-banner", "balances",
    "payouts", "payouts-list", "payments"];
  for (const name of names) {
    customElements.define(`stripe-connect-${name}`, class extends HTMLElement {
      setConnector(connect) {
        seen.connected.push(name);
        this.textContent = `Stripe's ${name} component (test stand-in)`;
        this.style.display = "block";
        this.style.padding = "0.75rem";
        this.style.border = "1px dashed #635bff";
        this.style.borderRadius = "6px";
      }
    });
  }
})();
"""


def _serve_stand_in(route: Route) -> None:
    route.fulfill(status=200, content_type="text/javascript", body=STAND_IN)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[RunningStack, DemoState]]:
    running = RunningStack.start(
        tmp_path / "state",
        extra_env={"CONNECT_ACCOUNT_PROFILE": "custom", "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY},
    )
    try:
        yield running, running.wait_up(timeout=90.0)
    finally:
        running.stop()
        running.kill_tree()


def _stand_in_record(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate("window.__connectStandIn")
    return found


def test_embedded_components_for_each_role_and_the_fallback_in_chromium(
    stack: tuple[RunningStack, DemoState], capsys: pytest.CaptureFixture[str]
) -> None:
    running, state = stack
    assert state.frontend_url is not None
    app, fake = state.frontend_url, state.stripe_fake_url
    assert fake is not None
    db = running.state_dir / "d1.sqlite3"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with capsys.disabled():
        print(f"\nscreenshots: {SHOTS}")
    log = RequestLog()
    contexts: list[BrowserContext] = []
    secrets: list[str] = []

    def keep_session(response: Any) -> None:
        if response.url.endswith("/api/connect/account-session") and response.ok:
            secrets.append(json.loads(response.body())["client_secret"])

    with launch_chromium() as browser:
        owner = _new_context(contexts, browser, log)
        owner.context.route(CONNECT_JS_URL, _serve_stand_in)
        owner.context.on("response", keep_session)
        _sign_up(owner, app, name="Carol Owner", email="carol@example.com")
        _create_org(owner, "Custom Co")
        # No account yet: the page's own panels (Stripe-hosted onboarding through an Account Link).
        expect(_state_badge(owner)).to_have_text("Not set up")
        expect(owner.get_by_test_id("stripe-embedded")).to_be_empty()
        owner.get_by_role("button", name="Set up payouts").click()
        owner.wait_for_url(re.compile(re.escape(fake) + r"/_fake/onboarding/"))
        owner.get_by_role("button", name="Complete onboarding").click()
        owner.wait_for_url(f"{app}/settings/payouts**")
        expect(_state_badge(owner)).to_have_text("Active")

        # Active: Stripe's components for an owner, through our Account Session route.
        embedded = owner.get_by_test_id("stripe-embedded")
        for component in ("notification_banner", "account_management", "balances", "payouts"):
            expect(embedded.locator(f'[data-component="{component}"]')).to_be_visible()
        expect(embedded.locator('[data-component="account_onboarding"]')).to_have_count(0)
        expect(embedded).to_contain_text("Stripe's payouts component (test stand-in)")
        # A Custom-profile account has no Stripe dashboard to open; our own panels stay for
        # what is ours (the balance and "Pay out now", the schedule).
        expect(owner.get_by_role("button", name="Open Stripe dashboard")).to_have_count(0)
        expect(owner.get_by_role("table", name="Balance by currency")).to_be_visible()
        # Stripe's payouts component lists the payouts: the page's own list is not repeated.
        expect(owner.get_by_role("heading", name="Payouts to your bank")).to_have_count(0)
        record = _stand_in_record(owner)
        assert sorted(record["connected"]) == [
            "account-management",
            "balances",
            "notification-banner",
            "payouts",
        ]
        assert [i["publishableKey"] for i in record["inits"]] == [PUBLISHABLE_KEY]
        assert record["inits"][0]["secret"] == secrets[0]  # the backend's reply, handed over as is
        _shot(owner, "11-custom-owner-embedded")

        # The client secret was fetched with the token in Authorization, and nowhere else.
        asked = [r for r in log.requests if r.url.endswith("/api/connect/account-session")]
        sent = [r for r in asked if r.method == "POST"]
        assert sent
        for request in sent:
            token = request.headers["authorization"].removeprefix("Bearer ")
            assert token in log.tokens
            assert token not in request.url
            assert token not in request.body
            assert json.loads(request.body) == {"organization_id": _org_row(db, "Custom Co")[0]}
        for request in log.requests:
            if "connect-js.stripe.com" in request.url:
                assert "authorization" not in request.headers
                assert not any(t in request.url for t in log.tokens)

        # A member: the read-only payouts list only.
        org_id = _org_row(db, "Custom Co")[0]
        member = _new_context(contexts, browser, log)
        member.context.route(CONNECT_JS_URL, _serve_stand_in)
        _sign_up(member, app, name="Dan Member", email="dan@example.com")
        _create_org(member, "Dan's Den")
        with sqlite3.connect(db) as conn:
            add_member(
                conn, organization_id=org_id, user_id=_user_id(db, "dan@example.com"), role="member"
            )
        member.reload()
        member.get_by_label("Active organization").select_option(label="Custom Co")
        expect(member.get_by_role("heading", name="Payouts for Custom Co")).to_be_visible()
        member_embedded = member.get_by_test_id("stripe-embedded")
        expect(member_embedded.locator('[data-component="payouts_list"]')).to_be_visible()
        expect(member_embedded.locator("[data-component]")).to_have_count(1)
        assert _stand_in_record(member)["connected"] == ["payouts-list"]
        _shot(member, "12-custom-member-embedded")

        # Stripe's script cannot load: the page keeps its own panels and says why.
        offline = _new_context(contexts, browser, log)
        offline.context.route(CONNECT_JS_URL, lambda route: route.abort("internetdisconnected"))
        offline.goto(f"{app}/sign-in")
        offline.get_by_label("Email", exact=True).fill("carol@example.com")
        offline.get_by_label("Password", exact=True).fill("correct-horse-battery-staple")
        offline.get_by_role("button", name="Sign in").click()
        expect(offline.get_by_role("navigation", name="Account")).to_contain_text("Signed in as")
        offline.goto(f"{app}/settings/payouts")
        expect(_state_badge(offline)).to_have_text("Active")
        expect(offline.get_by_role("status").first).to_contain_text(
            "Stripe's account tools could not be loaded"
        )
        expect(offline.get_by_role("status").first).to_contain_text(
            "Showing this page's own payout panels instead"
        )
        expect(offline.get_by_test_id("stripe-embedded")).to_be_empty()
        expect(offline.get_by_role("table", name="Balance by currency")).to_be_visible()
        expect(offline.get_by_role("heading", name="Payouts to your bank")).to_be_visible()
        _shot(offline, "13-custom-script-unavailable")
