"""What a request handler needs, built once per process in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel
from starlette.requests import Request

from backend.auth import Authenticator
from backend.json_body import check_json_structure, require_json_content_type
from backend.settings import Settings
from backend.stripe_gateway import ConnectStripe
from backend.worker_client import WorkerClient

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    worker: WorkerClient
    stripe: ConnectStripe
    auth: Authenticator


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def read_model(request: Request, model: type[M], *, optional: bool = False) -> M:
    """The body as `model`; malformed JSON, wrong types and unknown fields become 400, a body
    that is not `application/json` 415, a repeated key or absurd nesting 400 (`json_body`).

    `optional`: an empty body means `{}` (a route whose every field may come from headers); only
    then may the Content-Type be absent.
    """
    body = await request.body()
    if not body.strip() and optional:
        return model.model_validate_json(b"{}")
    require_json_content_type(request)
    check_json_structure(body)
    return model.model_validate_json(body or b"null")
