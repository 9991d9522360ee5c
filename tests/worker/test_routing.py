"""The Worker's router: exact segment matching, explicit 404/405, and a static path found in one
lookup giving the same answer as the full scan."""

from __future__ import annotations

import pytest
from connect_worker.errors import ApiError
from connect_worker.routing import Router

TABLE = {
    ("GET", "/items/{item_id}"): "item",
    ("GET", "/items/latest"): "latest-shadowed",  # the earlier pattern already matches it
    ("POST", "/verify"): "verify",
    ("GET", "/verify/{token}"): "verify-token",
}


@pytest.mark.parametrize(
    ("method", "path", "handler", "params"),
    [
        ("POST", "/verify", "verify", {}),
        ("POST", "/verify/", "verify", {}),  # a trailing slash is the same route
        ("POST", "/%76erify", "verify", {}),  # an encoded segment is decoded before matching
        ("post", "/verify", "verify", {}),
        ("GET", "/items/latest", "item", {"item_id": "latest"}),  # table order still decides
        ("GET", "/verify/a%2Fb", "verify-token", {"token": "a/b"}),
    ],
)
def test_static_and_parameter_routes_match_as_the_table_orders_them(
    method: str, path: str, handler: str, params: dict[str, str]
) -> None:
    match = Router(TABLE).match(method, path)
    assert (match.handler, match.params) == (handler, params)


def test_a_static_path_with_the_wrong_method_is_405_with_allow() -> None:
    with pytest.raises(ApiError) as excinfo:
        Router(TABLE).match("GET", "/verify")
    assert (excinfo.value.status, excinfo.value.headers) == (405, {"allow": "POST"})


@pytest.mark.parametrize("path", ["/verify/a/b", "/verif", "/", "//verify"])
def test_anything_else_is_404(path: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        Router(TABLE).match("POST", path)
    assert excinfo.value.status == 404


def test_each_match_gets_its_own_params() -> None:
    router = Router(TABLE)
    first = router.match("POST", "/verify")
    first.params["x"] = "y"
    assert router.match("POST", "/verify").params == {}
