"""Liveness says the process serves; readiness says it can do work (the Worker answers)."""

from __future__ import annotations

from starlette.requests import Request

from backend.core.errors import ServiceUnavailable
from backend.core.models import HealthReply
from backend.services import services


async def healthz(request: Request) -> HealthReply:
    return HealthReply()


async def readyz(request: Request) -> HealthReply:
    """Each check is a Worker call, so an anonymous caller gets its address's share of them;
    liveness is free and never limited (a limited probe would restart a healthy replica)."""
    svc = services(request)
    svc.limits.from_address(request)
    if await svc.worker.health():
        return HealthReply(worker=True)
    raise ServiceUnavailable(code="not_ready", message="The Worker is unreachable.")
