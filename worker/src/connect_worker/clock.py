"""Time in the formats D1 holds: Better Auth's ISO-8601 text and Unix seconds/milliseconds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

Clock = Callable[[], float]


def iso_ms(timestamp: float) -> str:
    """`2026-11-27T15:47:04.557Z`, the exact shape Better Auth writes (sortable as text)."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(value: object) -> float | None:
    """Epoch seconds from Better Auth's stored date (ISO text, or epoch ms as a number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) / 1000.0
    if not isinstance(value, str):
        return None
    return _parse_iso(value)


@lru_cache(maxsize=4096)  # a session's expiry is read on every request that carries its token
def _parse_iso(value: str) -> float | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
