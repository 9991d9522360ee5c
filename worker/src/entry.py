"""Cloudflare Workers entry point: adapts the runtime to the core and nothing else."""

from __future__ import annotations

import logging
import sys
from typing import Any

from connect_worker.app import answer_misconfigured, handle
from connect_worker.config import ConfigError
from connect_worker.http import Response as CoreResponse
from connect_worker.request_log import JsonFormatter
from connect_worker.retention import prune_expired
from runtime_adapter import deps_from_env, to_core_request
from workers import Response, WorkerEntrypoint

log = logging.getLogger("connect_worker")


def _structured_logs() -> None:
    """Every `connect_worker` line as one JSON object on stdout: Python's stdout is the runtime's
    `console.log`, which Workers Logs ingests, indexing each JSON field (`[observability]` in
    wrangler.toml). One line per request comes from `connect_worker.request_log`."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


_structured_logs()


def _to_workers(response: CoreResponse) -> Any:
    headers = {"content-type": "application/json", **response.headers}
    return Response(response.body().decode(), status=response.status, headers=headers)


class Default(WorkerEntrypoint):  # type: ignore[misc]
    async def fetch(self, request: Any) -> Any:
        core_request = await to_core_request(request)
        try:
            deps = deps_from_env(self.env)
        except ConfigError as exc:
            log.error("worker misconfigured: %s", exc)
            return _to_workers(await answer_misconfigured(core_request))
        return _to_workers(await handle(core_request, deps=deps))

    async def scheduled(self, *_event: Any) -> None:
        """Daily cron: apply the retention rule of every ledger table."""
        deleted = await prune_expired(deps_from_env(self.env))
        log.info(
            "pruned %d webhook events, %d transfers, %d payouts",
            deleted["webhook_events"],
            deleted["transfers"],
            deleted["payouts"],
        )
