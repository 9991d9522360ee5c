"""The whole story in a real browser on the real local stack (`python -m devstack.run`, = make dev).

Headless Chromium signs up through the real Better Auth, creates an organization, sets up payouts on
the Stripe fake's hosted page, comes back to the return URL, sees the account active once the
webhook landed, gets money through the fake's control API, pays it out, opens the dashboard; an
already-used link lands on the refresh URL and continues; a member sees status without controls; a
user of another organization is refused; signing out makes the page say so. Every request the
browser sends is recorded: no Better Auth token is ever in a URL, a body, localStorage, or a header
other than `Authorization` to the backend. Screenshots of each step go to the folder printed.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from connect_worker.auth_schema import DEFAULT, AuthSchema, parse
from connect_worker.clock import iso_ms
from playwright.sync_api import BrowserContext, FloatRect, Locator, Page, expect

from devstack.ports import free_ports
from devstack.seed import new_id
from devstack.stack_config import DemoState, LocalSecrets
from tests.frontend.browser import RequestLog, launch_chromium
from tests.stack.procs import RunningStack

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("FRONTEND_SCREENSHOTS_DIR") or ROOT / "frontend-screenshots")
PASSWORD = "correct-horse-battery-staple"
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.slow
expect.set_options(timeout=TIMEOUT_MS)


# Better Auth's defaults, and a platform's own config (`make dev AUTH_CONFIG=…`): plural tables,
# snake_case columns — the same story must hold on both.
@pytest.fixture(params=[None, "plural_snake"], ids=["defaults", "plural_snake"])
def stack(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[RunningStack, DemoState]]:
    config = request.param
    extra = {"AUTH_CONFIG": str(ROOT / "auth_app" / "configs" / f"{config}.mjs")} if config else {}
    running = RunningStack.start(tmp_path / "state", extra_env=extra)
    try:
        state = running.wait_up(timeout=90.0)
        with sqlite3.connect(running.state_dir / "d1.sqlite3") as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        # The platform's own tables, and no default-named look-alikes beside them.
        assert ("organizations" in tables) == bool(config)
        assert ("organization" in tables) != bool(config)
        yield running, state
    finally:
        running.stop()
        running.kill_tree()


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _shot_between(page: Page, name: str, first: Locator, last: Locator) -> None:
    """A small picture of one part of the page, from `first`'s top to `last`'s bottom."""
    top, bottom = first.bounding_box(), last.bounding_box()
    assert top is not None
    assert bottom is not None
    scrolled = float(page.evaluate("window.scrollY"))
    y = top["y"] + scrolled - 12
    height = bottom["y"] + bottom["height"] + scrolled + 12 - y
    width = float(page.evaluate("document.documentElement.clientWidth"))
    clip: FloatRect = {"x": 0.0, "y": y, "width": width, "height": height}
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, clip=clip)


def _new_context(browser_contexts: list[BrowserContext], browser: object, log: RequestLog) -> Page:
    context = browser.new_context(viewport={"width": 360, "height": 780})  # type: ignore[attr-defined]
    context.set_default_timeout(TIMEOUT_MS)
    context.on("request", log.on_request)
    context.on("response", log.on_response)
    browser_contexts.append(context)
    page: Page = context.new_page()
    return page


def _sign_up(page: Page, app: str, *, name: str, email: str) -> None:
    page.goto(f"{app}/sign-up")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Organizations", exact=True)).to_be_visible()


def _create_org(page: Page, name: str) -> None:
    page.get_by_label("Organization name", exact=True).fill(name)
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", name=f"Payouts for {name}")).to_be_visible()


def _state_badge(page: Page) -> Locator:
    return page.get_by_test_id("payout-state")


_FOCUSED = """() => {
  let node = document.activeElement;
  while (node && node.shadowRoot && node.shadowRoot.activeElement) {
    node = node.shadowRoot.activeElement;
  }
  if (!node) return '';
  return (node.getAttribute('aria-label') || node.textContent || node.name || '').trim();
}"""


def _tab_through(page: Page, presses: int = 20) -> list[str]:
    """What the Tab key reaches, in order, from the top of the page."""
    page.locator("body").focus()
    reached = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        reached.append(str(page.evaluate(_FOCUSED)))
    return reached


def _schema(db: Path) -> AuthSchema:
    """The stack's Better Auth names: what `make dev AUTH_CONFIG=…` described, else defaults."""
    described = db.parent / "better_auth_schema.json"
    return parse(described.read_text()) if described.exists() else DEFAULT


def _org_row(db: Path, name: str) -> tuple[str, str | None]:
    sql = (
        'SELECT "organization"."id", "stripe_connect_account_id" FROM "organization" '
        'WHERE "organization"."name" = ?'
    )
    with sqlite3.connect(db) as conn:
        row = conn.execute(_schema(db).render(sql), (name,)).fetchone()
    assert row is not None
    return str(row[0]), row[1]


_WATCHED = frozenset(
    {"stripe_connect_status", "requirements_current_deadline", "payout_schedule_interval"}
)


def _wait_for_payout(db: Path, payout_id: str, status: str) -> None:
    """Until the payout's webhook has landed in the payout ledger."""
    until = time.monotonic() + 15.0
    while time.monotonic() < until:
        with sqlite3.connect(db) as conn:
            row = conn.execute(
                'SELECT "status" FROM "connect_payout" WHERE "stripe_payout_id" = ?', (payout_id,)
            ).fetchone()
        if row is not None and row[0] == status:
            return
        time.sleep(0.1)
    raise AssertionError(f"payout {payout_id} never became {status!r}")


def _wait_for_delivery(fake: str, event_type: str) -> None:
    """Until the Stripe fake has delivered an event of this type and the backend acknowledged it."""
    until = time.monotonic() + 15.0
    while time.monotonic() < until:
        deliveries = httpx.get(f"{fake}/_fake/webhooks/deliveries").json()["deliveries"]
        if any(d["type"] == event_type and d["ok"] for d in deliveries):
            return
        time.sleep(0.1)
    raise AssertionError(f"no {event_type} was delivered and acknowledged: {deliveries}")


def _wait_for_column(db: Path, org_id: str, column: str, wanted: object) -> None:
    """Until the webhook has landed in D1 (the column is one of an allow-list)."""
    assert column in _WATCHED
    until = time.monotonic() + 15.0
    while time.monotonic() < until:
        with sqlite3.connect(db) as conn:
            row = conn.execute(
                _schema(db).render(
                    f'SELECT "{column}" FROM "organization" WHERE "organization"."id" = ?'
                ),
                (org_id,),
            ).fetchone()
        if row is not None and row[0] == wanted:
            return
        time.sleep(0.1)
    raise AssertionError(f"organization {org_id}: {column} never became {wanted!r}")


def _customer_pays(backend: str, fake: str, platform_key: str, org_id: str, amount: int) -> str:
    """A sale on the platform's checkout (its server, with the platform key) paid by card."""
    created = httpx.post(
        f"{backend}/api/platform/payment-intents",
        json={"organization_id": org_id, "amount": amount, "currency": "usd"},
        headers={"X-Platform-Key": platform_key, "Idempotency-Key": f"sale-{time.time_ns()}"},
    )
    assert created.status_code == 201, created.text
    intent_id = str(created.json()["payment_intent_id"])
    paid = httpx.post(f"{fake}/_fake/payment_intents/{intent_id}/succeed")
    assert paid.status_code == 200, paid.text
    return intent_id


def _wait_for_payment(db: Path, intent_id: str, *, transferred: int) -> None:
    """Until `payment_intent.succeeded` has landed in D1 with this much of it transferred."""
    until = time.monotonic() + 15.0
    while time.monotonic() < until:
        with sqlite3.connect(db) as conn:
            row = conn.execute(
                'SELECT "amount_transferred" FROM "connect_payment" WHERE "payment_intent_id" = ?',
                (intent_id,),
            ).fetchone()
        if row is not None and row[0] == transferred:
            return
        time.sleep(0.1)
    raise AssertionError(f"payment {intent_id} never showed {transferred} transferred")


def _add_member(db: Path, *, organization_id: str, user_id: str) -> None:
    """One member row, under the stack's Better Auth names."""
    schema = _schema(db)
    columns = ", ".join(
        f'"{schema.column("member", field)}"'
        for field in ("id", "organizationId", "userId", "role", "createdAt")
    )
    with sqlite3.connect(db) as conn:
        conn.execute(
            f'INSERT INTO "{schema.table("member")}" ({columns}) VALUES (?, ?, ?, ?, ?)',
            (new_id(), organization_id, user_id, "member", iso_ms(time.time())),
        )


def _user_id(db: Path, email: str) -> str:
    with sqlite3.connect(db) as conn:
        sql = 'SELECT "user"."id" FROM "user" WHERE "user"."email" = ?'
        row = conn.execute(_schema(db).render(sql), (email,)).fetchone()
    assert row is not None
    return str(row[0])


_UNREACHABLE_BACKEND = """(port) => {
  const element = document.createElement('connect-payouts');
  element.id = 'unreachable';
  element.setAttribute('organization-id', 'org-anything');
  element.setAttribute('role', 'owner');
  element.setAttribute('backend-url', `http://127.0.0.1:${port}`);
  document.querySelector('main').append(element);
  element.getToken = async () => null;
}"""

_CALL_BACKEND = """async ([orgId, what]) => {
  const { getToken } = await import('/static/app/session.mjs');
  const { createBackendClient } = await import('/static/backend-client.mjs');
  const backend = document.querySelector('meta[name="connect-backend-url"]').content;
  const client = createBackendClient({ baseUrl: backend, getToken });
  try {
    if (what === 'status') await client.status(orgId);
    else if (what === 'payments') await client.payments(orgId);
    else await client.payout(orgId, { amount: 100, currency: 'usd' });
    return 'allowed';
  } catch (error) { return error.code; }
}"""


def test_sign_up_onboard_fund_pay_out_members_and_sign_out_in_chromium(
    stack: tuple[RunningStack, DemoState], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running, state = stack
    assert state.frontend_url is not None
    app = state.frontend_url
    backend = state.backend_url
    fake = state.stripe_fake_url
    assert fake is not None
    db = running.state_dir / "d1.sqlite3"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with capsys.disabled():
        print(f"\nscreenshots: {SHOTS}")
    log = RequestLog()
    contexts: list[BrowserContext] = []

    # `make dev` prints the app's URL and the demo user's password, and that password works in
    # the real Better Auth; its token works at the backend.
    assert state.demo_password is not None
    assert (
        f"Open {app} and sign in as {state.user_email} with the password {state.demo_password}"
        in (running.output())
    )
    signed_in = httpx.post(
        f"{app}/api/auth/sign-in/email",
        json={"email": state.user_email, "password": state.demo_password},
        headers={"Origin": app},
    )
    assert signed_in.status_code == 200, signed_in.text
    demo_token = signed_in.headers["set-auth-token"]
    demo_status = httpx.get(
        f"{backend}/api/connect/status/{state.organization_id}",
        headers={"Authorization": f"Bearer {demo_token}"},
    )
    assert demo_status.status_code == 200, demo_status.text

    with launch_chromium() as browser:
        # --- the owner: sign up, create an organization, Settings → Payouts ---------------------
        owner = _new_context(contexts, browser, log)
        _sign_up(owner, app, name="Alice Owner", email="alice@example.com")
        expect(owner.get_by_role("navigation", name="Account")).to_have_text(
            re.compile(r"^Signed in as Alice Owner \(alice@example\.com\)Payouts")
        )
        _shot(owner, "01-organizations")
        _create_org(owner, "Acme Studio")
        expect(_state_badge(owner)).to_have_text("Not set up")
        expect(owner.get_by_text("Signed in as Alice Owner (alice@example.com)")).to_be_visible()
        _shot(owner, "02-payouts-not-set-up")

        # --- Set up payouts (with the keyboard) → Stripe's hosted page → back on the return URL --
        assert "Set up payouts" in _tab_through(owner)
        owner.get_by_role("button", name="Set up payouts").focus()
        owner.keyboard.press("Enter")
        owner.wait_for_url(re.compile(re.escape(fake) + r"/_fake/onboarding/"))
        first_link = owner.url
        _shot(owner, "03-stripe-hosted-onboarding")
        owner.get_by_role("button", name="Complete onboarding").click()
        owner.wait_for_url(f"{app}/settings/payouts**")
        expect(_state_badge(owner)).to_have_text("Active")
        expect(owner.get_by_role("status").first).to_contain_text("Payouts are active")
        assert "connect=" not in owner.url  # the landing parameter is dropped once handled
        _wait_for_delivery(fake, "account.updated")  # the page may show it first (return landing)
        _shot(owner, "04-back-active")

        # --- money arrives (the fake's control API), the balance shows it -----------------------
        org_id, account_id = _org_row(db, "Acme Studio")
        assert account_id is not None
        assert account_id.startswith("acct_")
        funded = httpx.post(
            f"{fake}/_fake/balance/fund",
            json={"account": account_id, "amount": 5000, "currency": "usd"},
        )
        assert funded.status_code == 200, funded.text
        owner.reload()
        balance = owner.get_by_role("table", name="Balance by currency")
        expect(balance).to_contain_text("$50.00")

        # --- a refused payout says why; Pay out now sends one --------------------------------
        owner.get_by_label("Amount", exact=True).fill("80.00")
        owner.get_by_role("button", name="Pay out now").click()
        expect(owner.get_by_role("alert")).to_contain_text("Stripe refused the payout")
        _shot(owner, "05-payout-refused")
        owner.get_by_label("Amount", exact=True).fill("20.00")
        owner.get_by_role("button", name="Pay out now").click()
        expect(owner.get_by_test_id("last-payout")).to_contain_text("$20.00")
        expect(balance).to_contain_text("$30.00")
        _shot(owner, "06-paid-out")

        # --- Stripe asks for more by a deadline: still active; what, by when, Continue setup ---
        due_by = int(time.time()) + 14 * 86400
        asked = httpx.post(
            f"{fake}/_fake/accounts/{account_id}/request-info",
            json={"fields": ["individual.verification.document"], "deadline": due_by},
        )
        assert asked.status_code == 200, asked.text
        _wait_for_column(db, org_id, "requirements_current_deadline", due_by)
        owner.reload()
        expect(_state_badge(owner)).to_have_text("Active")
        expect(owner.get_by_role("listitem").filter(has_text="identity document")).to_have_text(
            "An identity document"
        )
        expect(owner.get_by_test_id("requirements-deadline")).to_contain_text("Provide these by")
        expect(owner.get_by_role("button", name="Continue setup")).to_be_visible()
        _shot(owner, "07-more-needed-by-a-deadline")

        # --- Stripe failing: the page says so and offers to try again ------------------------
        assert httpx.post(f"{fake}/_fake/faults", json={"mode": "error_500"}).status_code == 200
        owner.reload()
        expect(owner.get_by_role("alert")).to_contain_text(
            "Stripe is slow to answer or unavailable"
        )
        _shot(owner, "08-stripe-unavailable")
        assert httpx.post(f"{fake}/_fake/faults", json={"mode": None}).status_code == 200
        owner.get_by_role("button", name="Try again").click()
        expect(balance).to_contain_text("$30.00")
        expect(owner.get_by_role("alert")).to_have_count(0)

        # --- the backend unreachable: a message and a way on ---------------------------------
        owner.evaluate(_UNREACHABLE_BACKEND, free_ports(1)[0])
        unreachable = owner.locator("#unreachable")
        expect(unreachable.get_by_role("alert")).to_contain_text("cannot be reached")
        expect(unreachable.get_by_role("button", name="Try again")).to_be_visible()
        owner.evaluate("document.getElementById('unreachable').remove()")

        # --- Open Stripe dashboard: a login link to the Express dashboard ------------------------
        owner.get_by_role("button", name="Open Stripe dashboard").click()
        owner.wait_for_url(re.compile(re.escape(fake) + "/"))
        expect(owner.get_by_role("heading", name="Express Dashboard")).to_be_visible()

        # --- a used link lands on the refresh URL, which makes a new link and follows it --------
        owner.goto(first_link)
        owner.wait_for_url(re.compile(re.escape(fake) + r"/_fake/onboarding/"))
        assert owner.url != first_link
        _shot(owner, "09-refresh-made-a-new-link")
        owner.goto(f"{app}/settings/payouts")
        expect(_state_badge(owner)).to_have_text("Active")

        # --- a customer pays the organization: Earnings lists it; the owner transfers it --------
        platform_key = LocalSecrets.load_or_create(running.state_dir / "secrets.json")
        sale = _customer_pays(backend, fake, platform_key.platform_api_key, org_id, 10_000)
        _wait_for_payment(db, sale, transferred=0)
        owner.reload()
        earnings = owner.get_by_role("list", name="Payments not yet transferred")
        expect(earnings).to_contain_text("$100.00")
        expect(
            owner.get_by_text("The platform keeps its fee of 10% from each payment")
        ).to_be_visible()
        expect(owner.get_by_role("switch", name="Automatic transfers")).not_to_be_checked()
        claim = owner.get_by_role("button", name="Transfer to my account")
        expect(claim).to_have_count(1)
        _shot(owner, "09a-earnings")
        _shot_between(owner, "earnings", owner.get_by_role("heading", name="Earnings"), earnings)
        claim.click()
        expect(owner.get_by_role("status").first).to_contain_text(
            "Transferred $90.00 to your Stripe balance ($100.00 less the platform fee of $10.00)"
        )
        expect(balance).to_contain_text("$120.00")  # $30.00 + the net $90.00
        expect(earnings).to_have_count(0)
        expect(owner.get_by_text("No payments are waiting to be transferred.")).to_be_visible()
        _shot(owner, "09b-transferred")

        # --- automatic transfers on: the next payment is transferred without a click ------------
        owner.get_by_role("switch", name="Automatic transfers").check()
        expect(owner.get_by_test_id("auto-transfer-help")).to_contain_text(
            "Automatic transfers are on"
        )
        second = _customer_pays(backend, fake, platform_key.platform_api_key, org_id, 2_000)
        _wait_for_payment(db, second, transferred=2_000)
        owner.reload()
        expect(balance).to_contain_text("$138.00")  # + the net $18.00 of $20.00
        expect(owner.get_by_role("switch", name="Automatic transfers")).to_be_checked()
        expect(owner.get_by_role("button", name="Transfer to my account")).to_have_count(0)
        _shot(owner, "09c-automatic")

        # --- automatic off again; a payment too small to transfer is refused in words -----------
        owner.get_by_role("switch", name="Automatic transfers").uncheck()
        expect(owner.get_by_test_id("auto-transfer-help")).to_contain_text(
            "Automatic transfers are off"
        )
        crumb = _customer_pays(backend, fake, platform_key.platform_api_key, org_id, 30)
        _wait_for_payment(db, crumb, transferred=0)
        owner.reload()
        expect(earnings).to_contain_text("$0.30")
        owner.get_by_role("button", name="Transfer to my account").click()
        expect(owner.get_by_role("alert")).to_contain_text(
            "This payment is too small to transfer on its own (the smallest is $0.50)"
        )
        expect(earnings).to_contain_text("$0.30")  # still there, nothing moved
        expect(balance).to_contain_text("$138.00")
        _shot(owner, "09d-too-small")

        # --- a member sees status and balance, and no controls ----------------------------------
        member = _new_context(contexts, browser, log)
        _sign_up(member, app, name="Bob Member", email="bob@example.com")
        _create_org(member, "Bob's Bakery")
        # Added as Better Auth's addMember does it (one `member` row); then he switches to it.
        bob = _user_id(db, "bob@example.com")
        _add_member(db, organization_id=org_id, user_id=bob)
        member.reload()
        member.get_by_label("Active organization").select_option(label="Acme Studio")
        expect(member.get_by_role("heading", name="Payouts for Acme Studio")).to_be_visible()
        expect(_state_badge(member)).to_have_text("Active")
        expect(member.get_by_role("table", name="Balance by currency")).to_contain_text("$138.00")
        for control in (
            "Set up payouts",
            "Continue setup",
            "Pay out now",
            "Open Stripe dashboard",
            "Transfer to my account",
            "Save schedule",
        ):
            expect(member.get_by_role("button", name=control)).to_have_count(0)
        expect(member.get_by_test_id("payout-schedule")).to_contain_text("Manual")
        expect(member.get_by_role("list", name="Transfers")).to_contain_text("$100.00 payment")
        expect(member.get_by_role("switch", name="Automatic transfers")).to_have_count(0)
        expect(member.get_by_role("heading", name="Earnings")).to_have_count(0)
        expect(
            member.get_by_text(
                "Only owners and admins can change payout settings and see or transfer"
            )
        ).to_be_visible()
        assert member.evaluate(_CALL_BACKEND, [org_id, "payout"]) == "insufficient_role"
        assert member.evaluate(_CALL_BACKEND, [org_id, "payments"]) == "insufficient_role"
        _shot(member, "10-member-view")

        # --- the owner hands payouts to Stripe's schedule; a scheduled payout fails ---------------
        sched = owner.context.new_page()
        sched.goto(f"{app}/settings/payouts")
        expect(_state_badge(sched)).to_have_text("Active")
        sched.get_by_label("Pay out", exact=True).select_option("weekly")
        sched.get_by_label("Day of the week").select_option("friday")
        sched.get_by_role("button", name="Save schedule").click()
        expect(sched.get_by_test_id("payout-schedule")).to_contain_text("every Friday")
        expect(sched.get_by_role("button", name="Pay out now")).to_have_count(0)
        _wait_for_column(db, org_id, "payout_schedule_interval", "weekly")
        run = httpx.post(
            f"{fake}/_fake/payouts/run-scheduler",
            json={"account": account_id, "force": True, "pay": False},
        )
        assert run.status_code == 200, run.text
        scheduled = run.json()["payouts"][0]["id"]
        failed = httpx.post(
            f"{fake}/_fake/payouts/{scheduled}/fail", json={"failure_code": "account_closed"}
        )
        assert failed.status_code == 200, failed.text
        _wait_for_payout(db, scheduled, "failed")
        sched.reload()
        expect(sched.get_by_test_id("failed-payout")).to_contain_text("Failed")
        expect(sched.get_by_role("note")).to_contain_text("Update the bank account")
        _shot(sched, "09e-scheduled-payout-failed")
        _shot_between(
            sched,
            "payout-history",
            sched.get_by_role("heading", name="Payout schedule"),
            sched.get_by_role("list", name="Payouts"),
        )
        sched.get_by_label("Pay out", exact=True).select_option("manual")
        sched.get_by_role("button", name="Save schedule").click()
        expect(sched.get_by_test_id("payout-schedule")).to_contain_text("Manual")
        sched.close()

        # --- a user of another organization cannot see this one's payouts -----------------------
        stranger = _new_context(contexts, browser, log)
        _sign_up(stranger, app, name="Carol Other", email="carol@example.com")
        _create_org(stranger, "Carol's Shop")
        expect(_state_badge(stranger)).to_have_text("Not set up")
        expect(stranger.get_by_role("option", name="Acme Studio")).to_have_count(0)
        assert stranger.evaluate(_CALL_BACKEND, [org_id, "status"]) == "forbidden"

        # --- Stripe restricts the account: the state and what is overdue, in words -------------
        restricted = httpx.post(f"{fake}/_fake/accounts/{account_id}/restrict")
        assert restricted.status_code == 200, restricted.text
        _wait_for_column(db, org_id, "stripe_connect_status", "disabled")  # the webhook landed
        member.reload()
        expect(_state_badge(member)).to_have_text("Restricted")
        expect(member.get_by_role("listitem").filter(has_text="identity document")).to_have_text(
            "An identity document — overdue"
        )
        expect(member.get_by_role("button", name="Continue setup")).to_have_count(0)
        _shot(member, "11-member-restricted")

        # --- signing out (here in another tab) makes the page say so -----------------------------
        other_tab = owner.context.new_page()
        other_tab.goto(f"{app}/settings/payouts")
        expect(_state_badge(other_tab)).to_have_text("Restricted")
        expect(other_tab.get_by_role("button", name="Continue setup")).to_be_visible()
        _shot(other_tab, "12-owner-restricted")
        other_tab.get_by_role("button", name="Sign out").click()
        expect(other_tab.get_by_role("status").first).to_have_text("You are signed out.")
        owner.get_by_role("button", name="Pay out now").click()
        expect(owner.get_by_role("alert")).to_contain_text("You are signed out")
        expect(owner.get_by_role("link", name="Sign in again")).to_be_visible()
        _shot(owner, "13-signed-out")

        # --- no token anywhere it does not belong -----------------------------------------------
        assert log.tokens, "Better Auth handed out no token: the recording saw nothing"
        for page in (owner, member, stranger):
            stored = page.evaluate("JSON.stringify(Object.entries(localStorage))")
            assert not any(token in stored for token in log.tokens), stored
        assert log.token_leaks(backend_origin=backend) == []
        authorized = [
            r.headers["authorization"]
            for r in log.requests
            if r.url.startswith(backend) and "authorization" in r.headers
        ]
        assert authorized, "no request carried the token to the backend"
        # Both kinds Better Auth issues were used: the signed session token (`set-auth-token`,
        # in the tab that signed in) and the JWT (`set-auth-jwt`, in the tab opened later).
        assert any(a.startswith("Bearer eyJ") for a in authorized)
        assert any(not a.startswith("Bearer eyJ") for a in authorized)
        for context in contexts:
            context.close()
