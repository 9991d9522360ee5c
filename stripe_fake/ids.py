"""Stripe-looking identifiers and timestamps."""

from __future__ import annotations

import secrets
import string
import time

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def account_id() -> str:
    return new_id("acct_1", 15)


def now() -> int:
    return int(time.time())
