"""`python -m backend.reconciliation.reconcile`: one reconciliation run
(`backend/reconciliation/reconciler.py`) with the backend's own configuration, printing what it
found and fixed. Production runs it from a Railway cron service on the backend's image; `make
reconcile` runs it against `make dev`'s stack.

Exit status: 0 when everything asked about was settled or is knowingly still inside Stripe's
window; 1 when an operator must look (a row that does not match Stripe, a call that failed);
2 for a bad configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Mapping

from backend.core.log_format import configure_logging
from backend.core.models import ReconcileReply
from backend.core.settings import Settings, SettingsError, load_settings
from backend.core.telemetry import OFF, Telemetry, install
from backend.reconciliation.reconciler import Reconciler
from backend.services import open_services
from backend.webhooks.webhook_processing import process_event


def describe(reply: ReconcileReply) -> list[str]:
    """What a person reading the cron's log needs: each row touched, the events, the problems."""
    lines = [f"ledger rows asked about: {len(reply.rows)}"]
    for row in reply.rows:
        found = f" -> {row.stripe_id}" if row.stripe_id else ""
        why = f" ({row.detail})" if row.detail else ""
        lines.append(
            f"  {row.kind} {row.organization_id}/{row.idempotency_key}: {row.outcome}{found}{why}"
        )
    e = reply.events
    lines.append(
        f"missed events in {reply.scopes} scope(s): listed {e.listed}, applied {e.applied}, "
        f"already applied {e.already_applied}, rejected {e.rejected}, "
        f"not handled {e.not_handled}, deferred {e.deferred}; "
        f"deauthorized accounts recorded {e.inaccessible_scopes}"
    )
    lines += [f"error: {error}" for error in reply.errors]
    return lines


def needs_operator(reply: ReconcileReply) -> bool:
    return bool(reply.errors) or any(r.outcome in ("mismatch", "error") for r in reply.rows)


async def run(settings: Settings) -> ReconcileReply:
    """One run; its spans and metrics exported (and flushed) when `OTEL_*` ask for them."""
    tel = Telemetry.from_env()
    install(tel)
    try:
        async with open_services(settings) as svc:
            return await Reconciler(svc, process_event).run()
    finally:
        install(OFF)
        tel.shutdown()


def main(
    argv: list[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    emit: Callable[[str], None] = print,
) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.reconciliation.reconcile")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(dict(environ) if environ is not None else None)
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    reply = asyncio.run(run(settings))
    if args.json:
        emit(reply.model_dump_json(exclude_none=True))
    else:
        for line in describe(reply):
            emit(line)
    return 1 if needs_operator(reply) else 0


if __name__ == "__main__":
    sys.exit(main())
