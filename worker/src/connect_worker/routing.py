"""Routes as data: `{(method, pattern): handler}`, exact segment matching, explicit 404/405.

Paths arrive still percent-encoded and are split on `/` *before* each segment is decoded, so a
parameter may hold any character, `/` included (`%2F`): an idempotency key is printable ASCII.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import unquote

from connect_worker.errors import ApiError

H = TypeVar("H")


@dataclass(frozen=True, slots=True)
class Match(Generic[H]):
    handler: H
    params: dict[str, str]


class Router(Generic[H]):
    def __init__(self, table: Mapping[tuple[str, str], H]) -> None:
        self._routes: list[tuple[str, tuple[str, ...], H]] = [
            (method.upper(), _segments(pattern, decode=False), handler)
            for (method, pattern), handler in table.items()
        ]
        # A path without parameters, sent exactly as written, is one dict lookup — when the scan
        # below would pick the same route for it (no earlier pattern also matches it).
        self._static: dict[tuple[str, str], Match[H]] = {}
        for (method, pattern), handler in table.items():
            if "{" not in pattern and "%" not in pattern:
                found = self._scan(method.upper(), pattern)
                if found.handler is handler and not found.params:
                    self._static[(method.upper(), pattern)] = found

    def match(self, method: str, path: str) -> Match[H]:
        static = self._static.get((method, path))
        if static is not None:
            return Match(handler=static.handler, params={})
        return self._scan(method, path)

    def _scan(self, method: str, path: str) -> Match[H]:
        segments = _segments(path)
        allowed: list[str] = []
        for route_method, pattern, handler in self._routes:
            params = _match_segments(pattern, segments)
            if params is None:
                continue
            if route_method == method.upper():
                return Match(handler=handler, params=params)
            allowed.append(route_method)
        if allowed:
            allow = ", ".join(sorted(set(allowed)))
            raise ApiError("method_not_allowed", "Method not allowed.", headers={"allow": allow})
        raise ApiError("not_found", "No such route.")


def _segments(path: str, *, decode: bool = True) -> tuple[str, ...]:
    # "/a/b" and "/a/b/" are the same route; empty inner segments ("/a//b") never match a pattern.
    stripped = path[1:] if path.startswith("/") else path
    if stripped.endswith("/"):
        stripped = stripped[:-1]
    if not stripped:
        return ()
    parts = stripped.split("/")
    return tuple(unquote(p) for p in parts) if decode else tuple(parts)


def _match_segments(pattern: tuple[str, ...], segments: tuple[str, ...]) -> dict[str, str] | None:
    if len(pattern) != len(segments):
        return None
    params: dict[str, str] = {}
    for expected, actual in zip(pattern, segments, strict=True):
        if expected.startswith("{") and expected.endswith("}"):
            if not actual:
                return None
            params[expected[1:-1]] = actual
        elif expected != actual:
            return None
    return params
