"""A Stripe operation as a span and a `connect.stripe.call.duration` measurement: outcome `ok`, or
the code of the error it became (`stripe_rate_limited` is a 429: the alert in
docs/operations.md). The SDK's own HTTP attempts nest under it (aiohttp-client instrumentation)."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TypeVar

from backend.errors import ApiError
from backend.telemetry import Telemetry, elapsed

T = TypeVar("T")


async def stripe_call(tel: Telemetry, operation: str, call: Awaitable[T]) -> T:
    started = time.perf_counter()
    outcome = "error"
    ended: dict[str, str] = {}
    with tel.client_span(f"stripe {operation}", {"connect.stripe.operation": operation}) as span:
        try:
            result = await call
            outcome = "ok"
            response = getattr(result, "last_response", None)
            request_id = getattr(response, "request_id", None)
            if isinstance(request_id, str):
                ended["stripe.request_id"] = request_id
            return result
        except ApiError as exc:
            outcome = exc.code
            raise
        finally:
            ended["connect.outcome"] = outcome
            span.set_attributes(ended)
            tel.stripe_duration.record(
                elapsed(started),
                {"connect.stripe.operation": operation, "connect.outcome": outcome},
            )
