"""Every query string is read strictly against the route's declared parameters
(backend/edge/query.py): ASCII digits of bounded length, nothing undeclared or repeated, a 400
naming the problem — never a 500, whatever the bytes."""

from __future__ import annotations

import httpx
import pytest

from backend.core.errors import InvalidRequest
from backend.edge.query import CURSOR, LIMIT, REFRESH, parse_query
from tests.backend.raw_socket import exchange, request
from tests.fixtures.backend import BackendStack


def test_integers_are_ascii_digits_within_their_bounds() -> None:
    assert parse_query(b"limit=7", (LIMIT,)) == {"limit": 7}
    assert parse_query(b"limit=0007", (LIMIT,)) == {"limit": 7}
    assert parse_query(b"limit=" + b"0" * 900 + b"100", (LIMIT,)) == {"limit": 100}
    for bad in ("0", "101", "-1", "+5", " 5", "5 ", "1e2", "0x10", "", "9" * 5000):
        with pytest.raises(InvalidRequest) as info:
            parse_query(f"limit={bad}".encode(), (LIMIT,))
        assert info.value.code in ("invalid_limit", "invalid_query"), bad
    for digits in ("%D9%A1%D9%A2", "%C2%B2", "%EF%BC%95"):  # ١٢, ², full-width ５
        with pytest.raises(InvalidRequest) as info:
            parse_query(f"limit={digits}".encode(), (LIMIT,))
        assert info.value.code == "invalid_limit"


def test_the_query_names_only_declared_parameters_once_in_utf8() -> None:
    assert parse_query(b"refresh=TRUE", (REFRESH,)) == {"refresh": True}
    assert parse_query(b"refresh=&", (REFRESH,)) == {"refresh": False}
    assert parse_query(b"cursor=abc-_DEF", (CURSOR,)) == {"cursor": "abc-_DEF"}
    for raw, code in (
        (b"refresh=maybe", "invalid_refresh"),
        (b"refesh=true", "invalid_query"),
        (b"limit=1&limit=2", "invalid_query"),
        (b"cursor=%ff", "invalid_query"),
        (b"cursor=\xc3\xa9", "invalid_query"),
        (b"cursor=a%20b", "invalid_cursor"),
        (b"cursor=" + b"a" * 65, "invalid_cursor"),
        (b"x=" + b"a" * 2000, "invalid_query"),
    ):
        with pytest.raises(InvalidRequest) as info:
            parse_query(raw, (LIMIT, CURSOR, REFRESH))
        assert info.value.code == code, raw


async def test_a_limit_of_thousands_of_digits_is_a_400_on_both_histories(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    """Today: a 500 with a traceback (Python's int-digit limit); and `١٢` read as 12."""
    org = backend_stack.org_id
    for kind in ("transfers", "payouts"):
        for value, code in (
            ("9" * 1000, "invalid_limit"),
            ("9" * 5000, "invalid_query"),  # past the query's 1 KB bound
            ("\u0661\u0662", "invalid_limit"),
            ("\u00b2", "invalid_limit"),
        ):
            r = await client.get(
                f"/api/connect/{kind}/{org}", params={"limit": value}, headers=backend_stack.auth()
            )
            assert (r.status_code, r.json()["error"]["code"]) == (400, code), value[:10]


async def test_undeclared_or_repeated_parameters_are_refused_on_every_route(
    client: httpx.AsyncClient, backend_stack: BackendStack
) -> None:
    org = backend_stack.org_id
    auth = backend_stack.auth()
    cases = [
        ("GET", f"/api/connect/transfers/{org}?limit=1&limit=2"),
        ("GET", f"/api/connect/payouts/{org}?refresh=true"),
        ("GET", f"/api/connect/status/{org}?refesh=true"),
        ("GET", f"/api/connect/balance/{org}?limit=1"),
        ("GET", "/healthz?probe=1"),
        ("POST", "/api/connect/onboard?return_url=https://evil.test"),
    ]
    for method, url in cases:
        r = await client.request(method, url, headers=auth)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_query"), url
    r = await client.get(f"/api/connect/status/{org}?refresh=true", headers=auth)
    assert r.status_code == 200


def test_raw_bytes_in_the_query_are_a_400_never_a_500(backend_stack: BackendStack) -> None:
    """What an HTTP client would escape or never send: a lone `%`, a NUL, empty names, a name
    without a value, non-ASCII bytes."""
    org = backend_stack.org_id
    token = backend_stack.tokens["member"]
    for query in (b"limit=%", b"cursor=%00", b"limit=1%26limit=2", b"&&=&", b"=1", b"limit"):
        answer = exchange(
            backend_stack.url,
            request(
                "GET",
                f"/api/connect/transfers/{org}?".encode() + query,
                f"Authorization: Bearer {token}",
                "Connection: close",
            ),
        )
        assert answer.status == 400, (query, answer)
        assert answer.json()["error"]["code"] in (
            "invalid_limit",
            "invalid_cursor",
            "invalid_query",
        )
    # Bytes past 0x7f in the target: the HTTP parser itself refuses them, before any route.
    answer = exchange(
        backend_stack.url,
        request("GET", f"/api/connect/transfers/{org}?limit=".encode() + b"\xd9\xa1"),
    )
    assert answer.status == 400
