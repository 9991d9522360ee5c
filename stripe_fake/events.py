"""Every state change becomes a Stripe `event` object, stored and handed to webhook delivery."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from stripe._api_version import _ApiVersion

from stripe_fake.ids import new_id, now
from stripe_fake.store import JSON, State

API_VERSION = _ApiVersion.CURRENT


def previous_attributes(before: JSON, after: JSON) -> JSON:
    """Stripe's `data.previous_attributes`: old values of what changed, nested like the object."""
    changed: JSON = {}
    for key, old in before.items():
        new = after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changed[key] = previous_attributes(old, new)
        else:
            changed[key] = copy.deepcopy(old)
    for key in after.keys() - before.keys():
        changed[key] = None
    return changed


class Events:
    """Creates events; `deliver` is the webhook dispatcher's enqueue (set once the app starts)."""

    def __init__(self, state: Callable[[], State], *, endpoints: Callable[[], int]) -> None:
        self._state = state
        self._endpoints = endpoints
        self.deliver: Callable[[JSON], None] = lambda event: None
        self.request: JSON = {"id": None, "idempotency_key": None}

    def emit(
        self,
        type: str,
        obj: JSON,
        *,
        account: str | None = None,
        previous: JSON | None = None,
    ) -> JSON:
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous:
            data["previous_attributes"] = previous
        event: JSON = {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": self._endpoints(),
            "request": dict(self.request),
            "type": type,
        }
        if account is not None:
            event["account"] = account
        self._state().events[event["id"]] = event
        self.deliver(event)
        return event
