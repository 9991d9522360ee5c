"""Signed webhook delivery: in order by default, retried with exponential backoff on failure.

Switches mimic what real Stripe does to endpoints: deliver a batch out of order, or twice.
Delivery runs on its own tasks so API responses never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

from stripe_fake.store import JSON


def sign(payload: str, secret: str, *, timestamp: int | None = None) -> str:
    """Stripe's `Stripe-Signature` header: `t=<ts>,v1=<hex HMAC-SHA256(secret, "t.payload")>`."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


@dataclass(kw_only=True)
class WebhookSettings:
    url: str | None
    secret: str
    connect_secret: str | None = None
    out_of_order: bool = False
    duplicate: bool = False
    retry_base_seconds: float = 1.0
    max_attempts: int = 8
    paused: bool = False
    """Events are still created (pending) but not delivered: an endpoint gone for good."""

    def secret_for(self, event: JSON) -> str:
        if "account" in event and self.connect_secret:
            return self.connect_secret
        return self.secret

    def public(self) -> JSON:
        """The settings without the secrets (the control API never echoes them)."""
        data = asdict(self)
        data.pop("secret")
        data.pop("connect_secret")
        return data


@dataclass(kw_only=True)
class Delivery:
    event_id: str
    type: str
    account: str | None
    attempt: int
    url: str
    status: int | None
    error: str | None
    delivered_at: float
    ok: bool = field(default=False)


class Dispatcher:
    """Owns the queue, the HTTP session and the retry tasks; started and stopped by the app."""

    def __init__(
        self, settings: WebhookSettings, *, batch_window: float, timeout_seconds: float
    ) -> None:
        self.settings = settings
        self.deliveries: list[Delivery] = []
        self._batch_window = batch_window
        self._timeout = timeout_seconds
        self._queue: asyncio.Queue[JSON] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self.on_delivered: Callable[[str], None] = lambda event_id: None
        """Told each event id a 2xx answered (the fake then sets its `pending_webhooks` to 0)."""

    def endpoint_count(self) -> int:
        return 1 if self.settings.url else 0

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        self._runner = asyncio.create_task(self._run())

    async def _cancel_tasks(self) -> None:
        tasks = [*self._tasks, *([self._runner] if self._runner else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._runner = None

    async def stop(self) -> None:
        await self._cancel_tasks()
        if self._session is not None:
            await self._session.close()

    async def reset(self, settings: WebhookSettings) -> None:
        """Forget queued events, pending retries and recorded deliveries; use fresh settings."""
        await self._cancel_tasks()
        self.settings = settings
        self.deliveries.clear()
        self._queue = asyncio.Queue()
        self._runner = asyncio.create_task(self._run())

    def enqueue(self, event: JSON) -> None:
        if self._queue is None or not self.settings.url or self.settings.paused:
            return
        self._queue.put_nowait(event)

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            if self._batch_window > 0:
                await asyncio.sleep(self._batch_window)
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            if self.settings.out_of_order and len(batch) > 1:
                batch.reverse()
            for event in batch:
                copies = 2 if self.settings.duplicate else 1
                for _ in range(copies):
                    await self._attempt(event, 1)

    async def _attempt(self, event: JSON, attempt: int) -> None:
        url = self.settings.url
        if not url or self._session is None or self.settings.paused:
            return
        payload = json.dumps(event, indent=2)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign(payload, self.settings.secret_for(event)),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        status: int | None = None
        error: str | None = None
        try:
            async with self._session.post(url, data=payload.encode(), headers=headers) as resp:
                status = resp.status
                await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = type(exc).__name__
        ok = status is not None and 200 <= status < 300
        if ok:
            self.on_delivered(event["id"])
        self.deliveries.append(
            Delivery(
                event_id=event["id"],
                type=event["type"],
                account=event.get("account"),
                attempt=attempt,
                url=url,
                status=status,
                error=error,
                delivered_at=time.time(),
                ok=ok,
            )
        )
        if not ok and attempt < self.settings.max_attempts:
            delay = self.settings.retry_base_seconds * (2 ** (attempt - 1))
            delay *= 1 + random.uniform(0, 0.1)
            task = asyncio.create_task(self._retry_later(event, attempt + 1, delay))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _retry_later(self, event: JSON, attempt: int, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._attempt(event, attempt)

    def resend(self, event: JSON) -> None:
        self.enqueue(event)

    def deliveries_json(self) -> list[dict[str, Any]]:
        return [asdict(d) for d in self.deliveries]
