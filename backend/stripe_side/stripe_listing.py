"""Reading back what happened at Stripe, a page at a time: the transfers, payouts and undelivered
events reconciliation compares with the ledger. A base of `ConnectStripe`, as `stripe_returns` is,
kept in its own module so each stays small; it uses the gateway's one configured client and its
error mapping (`_guard`)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

import stripe
from stripe.params import EventListParams, PayoutListParams, TransferListParams

# One page of a Stripe list, each object as plain JSON, and whether more follow.
Page = tuple[list[dict[str, Any]], bool]
PAGE_SIZE = 100
T = TypeVar("T")
ListParams = TypeVar("ListParams", TransferListParams, PayoutListParams, EventListParams)


def _paged(params: ListParams, starting_after: str | None) -> ListParams:
    """A list call's page size and, after the first page, where the previous one ended."""
    params["limit"] = PAGE_SIZE
    if starting_after:
        params["starting_after"] = starting_after
    return params


class ListingCalls:
    _client: stripe.StripeClient

    if TYPE_CHECKING:

        async def _guard(self, operation: str, call: Awaitable[T]) -> T: ...

    async def list_transfers(
        self, *, destination: str, created_gte: int, starting_after: str | None = None
    ) -> Page:
        """The platform's transfers to `destination` made since `created_gte`, newest first."""
        params: TransferListParams = {"destination": destination, "created": {"gte": created_gte}}
        transfers = self._client.v1.transfers.list_async(_paged(params, starting_after))
        return await self._page("list transfers", transfers)

    async def list_payouts(
        self, account_id: str, *, created_gte: int, starting_after: str | None = None
    ) -> Page:
        """The connected account's payouts made since `created_gte`, newest first."""
        params: PayoutListParams = {"created": {"gte": created_gte}}
        payouts = self._client.v1.payouts.list_async(
            _paged(params, starting_after), {"stripe_account": account_id}
        )
        return await self._page("list payouts", payouts)

    async def list_undelivered_events(
        self, account_id: str | None, *, created_gte: int, starting_after: str | None = None
    ) -> Page:
        """Events whose webhook did not reach us (`delivery_success=false`) since `created_gte`,
        newest first: the platform's own (`account_id` None) or one connected account's."""
        params: EventListParams = {"delivery_success": False, "created": {"gte": created_gte}}
        options: stripe.RequestOptions = {}
        if account_id is not None:
            options["stripe_account"] = account_id
        events = self._client.v1.events.list_async(_paged(params, starting_after), options)
        return await self._page("list events", events)

    async def _page(self, operation: str, call: Awaitable[Any]) -> Page:
        page = await self._guard(operation, call)
        return [item.to_dict(recursive=True) for item in page.data], bool(page.has_more)
