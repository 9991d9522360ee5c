"""Who may spend the platform's Stripe requests, and how fast: per user, per organization, and a
platform-wide share for all user traffic together — so one user cannot starve money movements.

Stripe allows the whole platform about 100 requests per second (live mode). What members start
(onboarding, a status refresh, a login link, a balance, a transfer claim, a payout, a schedule)
spends from three buckets at once, all or nothing: the user's, the organization's and the
replica's `STRIPE_USER_BUDGET_PER_SECOND`. Webhook processing, reconciliation and the platform's
own server calls (`X-Platform-Key`, `X-Operator-Key`) never take from them and are never held by
them: the user budget is sized to leave the rest of Stripe's limit to those.

Unauthenticated routes are limited per client address (an IPv6 /64 is one address): readiness
(each one is a Worker call), and webhook deliveries *whose signature failed*. A delivery is
always verified first and a valid one is never limited, so Stripe's deliveries — which come from
a few addresses, possibly behind the same proxy as an attacker's — are never refused by a limit.

The buckets live in each replica's memory (`backend/edge/token_bucket.py`): a shared budget would
cost a Worker/D1 round trip per request. With N replicas behind a load balancer, each limit is per
replica — docs/rate-limits.md sizes them.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from backend.core import telemetry
from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.edge.token_bucket import Buckets, Rate


class RateLimited(ApiError):
    status, code, message = 429, "rate_limited", "Too many requests; retry later."


def _refusal(limit: str, code: str, message: str, wait: float) -> RateLimited:
    tel = telemetry.current()
    if isinstance(tel, telemetry.Telemetry):
        tel.rate_limit_refusals.add(1, {"connect.limit": limit, "error.code": code})
    seconds = max(1, math.ceil(wait))
    return RateLimited(
        code=code,
        message=f"{message} Retry after {seconds} s.",
        headers={"Retry-After": str(seconds)},
    )


def client_address(request: Request) -> str:
    """The client's address as the server saw it (behind a proxy, set FORWARDED_ALLOW_IPS so
    uvicorn takes it from X-Forwarded-For); an IPv6 address counts by its /64, which one client
    usually holds whole."""
    host = request.client.host if request.client is not None else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(frozen=True, slots=True)
class RateLimits:
    user: Buckets
    organization: Buckets
    stripe: Buckets
    address: Buckets

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Callable[[], float] = time.monotonic
    ) -> RateLimits:
        keys = settings.rate_limit_max_keys

        def buckets(rate: Rate, max_keys: int = keys) -> Buckets:
            return Buckets(rate, max_keys=max_keys, clock=clock)

        return cls(
            user=buckets(
                Rate.per_minute(
                    settings.rate_limit_user_per_minute, burst=settings.rate_limit_user_burst
                )
            ),
            organization=buckets(
                Rate.per_minute(
                    settings.rate_limit_organization_per_minute,
                    burst=settings.rate_limit_organization_burst,
                )
            ),
            stripe=buckets(
                Rate(settings.stripe_user_budget_per_second, settings.stripe_user_budget_burst),
                max_keys=1,
            ),
            address=buckets(
                Rate.per_minute(
                    settings.rate_limit_address_per_minute,
                    burst=settings.rate_limit_address_burst,
                )
            ),
        )

    def spend_stripe(self, *, user_id: str, organization_id: str) -> None:
        """One user-initiated Stripe call, or 429 with the wait of the tightest bucket."""
        checks = (
            ("user", self.user, user_id, "rate_limited", "Too many Stripe actions by this user."),
            (
                "organization",
                self.organization,
                organization_id,
                "rate_limited",
                "Too many Stripe actions for this organization.",
            ),
            (
                "platform",
                self.stripe,
                "",
                "platform_busy",
                "The platform is busy with Stripe right now.",
            ),
        )
        waits = [(b.wait(key), limit, code, message) for limit, b, key, code, message in checks]
        wait, limit, code, message = max(waits, key=lambda found: found[0])
        if wait > 0:
            raise _refusal(limit, code, message, wait)
        for _, buckets, key, _, _ in checks:
            buckets.take(key)

    def from_address(self, request: Request) -> None:
        """One unauthenticated request from the client's address, or 429."""
        address = client_address(request)
        wait = self.address.wait(address)
        if wait > 0:
            raise _refusal("address", "rate_limited", "Too many requests from this address.", wait)
        self.address.take(address)
