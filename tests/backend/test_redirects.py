from __future__ import annotations

import pytest

from backend.core.errors import ApiError
from backend.edge.redirects import resolve_redirect

ORIGINS = ("http://localhost:5173", "https://app.example.test")


def test_default_redirect_is_the_settings_page_on_the_first_origin() -> None:
    url = resolve_redirect(None, None, origins=ORIGINS, purpose="return")
    assert url == "http://localhost:5173/settings/payments?connect=return"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://app.example.test/done?x=1", "https://app.example.test/done?x=1"),
        ("HTTPS://APP.example.test/done", "https://app.example.test/done"),
        ("http://localhost:5173", "http://localhost:5173/"),
    ],
)
def test_urls_on_a_configured_origin_are_accepted(url: str, expected: str) -> None:
    assert resolve_redirect(url, None, origins=ORIGINS, purpose="return") == expected


def test_paths_go_to_the_first_origin() -> None:
    url = resolve_redirect(None, "/billing?tab=1", origins=ORIGINS, purpose="refresh")
    assert url == "http://localhost:5173/billing?tab=1"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/",
        "https://app.example.test.evil.example/",
        "https://app.example.test@evil.example/",
        "http://app.example.test/",  # wrong scheme
        "https://app.example.test:444/",  # wrong port
        "//evil.example/",
        "javascript:alert(1)",
        "https://app.example.test/\\evil",
        "https://app.example.test/ x",
        "/relative",
    ],
)
def test_urls_off_the_configured_origins_are_an_invalid_redirect(url: str) -> None:
    with pytest.raises(ApiError) as info:
        resolve_redirect(url, None, origins=ORIGINS, purpose="return")
    assert (info.value.status, info.value.code) == (400, "invalid_redirect")


@pytest.mark.parametrize("path", ["//evil.example/x", "evil", "/\\evil.example", "/a\nb"])
def test_paths_that_could_leave_the_origin_are_refused(path: str) -> None:
    with pytest.raises(ApiError):
        resolve_redirect(None, path, origins=ORIGINS, purpose="return")
