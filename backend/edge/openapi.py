"""`/openapi.json`: written from the route table the server runs (`backend/routes/__init__.py`)
and the pydantic models its handlers parse and answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from backend.core.models import ErrorReply
from backend.edge.endpoints import Endpoint


def parameter(
    name: str, where: str, schema: dict[str, Any], *, required: bool = False, **extra: str
) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, **extra, "schema": schema}


def header(name: str, *, required: bool = False, max_length: int = 255) -> dict[str, Any]:
    schema = {"type": "string", "minLength": 1, "maxLength": max_length}
    return parameter(name, "header", schema, required=required)


ORG_PATH = parameter(
    "org_id", "path", {"type": "string", "minLength": 1, "maxLength": 128}, required=True
)
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again (rate limits, Stripe busy)",
        "schema": {"type": "integer", "minimum": 1},
    }
}
USER = header("X-User-ID", max_length=128)
IDEMPOTENCY = header("Idempotency-Key", required=True)


def _security(schemes: str | tuple[str, ...] | None) -> list[dict[str, list[str]]]:
    if schemes is None:
        return []
    return [{name: []} for name in ((schemes,) if isinstance(schemes, str) else schemes)]


def _parameters(op: Endpoint) -> list[dict[str, Any]]:
    """An endpoint's own parameters, between the two every route shares where they apply: the
    organization in the path first, and last `X-User-ID`, which a bearer caller may send (and
    `backend/edge/auth.py` holds to the session)."""
    org = [ORG_PATH] if "{org_id}" in op.path else []
    user = [USER] if {"bearer": []} in _security(op.security) else []
    return [*org, *op.parameters, *(q.openapi() for q in op.query), *user]


def build_openapi(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """The document for exactly the endpoints the server routes, from their own models."""
    models: set[type[BaseModel]] = {ErrorReply}
    for op in endpoints:
        models.add(op.reply)
        if op.body is not None:
            models.add(op.body)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, definitions = models_json_schema(
        [
            (m, "validation" if m in {o.body for o in endpoints} else "serialization")
            for m in ordered
        ],
        ref_template="#/components/schemas/{model}",
    )
    schemas = definitions.get("$defs", {})

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    paths: dict[str, dict[str, Any]] = {}
    for op in endpoints:
        responses: dict[str, Any] = {
            str(op.status): {
                "description": "OK",
                "content": {"application/json": {"schema": ref(op.reply)}},
            }
        }
        # Every JSON body must be sent as application/json (backend/edge/json_body.py); every route
        # refuses a query it does not declare (backend/edge/query.py).
        errors = sorted({*op.errors, 400, *((415,) if op.body is not None else ())})
        for code in errors:
            responses[str(code)] = {
                "description": "Error",
                "content": {"application/json": {"schema": ref(ErrorReply)}},
                **({"headers": RETRY_AFTER} if code in (429, 503) else {}),
            }
        operation: dict[str, Any] = {
            "summary": op.summary,
            "operationId": op.method.lower()
            + "_"
            + re.sub(r"[^a-z0-9]+", "_", op.path.lower()).strip("_"),
            "parameters": _parameters(op),
            "responses": responses,
            "security": _security(op.security),
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(op.body)}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = operation
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
