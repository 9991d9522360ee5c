"""The route list is ordered by traffic, which is only safe while no two routes can answer one
path: then the first match is the only match, whatever the order."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Match, Route

from backend.app import HOT_PATHS, ROUTES


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "org_1", path)


def _matching(path: str, method: str) -> list[str]:
    scope = {"type": "http", "path": path, "root_path": "", "method": method}
    return [route.path for route in ROUTES if route.matches(scope)[0] is not Match.NONE]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.path)
def test_each_route_path_is_matched_by_that_route_alone(route: Route) -> None:
    for method in route.methods or ("GET",):
        assert _matching(_concrete(route.path), method) == [route.path]


def test_the_hot_routes_are_tried_first_in_their_order() -> None:
    assert [route.path for route in ROUTES[: len(HOT_PATHS)]] == list(HOT_PATHS)
    assert len({route.path for route in ROUTES}) == len(ROUTES)
