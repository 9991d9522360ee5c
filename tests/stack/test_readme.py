"""README.md documents only what exists: every variable it lists is read by that part's code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backend.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
_VAR = re.compile(r"`([A-Z][A-Z0-9_]{2,})`")


def _section(start: str, end: str) -> set[str]:
    body = README[README.index(start) : README.index(end, README.index(start))]
    return set(_VAR.findall(body))


def _source(*paths: str) -> str:
    return "\n".join((ROOT / p).read_text() for p in paths)


def test_backend_variables_are_settings_fields() -> None:
    documented = _section("`make backend`:", "`make stripe-fake`:")
    fields = {name.upper() for name in Settings.model_fields} | {"PORT"}
    assert documented
    assert documented <= fields, documented - fields


@pytest.mark.parametrize(
    ("start", "end", "sources"),
    [
        (
            "`make worker` —",
            "`make backend`:",
            [
                "worker/src/connect_worker/config.py",
                "worker/src/connect_worker/kv_sessions.py",
                "devstack/worker_host.py",
                "devstack/migrate.py",
            ],
        ),
        ("`make stripe-fake`:", "Other targets:", ["stripe_fake/config.py"]),
        (
            "| variable (`make dev`) |",
            "### `make demo`",
            ["devstack/stack_config.py", "devstack/parts.py"],
        ),
        ("### `make demo`", "### Each part alone", ["devstack/demo.py"]),
    ],
)
def test_documented_variables_are_read_by_the_code(
    start: str, end: str, sources: list[str]
) -> None:
    documented = _section(start, end)
    code = _source(*sources)
    assert documented
    missing = {name for name in documented if f'"{name}"' not in code}
    assert missing == set()


def test_every_make_target_the_readme_names_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE))
    named = set(re.findall(r"`make ([a-z][a-z-]*)", README))
    assert named
    assert named <= targets, named - targets
