"""Liveness says the process serves; readiness says it can do work (the Worker answers)."""

from __future__ import annotations

from starlette.requests import Request

from backend.errors import ServiceUnavailable
from backend.models import HealthReply
from backend.services import services


async def healthz(request: Request) -> HealthReply:
    return HealthReply()


async def readyz(request: Request) -> HealthReply:
    if await services(request).worker.health():
        return HealthReply(worker=True)
    raise ServiceUnavailable(code="not_ready", message="The Worker is unreachable.")
