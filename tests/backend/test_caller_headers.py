"""`caller_headers` reads in one pass what `request.headers.get` would read three times."""

from __future__ import annotations

from starlette.requests import Request

from backend.edge.auth import CallerHeaders, caller_headers


def test_it_reads_the_three_headers_as_starlette_does() -> None:
    raw = [
        (b"host", b"example.com"),
        (b"x-user-id", b"user_1"),
        (b"authorization", b"Bearer t.sig"),
        (b"x-org-id", b"org_\xe9"),
        (b"authorization", b"Bearer second"),
        (b"x-org-id", b"org_2"),
    ]
    found = caller_headers(raw)
    headers = Request({"type": "http", "headers": raw}).headers
    assert found == CallerHeaders(
        authorization=headers.get("authorization"),
        org_id=headers.get("x-org-id"),
        user_id=headers.get("x-user-id"),
    )
    assert found == CallerHeaders("Bearer t.sig", "org_é", "user_1")


def test_absent_headers_are_none() -> None:
    assert caller_headers([(b"host", b"example.com")]) == CallerHeaders(None, None, None)
    assert caller_headers([(b"x-org-id", b"")]) == CallerHeaders(org_id="")
