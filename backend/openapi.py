"""`/openapi.json`: the browser-facing API, described from the pydantic models the routes use."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from backend.models import (
    AutoTransferRequest,
    BalanceReply,
    ErrorReply,
    HealthReply,
    LoginLinkReply,
    LoginLinkRequest,
    OnboardReply,
    OnboardRequest,
    PaymentIntentReply,
    PaymentIntentRequest,
    PaymentsReply,
    PayoutReply,
    PayoutRequest,
    PlatformFeeRequest,
    StatusReply,
    TransferReply,
    TransferRequest,
    WebhookReply,
)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    reply: type[BaseModel]
    status: int = 200
    body: type[BaseModel] | None = None
    security: str | tuple[str, ...] | None = "bearer"
    parameters: list[dict[str, Any]] = field(default_factory=list)
    errors: tuple[int, ...] = (400, 401, 403, 502, 503)


def _header(name: str, *, required: bool = False, max_length: int = 255) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "schema": {"type": "string", "minLength": 1, "maxLength": max_length},
    }


_ORG_PATH = {
    "name": "org_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}
_REFRESH = {"name": "refresh", "in": "query", "required": False, "schema": {"type": "boolean"}}
_USER = _header("X-User-ID", max_length=128)
_IDEMPOTENCY = _header("Idempotency-Key", required=True)

OPERATIONS = [
    Operation("get", "/healthz", "Liveness", HealthReply, security=None, errors=()),
    Operation(
        "get", "/readyz", "Readiness (checks the Worker)", HealthReply, security=None, errors=(503,)
    ),
    Operation(
        "post",
        "/api/connect/onboard",
        "Create the Express account if needed and return a fresh Account Link",
        OnboardReply,
        body=OnboardRequest,
        parameters=[_header("X-Org-ID", max_length=128), _USER],
    ),
    Operation(
        "get",
        "/api/connect/status",
        "Connect status of the org in X-Org-ID",
        StatusReply,
        parameters=[_header("X-Org-ID", required=True, max_length=128), _REFRESH, _USER],
    ),
    Operation(
        "get",
        "/api/connect/status/{org_id}",
        "Connect status of an organization",
        StatusReply,
        parameters=[_ORG_PATH, _REFRESH, _USER],
    ),
    Operation(
        "post",
        "/api/connect/transfer",
        "Platform-fee transfer of a payment collected for the org (source_transaction: its "
        "charge or PaymentIntent; amount: the gross to take, default all that is left). "
        "Owner/admin (bearer) or the platform (X-Platform-Key); without a source only the "
        "operator (X-Operator-Key), with amount, currency and reason",
        TransferReply,
        status=201,
        body=TransferRequest,
        security=("bearer", "platform", "operator"),
        parameters=[_IDEMPOTENCY, _USER],
        errors=(400, 401, 403, 404, 409, 502, 503),
    ),
    Operation(
        "get",
        "/api/connect/payments/{org_id}",
        "Payments collected for the org with something left to transfer (owner/admin)",
        PaymentsReply,
        parameters=[_ORG_PATH, _USER],
        errors=(401, 403, 503),
    ),
    Operation(
        "post",
        "/api/connect/auto-transfer",
        "Transfer each payment for the org as it succeeds, or not (owner/admin)",
        StatusReply,
        body=AutoTransferRequest,
        parameters=[_USER],
        errors=(400, 401, 403, 503),
    ),
    Operation(
        "post",
        "/api/platform/payment-intents",
        "Platform: create the PaymentIntent for an org's sale, tagged for its transfer",
        PaymentIntentReply,
        status=201,
        body=PaymentIntentRequest,
        security="platform",
        parameters=[_IDEMPOTENCY],
        errors=(400, 401, 404, 502, 503),
    ),
    Operation(
        "get",
        "/api/connect/balance/{org_id}",
        "Connected account balance",
        BalanceReply,
        parameters=[_ORG_PATH, _USER],
        errors=(401, 403, 409, 502, 503),
    ),
    Operation(
        "post",
        "/api/connect/payout",
        "Manual payout to the account's bank",
        PayoutReply,
        status=201,
        body=PayoutRequest,
        parameters=[_IDEMPOTENCY, _USER],
        errors=(400, 401, 403, 409, 502, 503),
    ),
    Operation(
        "post",
        "/api/connect/login-link",
        "Express Dashboard login link",
        LoginLinkReply,
        body=LoginLinkRequest,
        parameters=[_USER],
        errors=(400, 401, 403, 409, 502, 503),
    ),
    Operation(
        "post",
        "/api/connect/webhook",
        "Stripe webhooks (Stripe-Signature)",
        WebhookReply,
        security=None,
        parameters=[_header("Stripe-Signature", required=True, max_length=4096)],
        errors=(400, 409, 413, 503),
    ),
    Operation(
        "post",
        "/api/operator/platform-fee",
        "Operator: set an org's platform fee",
        StatusReply,
        body=PlatformFeeRequest,
        security="operator",
        errors=(400, 401, 404),
    ),
]


def _security(schemes: str | tuple[str, ...] | None) -> list[dict[str, list[str]]]:
    if schemes is None:
        return []
    return [{name: []} for name in ((schemes,) if isinstance(schemes, str) else schemes)]


def build_openapi() -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorReply}
    for op in OPERATIONS:
        models.add(op.reply)
        if op.body is not None:
            models.add(op.body)
    ordered = sorted(models, key=lambda m: m.__name__)
    refs, definitions = models_json_schema(
        [
            (m, "validation" if m in {o.body for o in OPERATIONS} else "serialization")
            for m in ordered
        ],
        ref_template="#/components/schemas/{model}",
    )
    schemas = definitions.get("$defs", {})

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        responses: dict[str, Any] = {
            str(op.status): {
                "description": "OK",
                "content": {"application/json": {"schema": ref(op.reply)}},
            }
        }
        # Every JSON body must be sent as application/json (backend/json_body.py).
        errors = sorted({*op.errors, 415}) if op.body is not None else op.errors
        for code in errors:
            responses[str(code)] = {
                "description": "Error",
                "content": {"application/json": {"schema": ref(ErrorReply)}},
            }
        operation: dict[str, Any] = {
            "summary": op.summary,
            "operationId": op.method + "_" + re.sub(r"[^a-z0-9]+", "_", op.path.lower()).strip("_"),
            "parameters": op.parameters,
            "responses": responses,
            "security": _security(op.security),
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(op.body)}},
            }
        paths.setdefault(op.path, {})[op.method] = operation
    del refs
    return {
        "openapi": "3.1.0",
        "info": {"title": "Stripe Connect backend", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Better Auth session token or JWT",
                },
                "operator": {"type": "apiKey", "in": "header", "name": "X-Operator-Key"},
                "platform": {"type": "apiKey", "in": "header", "name": "X-Platform-Key"},
            },
        },
    }
