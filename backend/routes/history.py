"""An organization's money history for any of its members: transfers and payouts, newest first.

The cursor is opaque to clients (base64url of the ledger's row id with a kind prefix): a client
cannot page through another kind of ledger with it, and nothing promises what it holds.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request

from backend.errors import InvalidRequest
from backend.models import PayoutEntry, PayoutHistoryReply, TransferEntry, TransferHistoryReply
from backend.payout_failures import advice
from backend.services import Services, services

DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_ROW_ID = 2**53 - 1


def encode_cursor(kind: str, row_id: int | None) -> str | None:
    if row_id is None:
        return None
    return base64.urlsafe_b64encode(f"{kind}:{row_id}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    if cursor is None:
        return None
    bad = InvalidRequest(code="invalid_cursor", message="cursor is not one this API gave out.")
    if not 1 <= len(cursor) <= 64:
        raise bad
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    prefix, _, number = text.partition(":")
    if prefix != kind or not number.isdigit() or not 1 <= int(number) <= MAX_ROW_ID:
        raise bad
    return int(number)


def _known(model: type[BaseModel], row: Mapping[str, Any]) -> dict[str, Any]:
    """The row's fields the reply declares (the Worker may add more; the row id stays inside)."""
    return {k: v for k, v in row.items() if k in model.model_fields}


async def _page(request: Request, kind: str) -> tuple[Services, str, int, int | None]:
    """Any member's page of a history: the services, the organization, the limit and the row id
    to read before (the cursor's)."""
    svc = services(request)
    access = await svc.auth.organization_access(request, request.path_params["org_id"])
    raw_limit = request.query_params.get("limit")
    limit = DEFAULT_PAGE
    if raw_limit is not None:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
            raise InvalidRequest(
                code="invalid_limit", message=f"limit must be an integer from 1 to {MAX_PAGE}."
            )
        limit = int(raw_limit)
    before = decode_cursor(kind, request.query_params.get("cursor"))
    return svc, access.organization.id, limit, before


async def transfer_history(request: Request) -> TransferHistoryReply:
    svc, org_id, limit, before = await _page(request, "t")
    page = await svc.worker.transfer_history(org_id, limit=limit, before_id=before)
    rows = [TransferEntry.model_validate(_known(TransferEntry, row)) for row in page.transfers]
    cursor = encode_cursor("t", page.next_before_id)
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
    cursor = encode_cursor("p", page.next_before_id)
    return PayoutHistoryReply(organization_id=org_id, payouts=rows, next_cursor=cursor)
