"""Body-size limits enforced before a handler buffers anything.

`Content-Length` over the limit is refused at once; a chunked body is counted as it streams and
refused when it crosses the limit, so a client cannot make a replica buffer megabytes.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.errors import ApiError, error_response


class PayloadTooLarge(ApiError):
    status, code, message = 413, "payload_too_large", "The body is too large."


class BodySizeLimit:
    def __init__(
        self, app: ASGIApp, *, default_limit: int, limits: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = dict(limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default_limit)
        framed = False
        for name, value in scope["headers"]:
            if name == b"transfer-encoding":
                framed = True
            elif name == b"content-length":
                framed = True
                try:
                    too_large = int(value) > limit
                except ValueError:
                    too_large = False
                if too_large:
                    exc = PayloadTooLarge()
                    response = error_response(exc.status, exc.code, exc.message)
                    await response(scope, receive, send)
                    return
        if not framed:  # neither length nor chunks: HTTP/1.1 says there is no body to count
            await self.app(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge()
            return message

        await self.app(scope, counting_receive, send)
