"""The layout is the architecture, checked from every import statement (read with `ast`, so an
import inside a function, a `try:` or an `if TYPE_CHECKING:` block counts as much as one at the
top: a circle through a type-only import is still a circle in the design).

`backend/` and `worker/` share only the written contract of the internal API; the local stack in
`devstack/` wires them together and neither imports it. On the Worker, only the entry module and
the runtime adapter know the Workers runtime (`js`, `pyodide`, `workers`): the rest is plain
Python that imports on CPython.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKER_SRC = REPO / "worker" / "src"
BACKEND = REPO / "backend"
ARCHITECTURE = REPO / "docs" / "architecture.md"

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


# --- backend/: packages by boundary (docs/architecture.md) ---------------------------------------
# Each unit, and the units it may import besides itself. A module belongs to the longest unit its
# dotted name starts with; the top-level modules are units of their own. The table is the one in
# docs/architecture.md and in each package's `__init__.py` docstring.
CORE = "backend.core"
MONEY = "backend.money"
STRIPE = "backend.stripe_side"
WORKER = "backend.worker_side"
EDGE = "backend.edge"
SERVICES = "backend.services"
LEDGER = "backend.ledger"
WEBHOOKS = "backend.webhooks"
RECONCILIATION = "backend.reconciliation"
ROUTES = "backend.routes"
ALLOWED: dict[str, set[str]] = {
    "backend": set(),  # backend/__init__.py: the docstring only
    CORE: set(),
    MONEY: {CORE},
    STRIPE: {CORE, MONEY},
    WORKER: {CORE, MONEY},
    EDGE: {CORE, WORKER},
    SERVICES: {CORE, EDGE, STRIPE, WORKER},
    LEDGER: {CORE, MONEY, STRIPE, WORKER, SERVICES},
    WEBHOOKS: {CORE, MONEY, STRIPE, WORKER, LEDGER, SERVICES},
    RECONCILIATION: {CORE, MONEY, STRIPE, WORKER, LEDGER, WEBHOOKS, SERVICES},
    ROUTES: {CORE, MONEY, STRIPE, WORKER, EDGE, LEDGER, WEBHOOKS, RECONCILIATION, SERVICES},
    "backend.app": {CORE, EDGE, ROUTES, SERVICES},
    "backend.__main__": {CORE, EDGE, "backend.app"},
}
# Modules closed to some units that may import the rest of their package: only the Worker
# client's own parts (and the composition root, which builds the client) touch its transport.
CLOSED: dict[str, set[str]] = {
    f"{WORKER}.http_pool": {WORKER},
    f"{WORKER}.worker_transport": {WORKER},
}
PACKAGES = {
    "core",
    "money",
    "stripe_side",
    "worker_side",
    "edge",
    "ledger",
    "webhooks",
    "reconciliation",
    "routes",
}

# --- module size ---------------------------------------------------------------------------------
MAX_LINES = 400
SIZED_ROOTS = ("backend", "worker/src", "stripe_fake", "devstack", "frontend")
SIZED_SUFFIXES = {".py", ".mjs", ".js"}
# Installed, vendored or built: not ours to size.
UNSIZED_PARTS = {"node_modules", "dist", "python_modules", ".wrangler", "__pycache__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def backend_modules() -> dict[str, Path]:
    return {module_name(p): p for p in python_files(BACKEND)}


def imported_modules(source: str, module: str, is_package: bool, known: Iterable[str]) -> set[str]:
    """The `known` modules `source` (the module `module`) imports, by any form: `import a.b`,
    `from a import b` (the submodule `a.b` when there is one, else `a`), relative imports
    resolved against the module's package."""
    names = set(known)
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name in names and name != module}


def unit_of(module: str, units: Iterable[str]) -> str:
    matches = [u for u in units if module == u or module.startswith(u + ".")]
    assert matches, f"{module} belongs to no unit of the table"
    return max(matches, key=len)


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    return {
        name: imported_modules(path.read_text(), name, path.name == "__init__.py", modules)
        for name, path in modules.items()
    }


def forbidden_imports(
    graph: Mapping[str, set[str]],
    allowed: Mapping[str, set[str]] = ALLOWED,
    closed: Mapping[str, set[str]] = CLOSED,
) -> list[str]:
    """Every import the table does not allow, as `importer -> imported`."""
    found = []
    for module, targets in sorted(graph.items()):
        unit = unit_of(module, allowed)
        for target in sorted(targets):
            other = unit_of(target, allowed)
            opened = closed.get(target)
            if (other != unit and other not in allowed[unit]) or (
                opened is not None and unit not in opened
            ):
                found.append(f"{module} -> {target}")
    return found


def circles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Each import circle found by a depth-first walk (one per back edge)."""
    state: dict[str, int] = {}
    path: list[str] = []
    found: list[list[str]] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    return found


def test_every_backend_package_is_named_in_the_table_and_says_its_rules() -> None:
    packages = {p.parent.name for p in BACKEND.glob("*/__init__.py")}
    assert packages == PACKAGES
    assert {f"backend.{name}" for name in packages} <= set(ALLOWED)
    for name in packages:
        doc = ast.get_docstring(ast.parse((BACKEND / name / "__init__.py").read_text())) or ""
        assert "May import:" in doc, f"backend/{name}/__init__.py does not say what it may import"
    # The top-level modules are only the entry points and the composition root.
    assert {p.stem for p in BACKEND.glob("*.py")} == {"__init__", "__main__", "app", "services"}


def documented_table() -> dict[str, set[str]]:
    """docs/architecture.md's table: `backend/x/` or `backend/x.py`, then what it may import."""
    rows = re.findall(
        r"^\| `backend/([a-z_]+)(?:/|\.py)` \|[^|]*\| ([^|]*) \|$",
        ARCHITECTURE.read_text(),
        re.M,
    )
    table = {"backend": set[str]()}
    for unit, may in rows:
        names = {name.strip() for name in may.split(",")} - {"—", ""}
        table[f"backend.{unit}"] = {f"backend.{name}" for name in names}
    return table


def test_the_architecture_doc_states_the_same_table() -> None:
    assert documented_table() == ALLOWED


def test_backend_imports_follow_the_package_table() -> None:
    graph = import_graph(backend_modules())
    assert sum(len(targets) for targets in graph.values()) > 200  # the scan sees the imports
    assert forbidden_imports(graph) == []


def test_no_import_circle_among_backend_modules() -> None:
    assert circles(import_graph(backend_modules())) == []


def test_the_table_refuses_an_import_across_a_boundary() -> None:
    """Synthetic sources through the same checker: the Stripe side reaching the Worker client,
    a route reaching the HTTP pool and a money flow reaching the HTTP edge are each caught, and a
    circle is found."""
    known = [
        "backend.stripe_side.stripe_gateway",
        "backend.worker_side.worker_client",
        "backend.worker_side.http_pool",
        "backend.routes.connect",
        "backend.ledger.transfer_flow",
        "backend.edge.auth",
        "backend.core.errors",
    ]
    sources = {
        "backend.stripe_side.stripe_gateway": (
            "from backend.core.errors import ApiError\n"
            "def f() -> None:\n    from backend.worker_side import worker_client\n"
        ),
        "backend.routes.connect": "from backend.worker_side.http_pool import Http1Pool\n",
        "backend.ledger.transfer_flow": "import backend.edge.auth\n",
        "backend.core.errors": "from ..stripe_side.stripe_gateway import ConnectStripe\n",
    }
    graph = {name: imported_modules(src, name, False, known) for name, src in sources.items()}
    assert forbidden_imports(graph) == [
        "backend.core.errors -> backend.stripe_side.stripe_gateway",
        "backend.ledger.transfer_flow -> backend.edge.auth",
        "backend.routes.connect -> backend.worker_side.http_pool",
        "backend.stripe_side.stripe_gateway -> backend.worker_side.worker_client",
    ]
    assert circles(graph) == [
        [
            "backend.core.errors",
            "backend.stripe_side.stripe_gateway",
            "backend.core.errors",
        ]
    ]


def sized_files(roots: Iterable[Path]) -> Iterator[Path]:
    for root in roots:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).parts
            if path.suffix in SIZED_SUFFIXES and path.is_file() and not UNSIZED_PARTS & set(rel):
                yield path


def oversized(roots: Iterable[Path], base: Path = REPO) -> dict[str, int]:
    """Each module over `MAX_LINES`, by its path under `base`, with its line count."""
    found = {}
    for path in sized_files(roots):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            found[str(path.relative_to(base))] = lines
    return found


def test_no_module_is_over_400_lines() -> None:
    """Small modules with one job, in every part that ships (tests and benches may be longer
    where a table of cases is clearer)."""
    roots = [REPO / root for root in SIZED_ROOTS]
    assert sum(1 for _ in sized_files(roots)) > 150  # the walk finds the modules
    assert oversized(roots) == {}


def test_the_size_check_counts_lines_and_skips_installed_code(tmp_path: Path) -> None:
    (tmp_path / "big.mjs").write_text("x\n" * (MAX_LINES + 1))
    (tmp_path / "fits.py").write_text("x\n" * MAX_LINES)
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "vendored.js").write_text("x\n" * 5000)
    assert oversized([tmp_path], base=tmp_path) == {"big.mjs": MAX_LINES + 1}
