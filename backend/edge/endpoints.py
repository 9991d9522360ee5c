"""A route as data: its path, its handler and what it answers — the one source of both the
server's replies and `/openapi.json`.

A handler parses, authorizes, calls and returns its reply model (or an `Answer` when it adds
headers); failures are raised and mapped by the handler table in `errors.py`. The endpoint turns
the model into the response with the status it declares, and refuses (500) a handler that returns
any other model than the one its documentation promises. The query string is read against the
parameters the endpoint declares (`backend/edge/query.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.core.models import Reply
from backend.edge.query import QUERY_KEY, QueryParam, parse_query


@dataclass(frozen=True, slots=True)
class Answer:
    model: Reply
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Reply | Answer]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    reply: type[Reply]
    status: int = 200
    body: type[BaseModel] | None = None
    security: str | tuple[str, ...] | None = "bearer"
    parameters: list[dict[str, Any]] = field(default_factory=list)
    query: tuple[QueryParam, ...] = ()
    errors: tuple[int, ...] = (400, 401, 403, 502, 503)

    def route(self) -> Route:
        query = self.query

        async def endpoint(request: Request) -> Response:
            # Every query is read strictly (backend/edge/query.py): a route that takes none refuses
            # one at once; a route that takes some reads it when its handler asks, after the
            # caller is authenticated (401/403 before any 400).
            if query:
                request.scope[QUERY_KEY] = query
            elif request.scope["query_string"]:
                parse_query(request.scope["query_string"], ())
            result = await self.handler(request)
            answer = result if isinstance(result, Answer) else Answer(result)
            if type(answer.model) is not self.reply:
                raise TypeError(f"{self.path} answered {type(answer.model).__name__}")
            model = answer.model
            return Response(
                # pydantic's own serializer, straight to bytes: a quarter of the cost of
                # model_dump + json.dumps, and half that of model_dump_json (a str re-encoded).
                model.__pydantic_serializer__.to_json(model, exclude_none=model.omit_none),
                status_code=self.status,
                headers=dict(answer.headers) or None,
                media_type="application/json",
            )

        return Route(self.path, endpoint, methods=[self.method.upper()], name=self.handler.__name__)
