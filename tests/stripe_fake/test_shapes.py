"""Everything the fake answers fits the official SDK's resource types, field by field."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from stripe import RequestOptions

from tests.fixtures.stripe import StripeFake
from tests.stripe_fake.conftest import EXPRESS_ACCOUNT
from tests.stripe_fake.shapes import problems


def _body(result: Any) -> dict[str, Any]:
    response = result.last_response
    assert response is not None
    data: dict[str, Any] = response.data
    return data


def test_shape_checker_catches_an_undeclared_field_at_any_depth() -> None:
    account = {"id": "acct_1", "object": "account", "livemode": False}
    nested = {
        "id": "acct_1",
        "object": "account",
        "settings": {"payouts": {"schedule": {"interval": "daily", "every_other": True}}},
    }
    listed = {"object": "list", "data": [{"id": "tr_1", "object": "transfer", "x": 1}],
              "has_more": False, "url": "/v1/transfers", "total_count": 1}  # fmt: skip
    assert problems(account) == ["$.livemode: Account declares no such field"]
    assert problems(nested) == [
        "$.settings.payouts.schedule.every_other: Account.Settings.Payouts.Schedule declares "
        "no such field"
    ]
    assert sorted(problems(listed)) == [
        "$.data[0].x: Transfer declares no such field",
        "$.total_count: not a field of a list",
    ]


def test_every_object_the_fake_returns_is_declared_by_the_sdk(stripe_fake: StripeFake) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def keep(what: str, result: Any) -> Any:
        seen.append((what, _body(result)))
        return result

    stripe_fake.configure_webhooks(None)
    with stripe_fake.sync_client() as sdk:
        account = keep("account create", sdk.v1.accounts.create(params=EXPRESS_ACCOUNT))
        keep(
            "account link",
            sdk.v1.account_links.create(
                params={
                    "account": account.id,
                    "type": "account_onboarding",
                    "return_url": "https://example.com/r",
                    "refresh_url": "https://example.com/f",
                }
            ),
        )
        stripe_fake.request_info(account.id, ["individual.ssn_last_4"], 2_000_000_000)
        stripe_fake.complete_onboarding(account.id)
        keep("login link", sdk.v1.accounts.login_links.create(account.id))
        keep(
            "account update",
            sdk.v1.accounts.update(
                account.id,
                params={
                    "metadata": {"k": "v"},
                    "settings": {
                        "payouts": {"schedule": {"interval": "weekly", "weekly_anchor": "friday"}}
                    },
                },
            ),
        )
        keep("account retrieve", sdk.v1.accounts.retrieve(account.id))
        keep("account list", sdk.v1.accounts.list())
        stripe_fake.fund(None, 50_000, "usd")
        stripe_fake.fund(account.id, 3_000, "usd")
        keep("platform balance", sdk.v1.balance.retrieve())
        on_acct: RequestOptions = {"stripe_account": account.id}
        keep("connected balance", sdk.v1.balance.retrieve(options=on_acct))
        transfer = keep(
            "transfer create",
            sdk.v1.transfers.create(
                params={"amount": 1_000, "currency": "usd", "destination": account.id}
            ),
        )
        keep("transfer update", sdk.v1.transfers.update(transfer.id, params={"description": "d"}))
        keep("reversal", sdk.v1.transfers.reversals.create(transfer.id, params={"amount": 100}))
        keep("reversal list", sdk.v1.transfers.reversals.list(transfer.id))
        keep("transfer retrieve", sdk.v1.transfers.retrieve(transfer.id))
        keep("transfer list", sdk.v1.transfers.list())
        payout = keep(
            "platform payout", sdk.v1.payouts.create(params={"amount": 500, "currency": "usd"})
        )
        keep("payout retrieve", sdk.v1.payouts.retrieve(payout.id))
        stripe_fake.fail_payout(payout.id)
        stripe_fake.run_payout_scheduler(account.id, force=True)
        keep("connected payouts", sdk.v1.payouts.list(options=on_acct))
        intent = keep(
            "payment intent",
            sdk.v1.payment_intents.create(
                params={
                    "amount": 2_000,
                    "currency": "usd",
                    "payment_method": "pm_card_visa",
                    "confirm": True,
                    "application_fee_amount": 200,
                    "transfer_data": {"destination": account.id},
                }
            ),
        )
        declined = sdk.v1.payment_intents.create(params={"amount": 700, "currency": "usd"})
        with pytest.raises(stripe.CardError):
            sdk.v1.payment_intents.confirm(
                declined.id, params={"payment_method": "pm_card_chargeDeclined"}
            )
        keep("declined intent", sdk.v1.payment_intents.retrieve(declined.id))
        keep("intent list", sdk.v1.payment_intents.list())
        keep("charge", sdk.v1.charges.retrieve(intent.latest_charge))
        refund = keep(
            "refund", sdk.v1.refunds.create(params={"payment_intent": intent.id, "amount": 100})
        )
        keep("refund retrieve", sdk.v1.refunds.retrieve(refund.id))
        stripe_fake.fail_refund(refund.id)
        keep("failed refund", sdk.v1.refunds.retrieve(refund.id))
        keep("refund list", sdk.v1.refunds.list({"charge": str(intent.latest_charge)}))
        dispute = stripe_fake.open_dispute(str(intent.latest_charge), amount=500)
        keep(
            "dispute update", sdk.v1.disputes.update(dispute["id"], {"evidence": {"receipt": "r"}})
        )
        stripe_fake.close_dispute(dispute["id"], "won")
        keep("dispute retrieve", sdk.v1.disputes.retrieve(dispute["id"]))
        keep("dispute list", sdk.v1.disputes.list())
        stripe_fake.deauthorize(account.id)
        platform_events = keep("platform events", sdk.v1.events.list(params={"limit": 100}))
        keep("event", sdk.v1.events.retrieve(platform_events.data[0].id))
    for event in stripe_fake.events()["events"]:
        seen.append(("event " + event["type"], event))
    kinds = {body.get("object") for _, body in seen}
    kinds |= {e["data"]["object"]["object"] for _, e in seen if e.get("object") == "event"}
    assert kinds >= {
        "account", "account_link", "login_link", "balance", "transfer", "transfer_reversal",
        "payout", "payment_intent", "charge", "refund", "event", "list", "capability",
        "application", "dispute",
    }  # fmt: skip
    found = [f"{what}: {line}" for what, body in seen for line in problems(body)]
    assert sorted(set(found)) == [], "\n".join(sorted(set(found)))
