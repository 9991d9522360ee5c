"""The target of a payment's returns (`backend/money_back.py`): the worked numbers of DESIGN
decision 6, rounding in the platform's favour, and nothing asked back twice or beyond a transfer."""

from __future__ import annotations

from typing import Literal

import pytest

from backend.money_back import Forgive, Part, Returned, Transferred, kept_net, plan


def tr(tid: str, gross: int, net: int, reversed_at_stripe: int = 0) -> Transferred:
    return Transferred(tid, gross, net, reversed_at_stripe)


def rev(
    rid: int,
    tid: str,
    amount: int,
    status: Literal["pending", "done", "owed", "failed"] = "done",
    **kw: int,
) -> Returned:
    reversed_ = kw.get("amount_reversed", amount if status == "done" else 0)
    owed = kw.get("amount_owed", amount - reversed_ if status == "owed" else 0)
    return Returned(
        rid,
        tid,
        "reversal",
        status,
        amount,
        reversed_,
        kw.get("amount_forgiven", 0),
        owed,
    )


@pytest.mark.parametrize(
    ("amount", "left", "transfers", "kept"),
    [
        (10_000, 10_000, [tr("a", 10_000, 9_000)], 9_000),  # nothing refunded
        (10_000, 0, [tr("a", 10_000, 9_000)], 0),  # full refund
        (10_000, 2_000, [tr("a", 5_000, 4_500)], 1_800),  # the worked example
        (10_000, 6_000, [tr("a", 5_000, 4_500)], 4_500),  # refund within the untransferred part
        (10_000, 5_000, [tr("a", 5_000, 4_500)], 4_500),  # exactly the untransferred part
        (999, 1, [tr("a", 999, 899)], 0),  # 0.8999… rounds down: the platform is not short
        (999, 998, [tr("a", 999, 899)], 898),  # 898.1 → 898
        (100, 50, [], 0),  # nothing transferred: nothing kept from transfers
        (10_000, 3_000, [tr("a", 4_000, 3_600), tr("b", 6_000, 5_400)], 2_700),
        (1_000, 100, [tr("a", 1_000, 1_000)], 100),  # fee 0
        (5_000, 1_234, [tr("a", 5_000, 4_470)], 1_103),  # fixed fee part: net share, floored
    ],
)
def test_the_organization_keeps_its_net_share_of_what_is_left_rounded_down(
    amount: int, left: int, transfers: list[Transferred], kept: int
) -> None:
    assert kept_net(amount, left, transfers) == kept


def test_the_worked_example_reverses_27_00() -> None:
    result = plan(
        amount=10_000, refunded=8_000, disputed=0, transfers=[tr("tr_a", 5_000, 4_500)], returns=[]
    )
    assert result.owed_back == 2_700
    assert result.parts == (Part("reversal", "tr_a", 2_700),)


def test_a_full_refund_after_a_full_transfer_reverses_the_whole_net() -> None:
    result = plan(
        amount=10_000,
        refunded=10_000,
        disputed=0,
        transfers=[tr("tr_a", 10_000, 9_000)],
        returns=[],
    )
    assert result.parts == (Part("reversal", "tr_a", 9_000),)


def test_a_second_refund_reverses_only_what_the_first_did_not() -> None:
    transfers = [tr("tr_a", 10_000, 9_000)]
    first = plan(amount=10_000, refunded=3_000, disputed=0, transfers=transfers, returns=[])
    assert first.parts == (Part("reversal", "tr_a", 2_700),)
    done = [rev(1, "tr_a", 2_700)]
    again = plan(amount=10_000, refunded=3_000, disputed=0, transfers=transfers, returns=done)
    assert again.empty  # the same refund seen twice moves nothing
    second = plan(amount=10_000, refunded=10_000, disputed=0, transfers=transfers, returns=done)
    assert second.parts == (Part("reversal", "tr_a", 6_300),)


def test_reversals_never_exceed_what_a_transfer_paid_and_the_rest_is_owed() -> None:
    # Stripe shows 8,000 of the 9,000 already reversed (by someone else): only 1,000 can come back.
    transfers = [tr("tr_a", 10_000, 9_000, reversed_at_stripe=8_000)]
    result = plan(amount=10_000, refunded=10_000, disputed=0, transfers=transfers, returns=[])
    assert result.parts == (
        Part("reversal", "tr_a", 1_000),
        Part("reversal", "tr_a", 8_000, status="owed"),
    )


def test_newest_transfer_gives_first_and_each_only_what_it_paid() -> None:
    transfers = [tr("tr_old", 4_000, 3_600), tr("tr_new", 6_000, 5_400)]
    result = plan(amount=10_000, refunded=10_000, disputed=0, transfers=transfers, returns=[])
    assert result.parts == (Part("reversal", "tr_new", 5_400), Part("reversal", "tr_old", 3_600))
    assert sum(p.amount for p in result.parts) == 9_000


def test_withdrawn_dispute_funds_count_like_a_refund() -> None:
    result = plan(
        amount=10_000,
        refunded=0,
        disputed=10_000,
        transfers=[tr("tr_a", 10_000, 9_000)],
        returns=[],
    )
    assert result.parts == (Part("reversal", "tr_a", 9_000),)


def test_a_dispute_won_transfers_what_was_reversed_again_once() -> None:
    transfers = [tr("tr_a", 10_000, 9_000, reversed_at_stripe=9_000)]
    reversed_ = [rev(1, "tr_a", 9_000)]
    result = plan(amount=10_000, refunded=0, disputed=0, transfers=transfers, returns=reversed_)
    assert result.parts == (Part("reinstatement", "tr_a", 9_000),)
    reinstated = [
        *reversed_,
        Returned(2, "tr_a", "reinstatement", "done", 9_000, 0, 0, 0),
    ]
    assert plan(
        amount=10_000, refunded=0, disputed=0, transfers=transfers, returns=reinstated
    ).empty


def test_a_refused_reinstatement_is_planned_again() -> None:
    transfers = [tr("tr_a", 10_000, 9_000, reversed_at_stripe=9_000)]
    rows = [rev(1, "tr_a", 9_000), Returned(2, "tr_a", "reinstatement", "failed", 9_000, 0, 0, 0)]
    result = plan(amount=10_000, refunded=0, disputed=0, transfers=transfers, returns=rows)
    assert result.parts == (Part("reinstatement", "tr_a", 9_000),)


def test_a_debt_is_forgiven_before_anything_is_transferred_again() -> None:
    transfers = [tr("tr_a", 10_000, 9_000)]
    rows = [rev(1, "tr_a", 3_000), rev(2, "tr_a", 6_000, status="owed")]
    result = plan(amount=10_000, refunded=0, disputed=0, transfers=transfers, returns=rows)
    assert result.forgive == (Forgive(2, 6_000),)
    assert result.parts == (Part("reinstatement", "tr_a", 3_000),)


def test_a_lost_dispute_stays_reversed() -> None:
    transfers = [tr("tr_a", 10_000, 9_000, reversed_at_stripe=9_000)]
    rows = [rev(1, "tr_a", 9_000)]
    assert plan(amount=10_000, refunded=0, disputed=10_000, transfers=transfers, returns=rows).empty


def test_a_pending_reversal_counts_as_given_back() -> None:
    transfers = [tr("tr_a", 10_000, 9_000)]
    rows = [rev(1, "tr_a", 9_000, status="pending")]
    assert plan(amount=10_000, refunded=10_000, disputed=0, transfers=transfers, returns=rows).empty


@pytest.mark.parametrize("refunded", [0, 1, 7, 333, 4_999, 5_000, 5_001, 9_999, 10_000])
@pytest.mark.parametrize("gross", [1, 3, 5_000, 10_000])
def test_the_platform_is_never_short_and_nothing_exceeds_the_net(refunded: int, gross: int) -> None:
    net = gross - gross // 10
    transfers = [tr("tr_a", gross, net)]
    result = plan(amount=10_000, refunded=refunded, disputed=0, transfers=transfers, returns=[])
    back = sum(p.amount for p in result.parts)
    kept = net - back
    covered = min(gross, 10_000 - refunded)
    # What the organization keeps is at most its exact share: the platform never loses a unit.
    assert kept * gross <= net * covered
    assert (kept + 1) * gross > net * covered or kept == net
    assert 0 <= back <= net
