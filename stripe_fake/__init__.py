"""A small, faithful Stripe (Connect subset) for the local stack and the integration tests."""

from __future__ import annotations

from stripe_fake.app import build_app
from stripe_fake.config import DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET, FakeConfig

__all__ = ["DEFAULT_API_KEY", "DEFAULT_WEBHOOK_SECRET", "FakeConfig", "build_app"]
