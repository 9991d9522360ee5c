"""The Worker's one reply path and its one error table, held to the code and to the contract.

Every handler is declared to return a reply model (a NamedTuple) — or, on a route that names its
reply key, a model or a list of them sent under that key — and `app.to_json` is the only place
one becomes JSON; every error code is raised through `ApiError`, whose status comes from
`errors.STATUS`, the same status `docs/internal-api.md` gives the code.
"""

from __future__ import annotations

import ast
import dataclasses
import logging
import re
import typing
from typing import Any, NamedTuple, TypeVar

import pytest
from connect_worker.app import ROUTES, to_json
from connect_worker.errors import STATUS, ApiError

from tests.worker.conftest import REPO, Core

WORKER_SRC = REPO / "worker" / "src"
CONTRACT = REPO / "docs" / "internal-api.md"


def _is_reply_model(annotation: Any) -> bool:
    if isinstance(annotation, TypeVar):  # a ledger's reply type: bound to a reply model
        return annotation.__bound__ is NamedTuple or _is_reply_model(annotation.__bound__)
    if typing.get_origin(annotation) is typing.Union or type(annotation).__name__ == "UnionType":
        return all(_is_reply_model(arg) for arg in typing.get_args(annotation))
    if annotation is NamedTuple:
        return True
    return (
        isinstance(annotation, type)
        and issubclass(annotation, tuple)
        and hasattr(annotation, "_fields")
    )


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_every_route_returns_a_reply_model(route: tuple[str, str]) -> None:
    handler = ROUTES[route].handler
    returns = typing.get_type_hints(handler)["return"]
    if typing.get_origin(returns) is list:  # a list is only ever sent under the route's key
        assert ROUTES[route].reply is not None, f"{route} returns a list without a reply key"
        (returns,) = typing.get_args(returns)
    assert _is_reply_model(returns), f"{route} returns {returns!r}, not a reply model"


class _Inner(NamedTuple):
    b: int
    a: str | None


class _Outer(NamedTuple):
    z: bool
    inner: _Inner
    items: list[_Inner]
    raw: dict[str, int]


def test_a_reply_model_becomes_json_with_its_fields_in_declared_order_at_every_depth() -> None:
    reply = _Outer(True, _Inner(1, None), [_Inner(2, "x")], {"k": 3})
    as_json = to_json(reply)
    assert as_json == {
        "z": True,
        "inner": {"b": 1, "a": None},
        "items": [{"b": 2, "a": "x"}],
        "raw": {"k": 3},
    }
    assert list(as_json) == ["z", "inner", "items", "raw"]
    assert list(as_json["inner"]) == ["b", "a"]


def _raised_codes() -> set[str]:
    """Every literal code passed to `ApiError(...)` anywhere in the Worker's source."""
    codes: set[str] = set()
    for path in WORKER_SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "ApiError"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                codes.add(str(node.args[0].value))
    return codes


def test_every_code_the_worker_raises_has_its_status_in_the_one_table() -> None:
    raised = _raised_codes()
    assert len(raised) >= 15
    assert raised <= set(STATUS), raised - set(STATUS)


def test_an_unknown_code_fails_where_it_is_raised() -> None:
    with pytest.raises(KeyError):
        ApiError("no_such_code", "never sent")


def test_the_contract_gives_every_code_the_status_of_the_table() -> None:
    text = CONTRACT.read_text()
    for code in STATUS:
        assert re.search(rf"\b{code}\b", text), f"`{code}` is not in docs/internal-api.md"
    # "`409 claim_lost`", "→ `401\n  unauthorized`": a status the contract names beside a code.
    pairs = re.findall(r"\b([1-5]\d\d)\s+`?([a-z][a-z0-9_]+)", text)
    stated = [(int(status), code) for status, code in pairs if code in STATUS]
    assert len(stated) >= 15
    assert [(s, c) for s, c in stated if STATUS[c] != s] == []


async def test_an_unexpected_failure_is_a_500_without_detail_and_is_logged(
    fresh_core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_claim_id() -> str:
        raise RuntimeError("detail that must not reach the caller")

    core = dataclasses.replace(
        fresh_core, deps=dataclasses.replace(fresh_core.deps, new_claim_id=broken_claim_id)
    )
    with caplog.at_level(logging.ERROR, logger="connect_worker"):
        status, body = await core.post(
            "webhook-events/claim",
            {"event_id": "evt_1", "event_type": "payout.paid", "event_created": 1},
        )
    assert (status, body) == (
        500,
        {"error": {"code": "internal_error", "message": "Internal error."}},
    )
    assert "unexpected failure on POST /api/internal/webhook-events/claim" in caplog.text
    assert "detail that must not reach the caller" in caplog.text
