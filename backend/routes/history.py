"""An organization's money history for any of its members: transfers and payouts, newest first.

The cursor is opaque and sealed (`backend/edge/cursors.py`): it names a position in this
organization's history of this kind only, and reveals nothing of the ledger behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request

from backend.core.models import PayoutEntry, PayoutHistoryReply, TransferEntry, TransferHistoryReply
from backend.edge.query import CURSOR, LIMIT, query_values
from backend.money.payout_failures import advice
from backend.services import Services, services

DEFAULT_PAGE = 20


def _known(model: type[BaseModel], row: Mapping[str, Any]) -> dict[str, Any]:
    """The row's fields the reply declares (the Worker may add more; the row id stays inside)."""
    return {k: v for k, v in row.items() if k in model.model_fields}


async def _page(request: Request, kind: str) -> tuple[Services, str, int, int | None]:
    """Any member's page of a history: the services, the organization, the limit and the row id
    to read before (the cursor's)."""
    svc = services(request)
    access = await svc.auth.organization_access(request, request.path_params["org_id"])
    org_id = access.organization.id
    query = query_values(request)
    limit = int(query.get(LIMIT.name, DEFAULT_PAGE))
    cursor = query.get(CURSOR.name)
    before = svc.cursors.decode(kind, org_id, None if cursor is None else str(cursor))
    return svc, org_id, limit, before


async def transfer_history(request: Request) -> TransferHistoryReply:
    svc, org_id, limit, before = await _page(request, "t")
    page = await svc.worker.transfer_history(org_id, limit=limit, before_id=before)
    rows = [TransferEntry.model_validate(_known(TransferEntry, row)) for row in page.transfers]
    cursor = svc.cursors.encode("t", org_id, page.next_before_id)
    return TransferHistoryReply(organization_id=org_id, transfers=rows, next_cursor=cursor)


async def payout_history(request: Request) -> PayoutHistoryReply:
    svc, org_id, limit, before = await _page(request, "p")
    page = await svc.worker.payout_history(org_id, limit=limit, before_id=before)
    rows = [
        PayoutEntry.model_validate(
            {
                **_known(PayoutEntry, row),
                "failure_advice": advice(str(row["status"]), row.get("failure_code")),
            }
        )
        for row in page.payouts
    ]
    cursor = svc.cursors.encode("p", org_id, page.next_before_id)
    return PayoutHistoryReply(organization_id=org_id, payouts=rows, next_cursor=cursor)
