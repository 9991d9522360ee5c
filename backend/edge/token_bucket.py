"""Token buckets by key, pure and clock-injected: the arithmetic behind
`backend/edge/rate_limits.py`.

A bucket holds up to `burst` tokens and refills `per_second`; a request takes one. The state per
key is two floats, refilled lazily when the key is next seen, so nothing runs between requests.
Why not pyrate-limiter (used by the tests): its in-memory buckets keep a log entry per request
(memory grows with the limit, per key), answer "may I" but not "in how many seconds" (our
`Retry-After`), and it would be one more runtime dependency for twenty lines of arithmetic.

At most `max_keys` buckets are kept; the one seen least recently goes first. A forgotten key
starts again full, so forgetting only ever lets a client through sooner, never holds one back.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: int

    @classmethod
    def per_minute(cls, count: float, *, burst: int) -> Rate:
        return cls(count / 60.0, burst)

    @property
    def enabled(self) -> bool:
        return self.per_second > 0


class Buckets:
    def __init__(
        self,
        rate: Rate,
        *,
        max_keys: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self._max = max_keys
        self._clock = clock
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._state)

    def _tokens(self, key: str, now: float) -> float:
        tokens, updated = self._state.get(key, (float(self.rate.burst), now))
        return min(float(self.rate.burst), tokens + (now - updated) * self.rate.per_second)

    def wait(self, key: str = "") -> float:
        """Seconds until `key` may take a token (0: it may now). Takes nothing."""
        if not self.rate.enabled:
            return 0.0
        missing = 1.0 - self._tokens(key, self._clock())
        return max(0.0, missing / self.rate.per_second)

    def take(self, key: str = "") -> None:
        """Takes a token (call after `wait` said 0)."""
        if not self.rate.enabled:
            return
        now = self._clock()
        self._state[key] = (self._tokens(key, now) - 1.0, now)
        self._state.move_to_end(key)
        while len(self._state) > self._max:
            self._state.popitem(last=False)
