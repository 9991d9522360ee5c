"""`make better-auth-schema`: the platform's Better Auth schema description (JSON from
`auth_app/describe_schema.mjs` on stdin) written where the Worker reads it, and our D1
migrations rendered for it.

    node auth_app/describe_schema.mjs auth.mjs | python -m devstack.better_auth_schema \\
        [--wrangler worker/wrangler.toml] [--migrations-out DIR]

- `wrangler.toml`: the `BETTER_AUTH_SCHEMA` line of `[vars]` is replaced (the one place the
  Worker reads the description).
- `--migrations-out DIR`: `worker/migrations` rendered for the description — 0001 checks that the
  database has Better Auth's tables under those names (it never creates them), the rest put the
  Connect columns on the platform's organization table. Point `migrations_dir` in wrangler.toml
  at DIR and `wrangler d1 migrations apply` applies them. For Better Auth's defaults the rendering
  is `worker/migrations` itself (tests/worker/test_better_auth_schema.py proves it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from connect_worker.auth_schema import DEFAULT, AuthSchema, SchemaDescriptionError, parse

from devstack.migrate import MIGRATIONS_DIR, apply_migrations, migration_files

__all__ = [
    "apply_for",
    "guard_migration",
    "render_migrations",
    "schema_of",
    "set_wrangler_var",
    "write_migrations",
]

WRANGLER_TOML = MIGRATIONS_DIR.parent / "wrangler.toml"
GUARD_NAME = "0001_better_auth.sql"
_VAR = re.compile(r"^BETTER_AUTH_SCHEMA = .*$", re.MULTILINE)
_CHECK_TABLE = "connect_better_auth_check"

_GUARD_HEADER = """\
-- Better Auth's tables belong to the platform: its own migrator made them, under its names. These
-- migrations never create them. This one stops here — and nothing after it runs — unless the
-- database holds them under the names below (rendered by `make better-auth-schema` from the
-- platform's Better Auth config). A failure names what is missing: "CHECK constraint failed:
-- no Better Auth table <name> here ..." or "no such column: <name>".
"""


def _message(table: str) -> str:
    # A constraint name (a quoted identifier): the table name is a checked identifier.
    return (
        f"no Better Auth table {table} here: render these migrations for this database's "
        "Better Auth config (make better-auth-schema AUTH_CONFIG=...)"
    )


def guard_migration(schema: AuthSchema) -> str:
    """0001 for `schema`: fails with a readable message where a table or column is absent."""
    tables = [(m, t) for m, t in schema.tables.items() if t is not None]
    flags = ", ".join(f'"{model}" INTEGER' for model, _ in tables)
    checks = ", ".join(
        f'CONSTRAINT "{_message(t.name)}" CHECK ("{model}" = 1)' for model, t in tables
    )
    found = ", ".join(
        f'(SELECT count(*) FROM "sqlite_master" WHERE "type" = \'table\' AND "name" = \'{t.name}\')'
        for _, t in tables
    )
    lines = [
        f'CREATE TABLE "{_CHECK_TABLE}" ({flags}, {checks});',
        f'INSERT INTO "{_CHECK_TABLE}" SELECT {found};',
        f'DROP TABLE "{_CHECK_TABLE}";',
    ]
    for _, t in tables:
        # Qualified: SQLite reads an unknown bare "name" as a string, not as a missing column.
        columns = ", ".join(f'"{t.name}"."{c}"' for c in t.columns.values())
        lines.append(f'SELECT {columns} FROM "{t.name}" LIMIT 0;')
    return _GUARD_HEADER + "\n".join(lines) + "\n"


def render_migrations(schema: AuthSchema, source: Path = MIGRATIONS_DIR) -> dict[str, str]:
    """Every migration file's text for `schema`, by file name (the same names: one history)."""
    rendered: dict[str, str] = {}
    for path in migration_files(source):
        if path.name == GUARD_NAME:
            rendered[path.name] = guard_migration(schema)
        else:
            rendered[path.name] = schema.render(path.read_text(encoding="utf-8"))
    return rendered


def write_migrations(schema: AuthSchema, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_migrations(schema).items():
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    return written


def apply_for(path: str | Path, schema: AuthSchema) -> list[str]:
    """`devstack.migrate.apply_migrations` with the migrations rendered for `schema` (the local
    hosts over a platform's own Better Auth database; the committed ones for the defaults)."""
    if schema.is_default and schema.complete:
        return apply_migrations(path)
    with tempfile.TemporaryDirectory(prefix="connect-migrations-") as rendered:
        write_migrations(schema, Path(rendered))
        return apply_migrations(path, migrations_dir=Path(rendered))


def schema_of(settings: Mapping[str, str]) -> AuthSchema:
    """The description in `BETTER_AUTH_SCHEMA` (Better Auth's defaults when unset)."""
    raw = (settings.get("BETTER_AUTH_SCHEMA") or "").strip()
    return parse(raw) if raw else DEFAULT


def set_wrangler_var(toml: str, schema: AuthSchema) -> str:
    """`toml` with its `BETTER_AUTH_SCHEMA` var set to the description (one line, TOML literal
    string: the JSON holds no `'`)."""
    line = f"BETTER_AUTH_SCHEMA = '{json.dumps(schema.describe(), separators=(',', ':'))}'"
    if _VAR.search(toml) is None:
        raise ValueError("wrangler.toml has no BETTER_AUTH_SCHEMA line under [vars]")
    return _VAR.sub(lambda _: line, toml, count=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.better_auth_schema")
    parser.add_argument("--wrangler", type=Path, default=WRANGLER_TOML)
    parser.add_argument("--migrations-out", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        schema = parse(sys.stdin.read())
    except SchemaDescriptionError as exc:
        print(f"better-auth-schema: {exc}", file=sys.stderr)
        return 1
    args.wrangler.write_text(set_wrangler_var(args.wrangler.read_text(), schema))
    print(f"{args.wrangler}: BETTER_AUTH_SCHEMA set")
    if args.migrations_out is not None:
        written = write_migrations(schema, args.migrations_out)
        print(f"{args.migrations_out}: {len(written)} migrations rendered")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
