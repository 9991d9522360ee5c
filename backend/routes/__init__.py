"""The route table: every endpoint the server answers, with what it takes and answers — the
server's routes and `/openapi.json` are both built from it.

May import: `backend.core`, `backend.money`, `backend.stripe_side`, `backend.worker_side` (not its
pool or transport), `backend.edge`, `backend.ledger`, `backend.webhooks`, `backend.reconciliation`,
`backend.services`."""

from __future__ import annotations

from backend.core import models
from backend.edge.endpoints import Endpoint
from backend.edge.openapi import IDEMPOTENCY, header
from backend.edge.query import CURSOR, LIMIT, REFRESH
from backend.routes import (
    connect,
    health,
    history,
    operator,
    payments,
    returns,
    schedule,
    webhooks,
)
from backend.worker_side import return_models

WEBHOOK_PATH = "/api/connect/webhook"

ENDPOINTS = [
    Endpoint(
        "GET", "/healthz", health.healthz, "Liveness", models.HealthReply, security=None, errors=()
    ),
    Endpoint(
        "GET",
        "/readyz",
        health.readyz,
        "Readiness (checks the Worker)",
        models.HealthReply,
        security=None,
        errors=(429, 503),
    ),
    Endpoint(
        "POST",
        "/api/connect/onboard",
        connect.onboard,
        "Create the org's account (CONNECT_ACCOUNT_PROFILE: express or custom) if needed and "
        "return a fresh Account Link",
        models.OnboardReply,
        body=models.OnboardRequest,
        parameters=[header("X-Org-ID", max_length=128)],
        errors=(400, 401, 403, 429, 502, 503),
    ),
    Endpoint(
        "GET",
        "/api/connect/status",
        connect.status_by_header,
        "Connect status of the org in X-Org-ID",
        models.StatusReply,
        parameters=[header("X-Org-ID", required=True, max_length=128)],
        query=(REFRESH,),
        errors=(400, 401, 403, 429, 502, 503),
    ),
    Endpoint(
        "GET",
        "/api/connect/status/{org_id}",
        connect.status_by_path,
        "Connect status of an organization",
        models.StatusReply,
        query=(REFRESH,),
        errors=(400, 401, 403, 429, 502, 503),
    ),
    Endpoint(
        "POST",
        "/api/connect/transfer",
        connect.transfer,
        "Platform-fee transfer of a payment collected for the org (source_transaction: its "
        "charge or PaymentIntent; amount: the gross to take, default all that is left). "
        "Owner/admin (bearer) or the platform (X-Platform-Key); without a source only the "
        "operator (X-Operator-Key), with amount, currency and reason",
        models.TransferReply,
        status=201,
        body=models.TransferRequest,
        security=("bearer", "platform", "operator"),
        parameters=[IDEMPOTENCY],
        errors=(400, 401, 403, 404, 409, 429, 502, 503),
    ),
    Endpoint(
        "GET",
        "/api/connect/balance/{org_id}",
        connect.balance,
        "Connected account balance",
        models.BalanceReply,
        errors=(401, 403, 409, 429, 502, 503),
    ),
    Endpoint(
        "POST",
        "/api/connect/payout",
        connect.payout,
        "Manual payout to the account's bank",
        models.PayoutReply,
        status=201,
        body=models.PayoutRequest,
        parameters=[IDEMPOTENCY],
        errors=(400, 401, 403, 409, 429, 502, 503),
    ),
    Endpoint(
        "POST",
        "/api/connect/payout-schedule",
        schedule.set_payout_schedule,
        "Set the org's payout schedule on its Stripe account (owner/admin; the choices the "
        "operator allows in PAYOUT_SCHEDULE_INTERVALS)",
        models.StatusReply,
        body=models.PayoutScheduleRequest,
        errors=(400, 401, 403, 409, 429, 502, 503),
    ),
    Endpoint(
        "GET",
        "/api/connect/transfers/{org_id}",
        history.transfer_history,
        "The org's transfers, newest first, a page at a time (any member)",
        models.TransferHistoryReply,
        query=(LIMIT, CURSOR),
        errors=(400, 401, 403, 503),
    ),
    Endpoint(
        "GET",
        "/api/connect/payouts/{org_id}",
        history.payout_history,
        "The org's payouts (ours and Stripe's automatic ones), newest first, a page at a time "
        "(any member)",
        models.PayoutHistoryReply,
        query=(LIMIT, CURSOR),
        errors=(400, 401, 403, 503),
    ),
    Endpoint(
        "GET",
        "/api/connect/returns/{org_id}",
        returns.return_history,
        "Money that came back from the org's transfers (reversals after refunds and disputes, "
        "debts, transfers made again), newest first, a page at a time (any member)",
        return_models.ReturnHistoryReply,
        query=(LIMIT, CURSOR),
        errors=(400, 401, 403, 503),
    ),
    Endpoint(
        "GET",
        "/api/connect/debts/{org_id}",
        returns.debts,
        "What the org owes the platform (reversals Stripe refused), taken first from its next "
        "transfers, and how each debt was paid (any member)",
        return_models.DebtsReply,
        errors=(401, 403, 503),
    ),
    Endpoint(
        "POST",
        "/api/connect/login-link",
        connect.login_link,
        "Express Dashboard login link (409 no_stripe_dashboard for a Custom-profile account)",
        models.LoginLinkReply,
        body=models.LoginLinkRequest,
        errors=(400, 401, 403, 409, 429, 502, 503),
    ),
    Endpoint(
        "POST",
        "/api/connect/account-session",
        connect.account_session,
        "A fresh Account Session for Stripe's embedded components: owner/admin get onboarding, "
        "account management, notification banner, balances and payouts; a member the payouts "
        "list. Single use, short-lived, answered with Cache-Control: no-store",
        models.AccountSessionReply,
        body=models.AccountSessionRequest,
        errors=(400, 401, 403, 409, 429, 502, 503),
    ),
    Endpoint(
        "GET",
        "/api/connect/payments/{org_id}",
        payments.untransferred_payments,
        "Payments collected for the org with something left to transfer (owner/admin)",
        models.PaymentsReply,
        errors=(401, 403, 503),
    ),
    Endpoint(
        "POST",
        "/api/connect/auto-transfer",
        payments.set_auto_transfer,
        "Transfer each payment for the org as it succeeds, or not (owner/admin)",
        models.StatusReply,
        body=models.AutoTransferRequest,
        errors=(400, 401, 403, 503),
    ),
    Endpoint(
        "POST",
        "/api/platform/payment-intents",
        payments.create_payment_intent,
        "Platform: create the PaymentIntent for an org's sale, tagged for its transfer",
        models.PaymentIntentReply,
        status=201,
        body=models.PaymentIntentRequest,
        security="platform",
        parameters=[IDEMPOTENCY],
        errors=(400, 401, 404, 502, 503),
    ),
    Endpoint(
        "POST",
        WEBHOOK_PATH,
        webhooks.webhook,
        "Stripe webhooks (Stripe-Signature)",
        models.WebhookReply,
        security=None,
        parameters=[header("Stripe-Signature", required=True, max_length=4096)],
        errors=(400, 409, 413, 429, 503),
    ),
    Endpoint(
        "POST",
        "/api/operator/platform-fee",
        operator.set_platform_fee,
        "Operator: set an org's platform fee",
        models.StatusReply,
        body=models.PlatformFeeRequest,
        security="operator",
        errors=(400, 401, 404),
    ),
    Endpoint(
        "GET",
        "/api/operator/debts",
        returns.operator_debts,
        "Operator: every organization's debts to the platform, oldest first",
        return_models.OperatorDebtsReply,
        security="operator",
        errors=(401, 404, 503),
    ),
    Endpoint(
        "POST",
        "/api/operator/reconcile",
        operator.reconcile,
        "Operator: settle unknown ledger rows from Stripe and replay missed events",
        models.ReconcileReply,
        security="operator",
        errors=(401, 404, 502, 503),
    ),
]
