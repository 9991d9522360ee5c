"""Liveness says the process serves; readiness says it can do work (the Worker answers)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend.errors import error_response
from backend.services import services


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def readyz(request: Request) -> Response:
    if await services(request).worker.health():
        return JSONResponse({"ok": True, "worker": True})
    return error_response(503, "not_ready", "The Worker is unreachable.")
