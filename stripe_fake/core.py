"""The fake's running parts in one object, and what every API handler receives."""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from stripe_fake.accounts import parse_int
from stripe_fake.config import FakeConfig
from stripe_fake.errors import StripeFakeError, account_invalid, invalid_request, resource_missing
from stripe_fake.events import Events
from stripe_fake.store import JSON, PLATFORM, State, Store
from stripe_fake.webhooks import Dispatcher, WebhookSettings


@dataclass(kw_only=True)
class Faults:
    """Injected failures for the next `remaining` API requests (None = until cleared)."""

    mode: str | None = None
    remaining: int | None = None
    delay_seconds: float = 0.0
    path: str | None = None  # only requests whose path starts with this (all when None)

    def take(self, path: str = "") -> str | None:
        if self.mode is None:
            return None
        if self.path is not None and not path.startswith(self.path):
            return None
        mode = self.mode
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.mode = None
                self.remaining = None
        return mode


class Fake:
    """State, events, webhook delivery, faults; one lock so requests run one at a time."""

    def __init__(self, config: FakeConfig) -> None:
        self.config = config
        self.store = Store(config.state_file)
        self.lock = asyncio.Lock()
        self.faults = Faults()
        self.dispatcher = Dispatcher(
            self.initial_webhook_settings(),
            batch_window=config.batch_window_seconds,
            timeout_seconds=config.delivery_timeout_seconds,
        )
        self.events = Events(lambda: self.store.state, endpoints=self.dispatcher.endpoint_count)
        self.events.deliver = self.dispatcher.enqueue
        self.dispatcher.on_delivered = self._delivered

    @property
    def state(self) -> State:
        return self.store.state

    def initial_webhook_settings(self) -> WebhookSettings:
        return WebhookSettings(
            url=self.config.webhook_url,
            secret=self.config.webhook_secret,
            connect_secret=self.config.connect_webhook_secret,
            retry_base_seconds=self.config.retry_base_seconds,
            max_attempts=self.config.max_attempts,
        )

    def _delivered(self, event_id: str) -> None:
        """Stripe's `pending_webhooks` counts endpoints not yet answered 2xx; one endpoint here."""
        event = self.state.events.get(event_id)
        if event is not None and event["pending_webhooks"]:
            event["pending_webhooks"] = 0
            self.store.save()

    async def reset(self) -> None:
        """Back to a fresh start: no state, no faults, webhook settings from the config."""
        self.store.reset()
        self.faults = Faults()
        await self.dispatcher.reset(self.initial_webhook_settings())


@dataclass(kw_only=True)
class Ctx:
    fake: Fake
    api_key: str
    stripe_account: str | None
    params: JSON
    path: dict[str, str] = field(default_factory=dict)
    base_url: str = ""

    @property
    def state(self) -> State:
        return self.fake.state

    @property
    def owner(self) -> str:
        return self.stripe_account or PLATFORM

    def connected_account(self, account_id: str, *, param: str = "account") -> JSON:
        """A connected account the platform may act on: unknown → 404, deauthorized → 403."""
        account = self.state.accounts.get(account_id)
        if account is None:
            raise resource_missing("account", account_id, param=param)
        if self.state.is_deauthorized(account_id):
            raise account_invalid(self.api_key, account_id)
        return account


_RANGE_OPS: dict[str, Callable[[int, int], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def in_range(objects: list[JSON], params: JSON, key: str) -> list[JSON]:
    """Stripe's timestamp filter: `key=<ts>` (exact) or `key[gt|gte|lt|lte]=<ts>` (combined)."""
    given = params.get(key)
    if given is None:
        return objects
    if not isinstance(given, dict):
        exact = parse_int(given, key)
        return [o for o in objects if o.get(key) == exact]
    result = objects
    for op, raw in given.items():
        test = _RANGE_OPS.get(op)
        if test is None:
            raise invalid_request(
                f"Received unknown parameter: {key}[{op}]",
                param=f"{key}[{op}]",
                code="parameter_unknown",
            )
        bound = parse_int(raw, f"{key}[{op}]")
        result = [o for o in result if o.get(key) is not None and test(o[key], bound)]
    return result


def paginate(objects: Iterable[JSON], params: JSON, *, url: str) -> JSON:
    """Stripe's list envelope, newest first, with `limit`, `starting_after`, `ending_before`."""
    # Insertion order reversed first: equal `created` seconds still list newest first.
    items = sorted(reversed(list(objects)), key=lambda o: o.get("created", 0), reverse=True)
    limit = parse_int(params.get("limit", 10), "limit", minimum=1)
    if limit > 100:
        raise invalid_request(
            "This value must be less than or equal to 100.",
            param="limit",
            code="parameter_invalid_integer",
        )
    ids = [o["id"] for o in items]
    after = params.get("starting_after")
    before = params.get("ending_before")
    if after is not None:
        if after not in ids:
            raise resource_missing("object", str(after), param="starting_after")
        items = items[ids.index(after) + 1 :]
        page = items[:limit]
        has_more = len(items) > limit
    elif before is not None:
        if before not in ids:
            raise resource_missing("object", str(before), param="ending_before")
        items = items[: ids.index(before)]
        page = items[-limit:]
        has_more = len(items) > limit
    else:
        page = items[:limit]
        has_more = len(items) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": url}


def require_platform(ctx: Ctx, what: str) -> None:
    """Calls only the platform may make (e.g. creating accounts) refuse a `Stripe-Account`."""
    if ctx.stripe_account is not None:
        raise StripeFakeError(
            400,
            type="invalid_request_error",
            message=f"You cannot {what} on behalf of a connected account (Stripe-Account header).",
        )
