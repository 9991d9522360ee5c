"""The soak's money-back audit holds each payment to the issue's worked numbers."""

from __future__ import annotations

import pytest

from bench.soak_returns_audit import expected_kept


def _transfer(gross: int, net: int) -> dict[str, int]:
    return {"gross_amount": gross, "net_amount": net}


@pytest.mark.parametrize(
    ("amount", "refunded", "lost", "transfers", "kept"),
    [
        # 100.00 paid, 50.00 transferred as 45.00, 80.00 refunded: 90 % of the 20.00 left.
        (10_000, 8_000, 0, [_transfer(5_000, 4_500)], 1_800),
        # A full refund after a full transfer: nothing kept.
        (10_000, 10_000, 0, [_transfer(10_000, 9_000)], 0),
        # A refund of the part never transferred takes nothing from the transfer.
        (10_000, 5_000, 0, [_transfer(5_000, 4_500)], 4_500),
        # A lost dispute counts as refunded; a won one (lost = 0) not at all.
        (10_000, 0, 10_000, [_transfer(10_000, 9_000)], 0),
        (10_000, 0, 0, [_transfer(10_000, 9_000)], 9_000),
        # Rounding down: the platform is never short.
        (333, 1, 0, [_transfer(333, 299)], 298),
        # Never transferred: nothing kept whatever happened.
        (10_000, 3_000, 0, [], 0),
    ],
)
def test_the_organization_keeps_its_net_share_of_what_is_left(
    amount: int, refunded: int, lost: int, transfers: list[dict[str, int]], kept: int
) -> None:
    assert expected_kept(amount, refunded, lost, list(transfers)) == kept
