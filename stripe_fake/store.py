"""All the fake's state in one JSON-serialisable object, optionally persisted to a file."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

PLATFORM = "platform"
"""Owner key of the platform's own balance and objects (connected accounts use their acct_ id)."""

JSON = dict[str, Any]


@dataclass
class State:
    accounts: dict[str, JSON] = field(default_factory=dict)
    deauthorized: list[str] = field(default_factory=list)
    balances: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    transfers: dict[str, JSON] = field(default_factory=dict)
    reversals: dict[str, JSON] = field(default_factory=dict)
    payouts: dict[str, JSON] = field(default_factory=dict)
    payout_owner: dict[str, str] = field(default_factory=dict)
    payment_intents: dict[str, JSON] = field(default_factory=dict)
    payment_intent_owner: dict[str, str] = field(default_factory=dict)
    charges: dict[str, JSON] = field(default_factory=dict)
    # Which balance bucket ("available"/"pending") a charge's funds went to: not a Stripe field.
    charge_bucket: dict[str, str] = field(default_factory=dict)
    refunds: dict[str, JSON] = field(default_factory=dict)
    # Charges whose refunds start `pending` (test card 4000000000007726): not a Stripe field.
    pending_refund_charges: list[str] = field(default_factory=list)
    disputes: dict[str, JSON] = field(default_factory=dict)
    account_links: dict[str, JSON] = field(default_factory=dict)
    events: dict[str, JSON] = field(default_factory=dict)
    idempotency: dict[str, JSON] = field(default_factory=dict)

    def is_deauthorized(self, account_id: str) -> bool:
        return account_id in self.deauthorized

    def balance_of(self, owner: str, currency: str) -> dict[str, int]:
        per_currency = self.balances.setdefault(owner, {})
        return per_currency.setdefault(currency, {"available": 0, "pending": 0})


class Store:
    """Holds the state; saves it atomically (temp file + rename) after each mutation when asked."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.state = self._load()

    def _load(self) -> State:
        if self.path is None or not self.path.exists():
            return State()
        raw = json.loads(self.path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(State)}
        return State(**{k: v for k, v in raw.items() if k in known})

    def reset(self) -> None:
        self.state = State()
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".stripe-fake-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(asdict(self.state), out)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
