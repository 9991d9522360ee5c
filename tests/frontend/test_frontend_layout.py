"""The layout of `frontend/`: small modules (none over 400 lines), every relative import naming a
file that exists (a moved module breaks here, not in a browser at run time), no import circle,
and the element's layers kept apart: panels draw (no backend, no controllers), controllers act
(no panels), words are pure (no DOM, no transport).

The modules are read as text: their imports are plain ES `import … from "…"`, `export … from "…"`
and `import("…")` with literal specifiers, which is all the frontend uses (no bundler)."""

from __future__ import annotations

import re
from pathlib import Path

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
LIMIT = 400
IMPORT = re.compile(r"""(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)["'](\.{1,2}/[^"']+)["']""", re.M)


def _modules() -> list[Path]:
    return sorted(p for p in FRONTEND.rglob("*.mjs") if "node_modules" not in p.parts)


def _imports(module: Path) -> list[Path]:
    """Relative runtime imports; JSDoc `import("…")` types inside comments are not loaded."""
    code = re.sub(r"^\s*//.*$", "", module.read_text(encoding="utf-8"), flags=re.M)
    code = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    return [(module.parent / spec).resolve() for spec in IMPORT.findall(code)]


def test_no_frontend_module_is_over_400_lines() -> None:
    sizes = {
        str(p.relative_to(FRONTEND)): len(p.read_text(encoding="utf-8").splitlines())
        for p in _modules()
    }
    assert len(sizes) > 10
    assert {name: n for name, n in sizes.items() if n >= LIMIT} == {}


def test_every_relative_import_names_a_file_that_exists() -> None:
    missing = [
        f"{module.relative_to(FRONTEND)} → {target}"
        for module in _modules()
        for target in _imports(module)
        if not target.is_file()
    ]
    assert missing == []


def test_the_element_reaches_its_parts_and_no_module_imports_itself_back() -> None:
    graph = {module.resolve(): _imports(module) for module in _modules()}
    reached: set[Path] = set()
    stack = [(FRONTEND / "connect-payouts.mjs").resolve()]
    while stack:
        module = stack.pop()
        if module not in reached:
            reached.add(module)
            stack.extend(graph.get(module, []))
    names = {str(p.relative_to(FRONTEND)) for p in reached}
    assert {"payouts/controller.mjs", "payouts/styles.mjs", "backend-client.mjs"} <= names

    def circle_from(start: Path) -> list[Path] | None:
        path: list[Path] = []

        def visit(module: Path) -> bool:
            if module in path:
                path.append(module)
                return True
            path.append(module)
            if any(visit(nxt) for nxt in graph.get(module, [])):
                return True
            path.pop()
            return False

        return path if visit(start) else None

    circles = {
        " → ".join(str(p.relative_to(FRONTEND)) for p in c)
        for c in map(circle_from, graph)
        if c is not None
    }
    assert circles == set()


# Which modules a group may not import at run time (JSDoc types are not imports).
LAYERS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "panels draw from the state they are given": (
        re.compile(r"payouts/(.*-panel|money-back|dom)\.mjs"),
        re.compile(r"backend-.*|payouts/.*controller\.mjs|connect-payouts\.mjs"),
    ),
    "controllers never draw": (
        re.compile(r"payouts/.*controller\.mjs"),
        re.compile(r"payouts/(.*-panel|money-back|dom|styles)\.mjs|connect-payouts\.mjs"),
    ),
    "words are pure": (
        re.compile(r"[a-z-]*-words\.mjs|money-format\.mjs"),
        re.compile(r"payouts/.*|backend-(client|transport)\.mjs|connect-payouts\.mjs"),
    ),
}


def test_panels_controllers_and_words_keep_to_their_layer() -> None:
    broken = [
        f"{rule}: {name} imports {target}"
        for module in _modules()
        for rule, (group, forbidden) in LAYERS.items()
        if group.fullmatch(name := str(module.relative_to(FRONTEND)))
        for target in (str(t.relative_to(FRONTEND)) for t in _imports(module))
        if forbidden.fullmatch(target)
    ]
    assert broken == []
    assert all(
        any(g.fullmatch(str(m.relative_to(FRONTEND))) for m in _modules())
        for g, _ in LAYERS.values()
    )
