"""The shapes of money coming back (docs/internal-api.md `Return`, `DebtLine`): the Worker's
replies, read leniently, and what owners and the operator are shown."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from backend.core.models import Money, OrgReply, Reply
from backend.core.records import WorkerModel
from backend.worker_side.worker_models import LedgerTransfer, Payment

ReturnKind = Literal["reversal", "reinstatement"]
ReturnCause = Literal["refund", "dispute"]
ReturnStatus = Literal["pending", "done", "owed", "failed"]
DebtLineKind = Literal["reversed", "recovered", "forgiven"]


class ReturnFields(BaseModel):
    """A part of a payment's money moved back: a reversal of one of its transfers (to the
    platform) or a reinstatement (a new transfer to the organization); `owed` is a debt."""

    id: int
    source_transaction: str
    stripe_transfer_id: str
    kind: ReturnKind
    cause: ReturnCause
    amount: int
    currency: str
    status: ReturnStatus
    stripe_object_id: str | None = None
    amount_reversed: int = 0
    amount_recovered: int = 0
    amount_forgiven: int = 0
    amount_owed: int = 0
    failure_message: str | None = None
    created_at: str
    updated_at: str


class ReturnRow(ReturnFields, WorkerModel):
    organization_id: str
    cause_id: str
    idempotency_key: str
    attempts: int = 1
    # The transfer the current attempt of a retried debt reverses, when not its own.
    reversing_transfer: str | None = None
    reversing_amount: int | None = None


class DebtLineFields(BaseModel):
    id: int
    return_id: int
    kind: DebtLineKind
    amount: int
    reference: str
    created_at: str


class DebtLine(DebtLineFields, WorkerModel):
    pass


class ReturnsState(WorkerModel):
    """`returns/{charge_id}`: what a payment's returns are planned from."""

    payment: Payment
    transfers: list[LedgerTransfer]
    returns: list[ReturnRow]


class ReturnsReserved(WorkerModel):
    created: bool
    returns: list[ReturnRow]
    payment: Payment


class Debts(WorkerModel):
    debts: list[ReturnRow]
    owed: list[Money] = Field(default_factory=list)
    lines: list[DebtLine] = Field(default_factory=list)


# --- what people see ---------------------------------------------------------------------------


class ReturnEntry(ReturnFields, Reply):
    """A reversal, debt or reinstatement in the organization's history."""

    sent_whole = True


class ReturnHistoryReply(OrgReply):
    returns: list[ReturnEntry]
    next_cursor: str | None


class DebtLineEntry(DebtLineFields, Reply):
    sent_whole = True


class DebtsReply(OrgReply):
    """What the organization owes the platform (taken first from its next transfers)."""

    owed: list[Money]
    debts: list[ReturnEntry]
    lines: list[DebtLineEntry]


class OperatorDebt(ReturnFields, Reply):
    sent_whole = True
    organization_id: str


class OperatorDebtsReply(Reply):
    debts: list[OperatorDebt]
