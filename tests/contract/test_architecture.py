"""The layout is the architecture, checked from every import statement (read with `ast`, so an
import inside a function or a `try:` counts as much as one at the top).

`backend/` and `worker/` share only the written contract of the internal API; the local stack in
`devstack/` wires them together and neither imports it. On the Worker, only the entry module and
the runtime adapter know the Workers runtime (`js`, `pyodide`, `workers`): the rest is plain
Python that imports on CPython.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKER_SRC = REPO / "worker" / "src"
BACKEND = REPO / "backend"

BACKEND_PACKAGES = {"backend"}
WORKER_PACKAGES = {"connect_worker", "entry", "runtime_adapter", "worker"}
STACK_PACKAGES = {"devstack"}
RUNTIME_PACKAGES = {"js", "pyodide", "workers"}
RUNTIME_ADAPTERS = {"worker/src/entry.py", "worker/src/runtime_adapter.py"}


def python_files(*roots: Path) -> Iterator[Path]:
    for root in roots:
        yield from sorted(p for p in root.rglob("*.py") if "node_modules" not in p.parts)


def imported_packages(source: str, package: tuple[str, ...]) -> set[str]:
    """The top-level package of every module `source` imports; `package` (the folder it sits
    in, as path parts) resolves its relative imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.add((node.module or "").split(".")[0])
            else:
                base = package[: len(package) - (node.level - 1)]
                found.add(base[0] if base else (node.module or "").split(".")[0])
    return found


def offenders(roots: tuple[Path, ...], forbidden: set[str]) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for path in python_files(*roots):
        rel = path.relative_to(REPO)
        hits = imported_packages(path.read_text(), rel.parent.parts) & forbidden
        if hits:
            result[str(path.relative_to(REPO))] = hits
    return result


def test_backend_imports_neither_the_worker_nor_the_local_stack() -> None:
    assert offenders((BACKEND,), WORKER_PACKAGES | STACK_PACKAGES) == {}


def test_worker_imports_neither_the_backend_nor_the_local_stack() -> None:
    assert offenders((REPO / "worker",), BACKEND_PACKAGES | STACK_PACKAGES) == {}


def test_only_the_entry_module_and_runtime_adapter_import_the_workers_runtime() -> None:
    # Equality, not a subset: the two adapters must be found importing the runtime, which also
    # proves the scan sees imports at all.
    importers = offenders((WORKER_SRC, BACKEND), RUNTIME_PACKAGES)
    assert set(importers) == RUNTIME_ADAPTERS


def test_the_scan_sees_imports_inside_functions_and_resolves_relative_ones() -> None:
    source = "def f() -> None:\n    from connect_worker import app\n    from . import settings\n"
    assert imported_packages(source, ("backend", "routes")) == {"connect_worker", "backend"}
