"""The repo's copy of the Better Auth fixture stays byte-identical to the shared ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COPY = REPO / "tests" / "fixtures" / "better_auth"
SHARED = REPO.parent / "shared" / "fixtures" / "better-auth"


@pytest.mark.parametrize("name", ["auth.db", "fixture.json", "schema.sql", "auth.db.migration.sql"])
def test_fixture_copy_matches_the_shared_better_auth_output(name: str) -> None:
    if not SHARED.is_dir():
        pytest.skip("no ../shared beside this clone; the committed copy is the reference")
    assert (COPY / name).read_bytes() == (SHARED / name).read_bytes()
