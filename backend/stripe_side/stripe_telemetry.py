"""A Stripe operation as a span and a `connect.stripe.call.duration` measurement: outcome `ok`, or
the code of the error it became (`stripe_rate_limited` is a 429: the alert in
docs/operations.md). Each HTTP attempt the SDK makes within it (it retries 429s, 5xx and dropped
connections) is an `http.client.request.duration` measurement and an event on its span
(`ObservedHttpClient`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

import stripe

from backend.core import telemetry
from backend.core.errors import ApiError
from backend.core.telemetry import Telemetry, elapsed

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


class ObservedHttpClient(stripe.AIOHTTPClient):
    """The Stripe SDK's aiohttp transport (the SDK's documented extension point: a subclass of
    its HTTP client), each attempt measured by method and status — or `error.type` (the
    exception's class) when no answer came — so a 429 the SDK retried is seen too; in a recorded
    trace, an event on the operation's span. In place of the aiohttp-client instrumentation,
    which made a second client span per attempt under ours, recorded `http.client.duration`
    through the SDK and sent `traceparent` to Stripe: +380 to +780 µs of CPU per Stripe call
    against +250 µs for our span and this (docs/operations.md, "Spans")."""

    async def request_stream_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[Any, int, Mapping[str, str]]:
        tel = telemetry.current()
        if not isinstance(tel, Telemetry):
            return await super().request_stream_async(method, url, headers, post_data)
        started = time.perf_counter()
        verb = method.upper()
        attributes: dict[str, str | int]
        try:
            answer = await super().request_stream_async(method, url, headers, post_data)
            attributes = {"http.request.method": verb, "http.response.status_code": answer[1]}
            return answer
        except BaseException as exc:  # no answer: the SDK's APIConnectionError, a cancellation
            attributes = {"http.request.method": verb, "error.type": type(exc).__name__}
            raise
        finally:
            tel.stripe_attempt_duration.record(elapsed(started), attributes)
            span = tel.current_span()
            if span.is_recording():
                span.add_event("stripe attempt", attributes)
