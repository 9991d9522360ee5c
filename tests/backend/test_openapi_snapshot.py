"""`/openapi.json` is the published contract: its bytes, as the running server sends them, are
pinned to `tests/backend/openapi.snapshot.json`, so a refactor (e.g. moving modules into packages)
cannot change it by accident. A deliberate change rewrites the snapshot with the served bytes, and
shows up in review as a diff of that file."""

from __future__ import annotations

from pathlib import Path

import httpx

SNAPSHOT = Path(__file__).with_name("openapi.snapshot.json")


async def test_openapi_json_is_byte_identical_to_the_committed_snapshot(
    client: httpx.AsyncClient,
) -> None:
    served = (await client.get("/openapi.json")).content
    assert served == SNAPSHOT.read_bytes()
