"""Schema-driven fuzzing (schemathesis) of every operation the backend publishes in
`/openapi.json`, against the live server: valid-by-schema and deliberately invalid requests,
authenticated as the owner and anonymously. Zero 5xx; every answer JSON; errors in our shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from tests.fixtures.backend import BackendStack

EXAMPLES = 30  # per operation, mode and identity: 12 operations × 4 × ≤30 ≈ 1,400 requests
OPERATOR_KEY = "operator-key-for-schema-fuzzing-0123456789abcdef"


@pytest.fixture
def stack(make_backend: Any) -> BackendStack:
    stack: BackendStack = make_backend(env={"OPERATOR_API_KEY": OPERATOR_KEY})
    return stack


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def _operations(stack: BackendStack) -> list[Any]:
    document = httpx.get(f"{stack.url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) >= 10, [op.label for op in operations]
    return operations


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    stack: BackendStack,
    session: requests.Session,
    statuses: dict[int, int],
    *,
    as_member_of_acme: bool,
) -> None:
    """`as_member_of_acme`: the owner's token, and every org id the schema lets us choose is
    Acme's, so requests get past authorization into the handlers; otherwise schemathesis's own
    headers (random bearer tokens, missing ones) are sent as generated."""
    path_parameters = (
        {"org_id": stack.org_id}
        if as_member_of_acme and any(p.name == "org_id" for p in operation.iter_parameters())
        else None
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def check(case: Any) -> None:
        headers = {k: v for k, v in dict(case.headers or {}).items() if isinstance(v, str)}
        headers.setdefault("X-Operator-Key", OPERATOR_KEY)
        if as_member_of_acme:
            headers["Authorization"] = f"Bearer {stack.tokens['owner']}"
            if "X-Org-ID" in headers:
                headers["X-Org-ID"] = stack.org_id
            headers.pop("X-User-ID", None)
            if isinstance(case.body, dict) and "organization_id" in case.body:
                case.body["organization_id"] = stack.org_id
        response = case.call(base_url=stack.url, session=session, headers=headers, timeout=30)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (case.as_curl_command(), response.text[:300])
        content_type = response.headers.get("content-type") or [""]  # header → list of values
        assert content_type[0].startswith("application/json"), (response.status_code, content_type)
        body = response.json()
        if response.status_code >= 400:
            assert set(body) == {"error"}, body
            assert set(body["error"]) == {"code", "message", "request_id"}, body

    try:
        check()
    except Unsatisfiable:
        # Nothing to make invalid (e.g. GET /healthz takes no input): no negative case exists.
        assert mode == GenerationMode.NEGATIVE, operation.label


@pytest.mark.parametrize("as_member_of_acme", [True, False], ids=["as-owner", "as-generated"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_server_error_in_any_published_operation(
    mode: GenerationMode,
    as_member_of_acme: bool,
    stack: BackendStack,
    session: requests.Session,
) -> None:
    statuses: dict[int, int] = {}
    for operation in _operations(stack):
        _fuzz(operation, mode, stack, session, statuses, as_member_of_acme=as_member_of_acme)
    assert sum(statuses.values()) >= 100, statuses
    assert not any(status >= 500 for status in statuses), statuses
