"""What a request handler needs, built once per process in the app's lifespan (and once per run by
`python -m backend.reconciliation.reconcile`), both through `open_services`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel
from starlette.requests import Request

from backend.core.settings import Settings
from backend.edge.auth import Authenticator, UserContextCache
from backend.edge.cursors import CursorCodec, derive_cursor_secret
from backend.edge.json_body import check_json_structure, require_json_content_type
from backend.edge.rate_limits import RateLimits
from backend.stripe_side.stripe_gateway import ConnectStripe
from backend.worker_side.worker_client import WorkerClient

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    worker: WorkerClient
    stripe: ConnectStripe
    auth: Authenticator
    # Built from `settings`: the replica's rate-limit buckets and its history-cursor seal.
    limits: RateLimits = field(init=False)
    cursors: CursorCodec = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "limits", RateLimits.from_settings(self.settings))
        secret = derive_cursor_secret(self.settings.history_cursor_root)
        object.__setattr__(self, "cursors", CursorCodec(secret))


@contextlib.asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """The Worker and Stripe clients opened once and closed on exit, so the app's lifespan and the
    reconcile command talk to the Worker and Stripe with the same configuration."""
    worker = WorkerClient(
        settings.worker_url,
        settings.internal_api_key.get_secret_value(),
        timeout_seconds=settings.worker_timeout_seconds,
        pool_size=settings.worker_max_connections,
    )
    await worker.open()
    stripe_gateway = ConnectStripe(
        settings.stripe_secret_key.get_secret_value(),
        api_base=settings.stripe_api_base,
        timeout_seconds=settings.stripe_timeout_seconds,
        max_network_retries=settings.stripe_max_network_retries,
        collect=settings.connect_collection_fields,
    )
    cache = UserContextCache(
        ttl_seconds=settings.user_context_cache_ttl_seconds,
        max_entries=settings.user_context_cache_max_entries,
    )
    try:
        yield Services(
            settings=settings,
            worker=worker,
            stripe=stripe_gateway,
            auth=Authenticator(worker, cache),
        )
    finally:
        await worker.close()
        await stripe_gateway.close()


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def read_model(request: Request, model: type[M], *, optional: bool = False) -> M:
    """The body as `model`; malformed JSON, wrong types and unknown fields become 400, a body
    that is not `application/json` 415, a repeated key or absurd nesting 400 (`json_body`).

    `optional`: an empty body means `{}` (a route whose every field may come from headers); only
    then may the Content-Type be absent.
    """
    body = await request.body()
    if not body.strip() and optional:
        return model.model_validate_json(b"{}")
    require_json_content_type(request)
    check_json_structure(body)
    return model.model_validate_json(body or b"null")
