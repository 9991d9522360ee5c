"""The Stripe call money coming back needs beyond `ConnectStripe`'s: a transfer reversal (a
reinstatement is an ordinary transfer). A base of `ConnectStripe`, kept in its own module so each
stays small; it uses the gateway's one configured client and its error mapping."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

import stripe
from pydantic import BaseModel
from stripe.params import TransferReversalCreateParams

from backend.core.records import WorkerModel

M = TypeVar("M", bound=BaseModel)


class StripeReversal(WorkerModel):
    id: str
    amount: int
    transfer: str | None = None


class ReversalCalls:
    _client: stripe.StripeClient

    if TYPE_CHECKING:

        async def _read(
            self, operation: str, call: Awaitable[stripe.StripeObject], model: type[M]
        ) -> M: ...

    async def reverse_transfer(
        self, transfer_id: str, *, amount: int, key: str, metadata: dict[str, str]
    ) -> StripeReversal:
        """Take `amount` of a transfer back from the connected account to the platform. Stripe
        refuses more than is left unreversed, and (for a transfer not tied to a charge) more
        than the account's balance holds: `StripeRejected`, a refusal the same key repeats."""
        params: TransferReversalCreateParams = {"amount": amount, "metadata": metadata}
        reversal = self._client.v1.transfers.reversals.create_async(
            transfer_id, params, {"idempotency_key": key}
        )
        return await self._read("reverse transfer", reversal, StripeReversal)
