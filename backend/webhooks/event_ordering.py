"""Can an event's own snapshot be ordered against what D1 holds? (docs/reliability.md, "Ordering
account events".)

An event's `created` is a whole second S; the snapshot inside it was taken somewhere in that
second. D1's watermark (`stripe_synced_at`) is either a Stripe read's start, with milliseconds, or
an applied event's S + 0.999. So a watermark in an earlier second is older than the snapshot, one
in a later second is newer, and one inside S cannot be ordered against it by time at all.
"""

from __future__ import annotations

import math
from enum import Enum


class Order(Enum):
    NEWER = "newer"  # the snapshot is newer than D1: apply it
    OLDER = "older"  # D1 holds a later second's state: the event has nothing to add
    TIE = "tie"  # same second: equal state needs nothing, another state needs a Stripe read
    UNKNOWN = "unknown"  # no watermark: D1's state has no time to compare with; read Stripe


def order(event_created: int, watermark: float | None) -> Order:
    if watermark is None or not math.isfinite(watermark):
        return Order.UNKNOWN
    if watermark < event_created:
        return Order.NEWER
    if watermark >= event_created + 1:
        return Order.OLDER
    return Order.TIE
