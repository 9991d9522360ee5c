"""How a `/v1/` handler finds the objects it answers with: one declaration per resource (the state
table it lives in, and whose each object is), so every retrieve and every list treats another
owner's object as Stripe does — as if it did not exist: 404 `resource_missing`, never listed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from stripe_fake.core import Ctx, in_range, paginate
from stripe_fake.errors import resource_missing
from stripe_fake.store import JSON, PLATFORM, State


@dataclass(frozen=True)
class Resource:
    kind: str
    """The name Stripe's 404 gives it: "No such transfer: 'tr_…'"."""
    url: str
    """Its list's `url`."""
    table: Callable[[State], dict[str, JSON]]
    owner: Callable[[Ctx, JSON], str | None] | None = None
    """Whose an object is: a connected account's id or `PLATFORM`. None: the platform's objects
    only, which a `Stripe-Account` call never sees (its list is empty, unfiltered)."""

    def _owner_of(self, ctx: Ctx, found: JSON) -> str | None:
        return PLATFORM if self.owner is None else self.owner(ctx, found)

    def find(self, ctx: Ctx, object_id: str, *, param: str = "id") -> JSON:
        """The caller's object itself (handlers that change it change the state)."""
        found = self.table(ctx.state).get(object_id)
        if found is None or self._owner_of(ctx, found) != ctx.owner:
            raise resource_missing(self.kind, object_id, param=param)
        return found

    def retrieve(self, ctx: Ctx, path_param: str) -> JSON:
        """`GET {url}/{id}`: a copy of the object the path names."""
        return copy.deepcopy(self.find(ctx, ctx.path[path_param]))

    def listed(
        self, ctx: Ctx, *, equal: tuple[str, ...] = (), ranges: tuple[str, ...] = ()
    ) -> JSON:
        """`GET {url}`: the caller's objects whose `equal` parameters match exactly and whose
        `ranges` timestamps are in range, in Stripe's list envelope."""
        if self.owner is None and ctx.stripe_account is not None:
            return paginate([], ctx.params, url=self.url)
        items = [o for o in self.table(ctx.state).values() if self._owner_of(ctx, o) == ctx.owner]
        for key in equal:
            if key in ctx.params:
                items = [o for o in items if o[key] == ctx.params[key]]
        for key in ranges:
            items = in_range(items, ctx.params, key)
        return paginate(items, ctx.params, url=self.url)
