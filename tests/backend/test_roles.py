"""Owner/admin checks read `member.role` exactly as Better Auth does, proven against role strings
the real library wrote (and read) in `tests/fixtures/better_auth_roles/roles.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.core.roles import MANAGER_ROLES, holds_any, role_names
from tests.fixtures.backend import BackendStack

ROLES = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "better_auth_roles" / "roles.json").read_text()
)
MEMBERS: list[dict[str, Any]] = ROLES["members"]


def test_the_fixture_covers_library_writes_and_odd_strings_read_by_the_library() -> None:
    assert ROLES["better_auth_version"] == "1.7.25"
    written = [m for m in MEMBERS if not m.get("written_by_sql")]
    assert {"owner,admin", "member,admin"} <= {m["stored_role"] for m in written}
    assert any(m["manager"] for m in MEMBERS)
    assert not all(m["manager"] for m in MEMBERS)


@pytest.mark.parametrize("member", MEMBERS, ids=lambda m: repr(m["stored_role"]))
def test_owner_or_admin_is_decided_as_better_auth_decides_it(member: dict[str, Any]) -> None:
    assert holds_any(member["stored_role"], MANAGER_ROLES) is member["manager"]


def test_role_names_split_trim_and_keep_case_like_the_library() -> None:
    assert role_names("owner,admin") == ["owner", "admin"]
    assert role_names(" member ,\tAdmin,,") == ["member", "Admin"]
    assert role_names("admin\x1f") == ["admin\x1f"]  # Python's strip() would drop it; JS keeps it
    assert role_names("admin\ufeff") == ["admin"]  # and this one the other way round


async def test_every_fixture_role_through_the_worker_and_the_backend(
    backend_stack: BackendStack,
) -> None:
    """The Worker hands the column over untouched; the backend's 403 matches the library."""
    worker = backend_stack.worker
    member = worker.member
    async with (
        httpx.AsyncClient(base_url=backend_stack.url) as http,
        httpx.AsyncClient(base_url=worker.url, headers={"X-API-Key": worker.api_key}) as internal,
    ):
        for entry in MEMBERS:
            role = entry["stored_role"]
            worker.execute(
                'UPDATE "member" SET "role" = ? WHERE "userId" = ? AND "organizationId" = ?',
                role,
                member.user_id,
                backend_stack.org_id,
            )
            context = await internal.post(
                "/api/internal/verify-user-context",
                json={"token": member.token, "organization_id": backend_stack.org_id},
            )
            assert context.json()["role"] == role
            assert {"organization_id": backend_stack.org_id, "role": role} in context.json()[
                "memberships"
            ]
            r = await http.post(
                "/api/connect/login-link",
                json={"organization_id": backend_stack.org_id},
                headers=backend_stack.auth("member"),
            )
            expected = (
                (409, "no_connect_account") if entry["manager"] else (403, "insufficient_role")
            )
            assert (r.status_code, r.json()["error"]["code"]) == expected, repr(role)
