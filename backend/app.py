"""The Starlette application: routes as data, one handler table, middleware, and a lifespan that
opens the Worker and Stripe clients once per process."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from backend.core.errors import EXCEPTION_HANDLERS
from backend.core.settings import Settings, SettingsError, load_settings
from backend.core.telemetry import OFF, Off, Telemetry, install
from backend.edge.middleware import BodySizeLimit
from backend.edge.openapi import build_openapi
from backend.edge.request_trace import RequestTrace
from backend.routes import ENDPOINTS, WEBHOOK_PATH
from backend.services import open_services

logger = logging.getLogger("backend")

USER_BODY_LIMIT = 64 * 1024
WEBHOOK_BODY_LIMIT = 512 * 1024


async def _openapi(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


# Starlette tries the routes in order, one regex match each, and no two of these paths match the
# same request path (tests/backend/test_route_order.py), so the order changes only the cost: the
# routes served most often go first (liveness, the status page, Stripe's webhooks).
HOT_PATHS = ("/healthz", "/api/connect/status/{org_id}", WEBHOOK_PATH)


def _hot_first(routes: list[Route]) -> list[Route]:
    rank = {path: index for index, path in enumerate(HOT_PATHS)}
    return sorted(routes, key=lambda route: rank.get(route.path, len(rank)))  # stable


ROUTES = _hot_first(
    [
        Route("/openapi.json", _openapi, methods=["GET"], include_in_schema=False),
        *(endpoint.route() for endpoint in ENDPOINTS),
    ]
)


def create_app(
    settings: Settings | None = None, *, telemetry: Telemetry | Off | None = None
) -> Starlette:
    """The app for `settings` (read from the environment when omitted); `telemetry` as the
    `OTEL_*` variables configure it unless given (tests hand one with in-memory exporters)."""
    config = settings if settings is not None else load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        active = telemetry if telemetry is not None else Telemetry.from_env()
        install(active)
        try:
            async with open_services(config) as app.state.services:
                app.state.openapi = build_openapi(ENDPOINTS)
                yield
        finally:
            install(OFF)
            active.shutdown()

    middleware = [
        # Outermost: the request id exists before anything else can log or answer an error.
        Middleware(RequestTrace),
        Middleware(
            CORSMiddleware,
            allow_origins=list(config.frontend_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "X-Org-ID",
                "X-User-ID",
                "traceparent",
            ],
            expose_headers=["Idempotent-Replayed", "Retry-After"],
            allow_credentials=False,
            max_age=600,
        ),
        Middleware(
            BodySizeLimit,
            default_limit=USER_BODY_LIMIT,
            limits={WEBHOOK_PATH: WEBHOOK_BODY_LIMIT},
        ),
    ]
    return Starlette(
        routes=ROUTES,
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )


class _AppFromEnvironment:
    """`uvicorn backend.app:app`: importing this module must not need the environment, so the app
    is built on the first ASGI event (lifespan startup), and a bad configuration fails startup with
    the readable message instead of a traceback."""

    def __init__(self) -> None:
        self._app: Starlette | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            try:
                self._app = create_app()
            except SettingsError as exc:
                if scope["type"] == "lifespan":
                    await receive()
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                raise
        await self._app(scope, receive, send)


app: Any = _AppFromEnvironment()
