"""Money that came back, as people see it: an organization's reversals, debts and reinstatements
(any member: the history route's rules), what it owes the platform (any member: owners see what
their next transfers will pay first), and every organization's debts (the operator)."""

from __future__ import annotations

from starlette.requests import Request

from backend.core.models import Money
from backend.routes.history import _page
from backend.routes.operator import _operator
from backend.services import services
from backend.worker_side.return_models import (
    DebtLineEntry,
    DebtsReply,
    OperatorDebt,
    OperatorDebtsReply,
    ReturnEntry,
    ReturnFields,
    ReturnHistoryReply,
    ReturnRow,
)


def _entry(row: ReturnRow) -> ReturnEntry:
    return ReturnEntry.model_validate(row.model_dump(include=set(ReturnFields.model_fields)))


async def return_history(request: Request) -> ReturnHistoryReply:
    svc, org_id, limit, before = await _page(request, "r")
    page = await svc.worker.return_history(org_id, limit=limit, before_id=before)
    cursor = svc.cursors.encode("r", org_id, page.next_before_id)
    return ReturnHistoryReply(
        organization_id=org_id, returns=[_entry(r) for r in page.returns], next_cursor=cursor
    )


async def debts(request: Request) -> DebtsReply:
    svc = services(request)
    access = await svc.auth.organization_access(request, request.path_params["org_id"])
    org_id = access.organization.id
    found = await svc.worker.organization_debts(org_id)
    return DebtsReply(
        organization_id=org_id,
        owed=[Money(amount=m.amount, currency=m.currency) for m in found.owed],
        debts=[_entry(r) for r in found.debts],
        lines=[DebtLineEntry.model_validate(line.model_dump()) for line in found.lines],
    )


async def operator_debts(request: Request) -> OperatorDebtsReply:
    svc = _operator(request)
    rows = await svc.worker.all_debts()
    return OperatorDebtsReply(
        debts=[
            OperatorDebt.model_validate(
                r.model_dump(include={*ReturnFields.model_fields, "organization_id"})
            )
            for r in rows
        ]
    )
