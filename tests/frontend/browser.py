"""Headless Chromium for the browser tests: Debian's `chromium`, driven by Playwright.

Playwright's own browser download cannot work offline, so the system browser is launched through
`executable_path` (Playwright gives every launch a fresh temporary profile), without the sandbox
(tests run as root in containers) and with every background network feature off, so the only
requests are the ones the page makes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Request, Response, sync_playwright

__all__ = ["CHROMIUM_ARGS", "RequestLog", "chromium_path", "launch_chromium"]

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        raise RuntimeError("Chromium is missing: apt-get install chromium (make test does this)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path,
            args=list(CHROMIUM_ARGS),
            handle_sigint=False,
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class RecordedRequest:
    url: str
    method: str
    headers: dict[str, str]
    body: str


@dataclass
class RequestLog:
    """Every request the browser sent, and every token Better Auth handed out in a response."""

    requests: list[RecordedRequest] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)

    def on_request(self, request: Request) -> None:
        self.requests.append(
            RecordedRequest(
                url=request.url,
                method=request.method,
                headers=dict(request.headers),
                body=request.post_data or "",
            )
        )

    def on_response(self, response: Response) -> None:
        for name in ("set-auth-token", "set-auth-jwt"):
            value = response.headers.get(name)
            if value:
                self.tokens.add(value)
                # The raw session token is the part before the signature.
                self.tokens.add(value.split(".", 1)[0])

    def token_leaks(self, *, backend_origin: str) -> list[str]:
        """Where a token appeared other than an `Authorization` header sent to the backend."""
        leaks = []
        for req in self.requests:
            origin = "{0.scheme}://{0.netloc}".format(urlsplit(req.url))
            for token in self.tokens:
                if token in req.url:
                    leaks.append(f"{req.method} {req.url}: token in the URL")
                if token in req.body:
                    leaks.append(f"{req.method} {req.url}: token in the body")
                for name, value in req.headers.items():
                    if token not in value:
                        continue
                    if name.lower() == "authorization" and origin == backend_origin:
                        continue
                    leaks.append(f"{req.method} {req.url}: token in header {name}")
        return leaks
