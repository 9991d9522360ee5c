"""`/v1/accounts`, `/v1/account_links`, login links and `/v1/events` handlers."""

from __future__ import annotations

import copy
from urllib.parse import urlsplit

from stripe_fake import accounts
from stripe_fake.core import Ctx, in_range, paginate, require_platform
from stripe_fake.errors import invalid_request, resource_missing
from stripe_fake.events import previous_attributes
from stripe_fake.ids import new_id, now
from stripe_fake.store import JSON

ACCOUNT_LINK_TTL_SECONDS = 300


def _own_account(ctx: Ctx) -> JSON:
    """`GET /v1/accounts/{id}` with `Stripe-Account` may only name that same account."""
    account_id = ctx.path["account"]
    if ctx.stripe_account is not None and ctx.stripe_account != account_id:
        raise resource_missing("account", account_id)
    return ctx.connected_account(account_id, param="account")


def create_account(ctx: Ctx) -> JSON:
    require_platform(ctx, "create accounts")
    account = accounts.new_account(ctx.params)
    ctx.state.accounts[account["id"]] = account
    return copy.deepcopy(account)


def retrieve_account(ctx: Ctx) -> JSON:
    return copy.deepcopy(_own_account(ctx))


def update_account(ctx: Ctx) -> JSON:
    account = _own_account(ctx)
    before = copy.deepcopy(account)
    accounts.update_account(account, ctx.params)
    previous = previous_attributes(before, account)
    if previous:
        ctx.fake.events.emit("account.updated", account, account=account["id"], previous=previous)
    return copy.deepcopy(account)


def list_accounts(ctx: Ctx) -> JSON:
    require_platform(ctx, "list accounts")
    visible = [a for a in ctx.state.accounts.values() if not ctx.state.is_deauthorized(a["id"])]
    return paginate(visible, ctx.params, url="/v1/accounts")


def _check_url(value: object, param: str) -> str:
    text = str(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid_request("Not a valid URL", param=param, code="url_invalid")
    return text


def _collection_fields(params: JSON) -> str:
    """`collection_options[fields]` (or the deprecated `collect`): what the hosted onboarding asks
    for; Stripe's default is `currently_due`."""
    options = params.get("collection_options")
    param = "collection_options[fields]" if options is not None else "collect"
    fields = options.get("fields") if isinstance(options, dict) else params.get("collect")
    fields = "currently_due" if fields is None else fields
    if fields not in ("currently_due", "eventually_due"):
        raise invalid_request(
            f"Invalid {param}: must be one of currently_due or eventually_due", param=param
        )
    return str(fields)


def create_account_link(ctx: Ctx) -> JSON:
    require_platform(ctx, "create account links")
    account = ctx.connected_account(str(ctx.params["account"]), param="account")
    link_type = ctx.params["type"]
    if link_type not in ("account_onboarding", "account_update"):
        raise invalid_request(
            "Invalid type: must be one of account_onboarding or account_update", param="type"
        )
    if link_type == "account_update" and account["type"] != "custom":
        raise invalid_request(
            "You cannot create `account_update` type Account Links for accounts that do not "
            "have `requirement_collection` set to `application`.",
            param="type",
        )
    if "return_url" not in ctx.params:
        raise invalid_request(
            "Missing required param: return_url.", param="return_url", code="parameter_missing"
        )
    return_url = _check_url(ctx.params["return_url"], "return_url")
    refresh_url = _check_url(ctx.params.get("refresh_url", return_url), "refresh_url")
    collect = _collection_fields(ctx.params)
    created = now()
    token = new_id("", 24)
    ctx.state.account_links[token] = {
        "account": account["id"],
        "return_url": return_url,
        "refresh_url": refresh_url,
        "expires_at": created + ACCOUNT_LINK_TTL_SECONDS,
        "used": False,
        "collect": collect,
    }
    return {
        "object": "account_link",
        "created": created,
        "expires_at": created + ACCOUNT_LINK_TTL_SECONDS,
        "url": f"{ctx.base_url}/_fake/onboarding/{account['id']}?link={token}",
    }


def create_login_link(ctx: Ctx) -> JSON:
    require_platform(ctx, "create login links")
    account = ctx.connected_account(ctx.path["account"], param="account")
    if account["controller"]["stripe_dashboard"]["type"] != "express":
        raise invalid_request(
            "Login links can only be created for accounts that have access to the Express "
            "Dashboard.",
            param="account",
        )
    if not account["details_submitted"]:
        raise invalid_request(
            "Cannot create a login link for an account that has not completed onboarding.",
            param="account",
        )
    return {
        "object": "login_link",
        "created": now(),
        "url": f"{ctx.base_url}/_fake/express/{account['id']}?session={new_id('', 12)}",
    }


def _visible_events(ctx: Ctx) -> list[JSON]:
    return [e for e in ctx.state.events.values() if e.get("account") == ctx.stripe_account]


def retrieve_event(ctx: Ctx) -> JSON:
    event_id = ctx.path["event"]
    event = ctx.state.events.get(event_id)
    if event is None or event.get("account") != ctx.stripe_account:
        raise resource_missing("event", event_id)
    return copy.deepcopy(event)


def list_events(ctx: Ctx) -> JSON:
    """Stripe's filters: `type` (`prefix.*` too) or `types[]` (not both), `created`, and
    `delivery_success` (false = some endpoint has not answered 2xx yet)."""
    events = _visible_events(ctx)
    wanted = ctx.params.get("type")
    types = ctx.params.get("types")
    if wanted is not None and types is not None:
        raise invalid_request(
            "You may only specify one of these parameters: type, types.", param="types"
        )
    if wanted is not None:
        pattern = str(wanted)
        if pattern.endswith("*"):
            events = [e for e in events if e["type"].startswith(pattern[:-1])]
        else:
            events = [e for e in events if e["type"] == pattern]
    if types is not None:
        if not isinstance(types, list) or len(types) > 20:
            raise invalid_request("types must be an array of up to 20 event types.", param="types")
        events = [e for e in events if e["type"] in types]
    if "delivery_success" in ctx.params:
        delivered = accounts.parse_bool(ctx.params["delivery_success"], "delivery_success")
        events = [e for e in events if (e["pending_webhooks"] == 0) == delivered]
    events = in_range(events, ctx.params, "created")
    return paginate(events, ctx.params, url="/v1/events")
