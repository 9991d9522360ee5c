"""Configuration of the fake, read once from the environment (or built directly by tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_API_KEY = "sk_test_local_fake_key"
DEFAULT_WEBHOOK_SECRET = "whsec_local_fake_secret"  # noqa: S105 (a public test value)
# Stripe's dispute fee in the US: 15.00 USD, withdrawn with the disputed amount and kept by Stripe
# even when the dispute is won. Applied as this many minor units in every currency.
DISPUTE_FEE = 1500


@dataclass(frozen=True, kw_only=True)
class FakeConfig:
    """Everything the fake needs to start; defaults make `python -m stripe_fake` work alone."""

    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    host: str = "127.0.0.1"
    port: int = 12111
    webhook_url: str | None = None
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET
    connect_webhook_secret: str | None = None
    state_file: Path | None = None
    retry_base_seconds: float = 1.0
    max_attempts: int = 8
    dispute_fee: int = DISPUTE_FEE
    batch_window_seconds: float = 0.02
    delivery_timeout_seconds: float = 10.0
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> FakeConfig:
        env = dict(os.environ) if env is None else env
        keys = tuple(k.strip() for k in env.get("STRIPE_FAKE_API_KEYS", "").split(",") if k.strip())
        state = env.get("STRIPE_FAKE_STATE_FILE")
        return cls(
            api_keys=keys or (DEFAULT_API_KEY,),
            host=env.get("STRIPE_FAKE_HOST", "127.0.0.1"),
            port=int(env.get("STRIPE_FAKE_PORT", "12111")),
            webhook_url=env.get("STRIPE_FAKE_WEBHOOK_URL") or None,
            webhook_secret=env.get("STRIPE_FAKE_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET),
            connect_webhook_secret=env.get("STRIPE_FAKE_CONNECT_WEBHOOK_SECRET") or None,
            state_file=Path(state) if state else None,
            retry_base_seconds=float(env.get("STRIPE_FAKE_RETRY_BASE_SECONDS", "1.0")),
            max_attempts=int(env.get("STRIPE_FAKE_MAX_ATTEMPTS", "8")),
            dispute_fee=int(env.get("STRIPE_FAKE_DISPUTE_FEE", str(DISPUTE_FEE))),
        )
