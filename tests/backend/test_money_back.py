"""The target of a payment's returns (`backend/money/money_back.py`): the worked numbers of DESIGN
decision 6, rounding in the platform's favour, and nothing asked back twice or beyond a transfer."""

from __future__ import annotations

from typing import Literal

import pytest

from backend.money.money_back import Forgive, Part, Returned, Transferred, kept_net, plan


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


# --- any sequence of events ------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from backend.money.money_back import Plan  # noqa: E402


def _charge_room(
    amount: int, refunded: int, transfers: list[Transferred], rows: list[Returned]
) -> int:
    """What Stripe lets the charge still fund (`source_transaction`): its amount less refunds
    and what the transfers it funded still hold (the payment's own, reinstatements it funded)."""

    def reversed_on(tid: str | None) -> int:
        return sum(
            r.amount_reversed for r in rows if r.kind == "reversal" and r.stripe_transfer_id == tid
        )

    held = sum(t.net - reversed_on(t.stripe_transfer_id) for t in transfers)
    held += sum(
        r.amount - reversed_on(r.stripe_object_id)
        for r in rows
        if r.kind == "reinstatement" and not r.from_balance
    )
    return amount - refunded - held


def _recover(rows: list[Returned], size: int) -> list[Returned]:
    """A later transfer of another payment pays up to `size` of the newest debt."""
    out = list(rows)
    for i in reversed(range(len(out))):
        r = out[i]
        if r.status == "owed" and r.amount_owed > 0:
            take = min(size, r.amount_owed)
            owed = r.amount_owed - take
            out[i] = Returned(
                r.id, r.stripe_transfer_id, r.kind, "owed" if owed else "done", r.amount,
                r.amount_reversed, r.amount_forgiven, owed,
                amount_recovered=r.amount_recovered + take,
            )  # fmt: skip
            break
    return out


def _apply(
    plan_: Plan, rows: list[Returned], *, refuse: bool, room: int | None = None
) -> list[Returned]:
    """The plan as Stripe answers it: every reversal made (or refused: a debt), every
    reinstatement made, every forgiveness recorded. With `room` (what the charge can still
    fund), a reinstatement funded by the charge must fit in it, as Stripe requires."""
    out = list(rows)
    for f in plan_.forgive:
        i = next(n for n, r in enumerate(out) if r.id == f.return_id)
        r = out[i]
        owed = r.amount_owed - f.amount
        out[i] = Returned(
            r.id, r.stripe_transfer_id, r.kind, "owed" if owed else "done", r.amount,
            r.amount_reversed, r.amount_forgiven + f.amount, owed,
            amount_recovered=r.amount_recovered,
        )  # fmt: skip
    for p in plan_.parts:
        rid = len(out) + 1
        if p.kind == "reinstatement":
            again = f"tr_again_{rid}"
            if room is not None and not p.from_balance:
                assert p.amount <= room, "Stripe refuses a charge-funded transfer beyond the charge"
                room -= p.amount
            out.append(
                Returned(
                    rid, p.stripe_transfer_id, "reinstatement", "done", p.amount, 0, 0, 0, again,
                    from_balance=p.from_balance,
                )
            )  # fmt: skip
        elif refuse or p.status == "owed":
            out.append(
                Returned(rid, p.stripe_transfer_id, "reversal", "owed", p.amount, 0, 0, p.amount)
            )
        else:
            out.append(
                Returned(rid, p.stripe_transfer_id, "reversal", "done", p.amount, p.amount, 0, 0)
            )
    return out


events = st.lists(
    st.tuples(
        st.sampled_from(
            ["refund", "refund_fails", "dispute", "dispute_won", "dispute_lost", "recover"]
        ),
        st.integers(min_value=1, max_value=10_000),
        st.booleans(),  # Stripe refuses the reversals (the money was paid out)
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(
    grosses=st.lists(st.integers(min_value=1, max_value=5_000), min_size=1, max_size=3),
    percent=st.sampled_from([0, 2.9, 10, 33.33]),
    events=events,
    whole=st.booleans(),  # the payment transferred in full: its charge funds nothing more
)
def test_after_any_events_the_organization_keeps_exactly_its_share_and_nothing_twice(
    grosses: list[int], percent: float, events: list[tuple[str, int, bool]], whole: bool
) -> None:
    from backend.money.fees import compute_fee

    amount = 10_000
    transfers: list[Transferred] = []
    for n, gross in enumerate(grosses[: len(grosses)]):
        if sum(t.gross for t in transfers) + gross > amount:
            break
        net = compute_fee(gross, percent=percent, currency="usd").net_amount
        transfers.append(tr(f"tr_{n}", gross, net))
    if whole:
        amount = sum(t.gross for t in transfers)
    refunded = disputed = 0
    dispute_open = dispute_closed = False
    rows: list[Returned] = []
    for kind, size, refuse in events:
        if kind == "refund":
            refunded = min(amount - disputed, refunded + size)
        elif kind == "refund_fails":
            refunded = max(0, refunded - size)
        elif kind == "dispute" and not dispute_open and not dispute_closed:
            disputed, dispute_open = min(size, amount - refunded), True
        elif kind == "dispute_won" and dispute_open:
            disputed, dispute_open, dispute_closed = 0, False, True
        elif kind == "dispute_lost" and dispute_open:
            dispute_open, dispute_closed = False, True
        elif kind == "recover":
            rows = _recover(rows, size)
        planned = plan(
            amount=amount, refunded=refunded, disputed=disputed, transfers=transfers, returns=rows
        )
        room = _charge_room(amount, refunded, transfers, rows)
        rows = _apply(planned, rows, refuse=refuse, room=room)
        again = plan(
            amount=amount, refunded=refunded, disputed=disputed, transfers=transfers, returns=rows
        )
        # Settled: the same state plans nothing more (a redelivered event moves nothing).
        assert again.empty
        net = sum(t.net for t in transfers)
        kept = kept_net(amount, amount - refunded - disputed, transfers)
        back = sum(r.amount - r.amount_forgiven for r in rows if r.kind == "reversal")
        sent_again = sum(r.amount for r in rows if r.kind == "reinstatement")
        assert back - sent_again == net - kept  # owed counts as back until it is paid
        # Never asked back beyond what the transfers paid, counting what was sent again.
        assert back <= net + sent_again
        for t in transfers:
            made = sum(
                r.amount_reversed
                for r in rows
                if r.kind == "reversal" and r.stripe_transfer_id == t.stripe_transfer_id
            )
            assert made <= t.net
        for r in rows:
            if r.kind == "reinstatement":
                taken = sum(
                    x.amount_reversed for x in rows if x.stripe_transfer_id == r.stripe_object_id
                )
                assert taken <= r.amount


def test_money_transferred_again_is_what_a_later_refund_reverses_first() -> None:
    transfers = [tr("tr_a", 10_000, 9_000, reversed_at_stripe=9_000)]
    rows = [
        rev(1, "tr_a", 9_000),
        Returned(2, "tr_a", "reinstatement", "done", 9_000, 0, 0, 0, stripe_object_id="tr_again"),
    ]
    result = plan(amount=10_000, refunded=10_000, disputed=0, transfers=transfers, returns=rows)
    assert result.parts == (Part("reversal", "tr_again", 9_000),)  # not a debt


def test_a_debt_paid_from_a_later_transfer_comes_back_from_the_platforms_balance() -> None:
    """The refund failed after the debt was paid out of another payment's transfer: this charge's
    transfer was never reversed, so it cannot fund the transfer back; the platform's balance
    holds what the other transfer paid."""
    transfers = [tr("tr_a", 10_000, 9_000)]
    paid = [Returned(1, "tr_a", "reversal", "done", 9_000, 0, 0, 0, amount_recovered=9_000)]
    result = plan(amount=10_000, refunded=0, disputed=0, transfers=transfers, returns=paid)
    assert (result.parts, result.forgive) == (
        (Part("reinstatement", "tr_a", 9_000, from_balance=True),),
        (),
    )
    done = [
        *paid,
        Returned(2, "tr_a", "reinstatement", "done", 9_000, 0, 0, 0, "tr_b", from_balance=True),
    ]
    assert plan(amount=10_000, refunded=0, disputed=0, transfers=transfers, returns=done).empty


def test_a_partly_paid_debt_is_forgiven_for_the_rest_and_each_part_funded_where_it_is() -> None:
    transfers = [tr("tr_a", 10_000, 9_000)]
    rows = [
        rev(1, "tr_a", 3_000),  # reversed from its own transfer: the charge can fund it again
        Returned(2, "tr_a", "reversal", "owed", 6_000, 0, 0, 2_000, amount_recovered=4_000),
    ]
    result = plan(amount=10_000, refunded=0, disputed=0, transfers=transfers, returns=rows)
    assert result.forgive == (Forgive(2, 2_000),)
    assert result.parts == (
        Part("reinstatement", "tr_a", 4_000, from_balance=True),
        Part("reinstatement", "tr_a", 3_000),
    )
