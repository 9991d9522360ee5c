"""The platform's Better Auth schema as the Worker sees it: table and column names, id kind and
where sessions live — one description, made from the platform's own config by Better Auth's own
code (`make better-auth-schema`), read from the `BETTER_AUTH_SCHEMA` setting.

The Worker's SQL is written against Better Auth's default names, always as quoted identifiers:
a table as `"organization"`, a Better Auth column as `"organization"."name"`. A description maps
those, once per statement text (`render`): identifiers come only from the description, each
checked against `_IDENTIFIER`, never from a request. Better Auth's defaults map to themselves, so
with them nothing is rewritten at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DESCRIPTION_VERSION = 1
# The Better Auth fields the Worker reads, per model: exactly what the generator describes
# (auth_app/describe_schema.mjs `NEEDED`).
NEEDED: dict[str, tuple[str, ...]] = {
    "user": ("id", "name", "email", "emailVerified", "image"),
    "session": ("id", "token", "userId", "expiresAt", "activeOrganizationId"),
    "organization": ("id", "name", "slug"),
    "member": ("id", "organizationId", "userId", "role", "createdAt"),
    "jwks": ("id", "publicKey", "alg"),
}
# Present only when the platform's config has the `jwt()` plugin (Better Auth makes the `jwks`
# model only then); without it the Worker accepts session tokens and refuses every JWT.
OPTIONAL = frozenset({"jwks"})
ID_KINDS = ("string", "serial")
SESSION_STORAGES = ("database", "secondary")
# A table or column name the Worker will quote: letters, digits, `_`; nothing to escape.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# `"model"."field"` or `"model"` for the five models, in SQL the Worker wrote.
_REFERENCE = re.compile(r'"(user|session|organization|member|jwks)"(?:\."([A-Za-z]+)")?')
# Serial ids as the Worker accepts them: canonical decimal, below 2**53 (a JS number is exact).
SERIAL_ID = re.compile(r"[1-9][0-9]{0,14}")
_MAX_RENDERED = 4096  # statements built per request (update columns) are cached up to this


class SchemaDescriptionError(ValueError):
    """The description is not one the Worker can use (raised at startup, as a ConfigError)."""


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: Mapping[str, str]  # Better Auth field → column


@dataclass(eq=False, slots=True)
class AuthSchema:
    tables: Mapping[str, Table | None]  # None: the session model, when sessions are in KV
    id_kind: str = "string"
    session_storage: str = "database"
    _rendered: dict[str, str] = field(default_factory=dict, repr=False)
    # Better Auth's own names: the Worker's SQL is used as written (asked on every request).
    is_default: bool = field(init=False)

    def __post_init__(self) -> None:
        self.is_default = all(
            t is None or (t.name == m and all(k == v for k, v in t.columns.items()))
            for m, t in self.tables.items()
        )

    @property
    def serial_ids(self) -> bool:
        return self.id_kind == "serial"

    @property
    def has_jwt_keys(self) -> bool:
        """Whether the platform has Better Auth's `jwt()` plugin: only then is a JWT verifiable
        (and only then does any statement name `jwks`)."""
        return self.tables.get("jwks") is not None

    @property
    def complete(self) -> bool:
        """Every model the Worker can read is described (Better Auth's defaults describe all)."""
        return all(self.tables.get(m) is not None for m in NEEDED)

    def table(self, model: str) -> str:
        found = self.tables.get(model)
        if found is None:
            raise SchemaDescriptionError(f"the description has no table for {model!r}")
        return found.name

    def column(self, model: str, field_name: str) -> str:
        found = self.tables.get(model)
        if found is None or field_name not in found.columns:
            raise SchemaDescriptionError(f"the description has no column {model}.{field_name}")
        return found.columns[field_name]

    def render(self, sql: str) -> str:
        """`sql` (default names) with the platform's names; built once per statement text."""
        done = self._rendered.get(sql)
        if done is None:
            done = _REFERENCE.sub(self._replace, sql)
            if len(self._rendered) < _MAX_RENDERED:
                self._rendered[sql] = done
        return done

    def _replace(self, match: re.Match[str]) -> str:
        model, field_name = match.group(1), match.group(2)
        table = f'"{self.table(model)}"'
        return f'{table}."{self.column(model, field_name)}"' if field_name else table

    def probes(self) -> list[tuple[str, str]]:
        """(what, SQL) per table: a statement that fails naming the table or column D1 lacks."""
        probes = []
        for model, found in self.tables.items():
            if found is None:
                continue
            # Qualified: SQLite reads an unknown bare "name" as a string, not a missing column.
            columns = ", ".join(f'"{found.name}"."{c}"' for c in found.columns.values())
            probes.append((model, f'SELECT {columns} FROM "{found.name}" LIMIT 0'))
        return probes

    def describe(self) -> dict[str, Any]:
        """The description as JSON data (what `parse` reads)."""
        return {
            "version": DESCRIPTION_VERSION,
            "id_kind": self.id_kind,
            "session_storage": self.session_storage,
            "tables": {
                m: None if t is None else {"table": t.name, "columns": dict(t.columns)}
                for m, t in self.tables.items()
            },
        }


def _identifier(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise SchemaDescriptionError(
            f"{where} must be a plain SQL identifier (letters, digits, _), not {value!r}"
        )
    return value


def _table(model: str, raw: Any) -> Table:
    if not isinstance(raw, dict) or not isinstance(raw.get("columns"), dict):
        raise SchemaDescriptionError(f"tables.{model} must be {{'table', 'columns'}}")
    columns = raw["columns"]
    missing = [f for f in NEEDED[model] if f not in columns]
    if missing:
        raise SchemaDescriptionError(f"tables.{model}.columns lacks {', '.join(missing)}")
    if columns["id"] != "id":  # Better Auth names every primary key `id` (no `fields` entry)
        raise SchemaDescriptionError(f"tables.{model}.columns.id must be 'id'")
    return Table(
        name=_identifier(raw.get("table"), f"tables.{model}.table"),
        columns={f: _identifier(columns[f], f"tables.{model}.columns.{f}") for f in NEEDED[model]},
    )


def parse(text: str) -> AuthSchema:
    """The description from its JSON text; every name checked, nothing else accepted."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise SchemaDescriptionError("BETTER_AUTH_SCHEMA is not JSON") from None
    if not isinstance(raw, dict) or raw.get("version") != DESCRIPTION_VERSION:
        raise SchemaDescriptionError(
            f"BETTER_AUTH_SCHEMA must be a version {DESCRIPTION_VERSION} description "
            "(make better-auth-schema)"
        )
    id_kind, storage, tables = raw.get("id_kind"), raw.get("session_storage"), raw.get("tables")
    if id_kind not in ID_KINDS:
        raise SchemaDescriptionError(f"id_kind must be one of {', '.join(ID_KINDS)}")
    if storage not in SESSION_STORAGES:
        raise SchemaDescriptionError(
            f"session_storage must be one of {', '.join(SESSION_STORAGES)}"
        )
    if not isinstance(tables, dict):
        raise SchemaDescriptionError("tables must be an object")
    parsed: dict[str, Table | None] = {}
    for model in NEEDED:
        if tables.get(model) is None and model == "session" and storage == "secondary":
            parsed[model] = None
            continue
        if tables.get(model) is None and model in OPTIONAL:
            continue  # no `jwt()` plugin: no `jwks` table to read, check or name
        parsed[model] = _table(model, tables.get(model))
    return AuthSchema(parsed, id_kind=str(id_kind), session_storage=str(storage))


def default_schema() -> AuthSchema:
    """Better Auth's own names (what `make better-auth-schema` writes for a default config)."""
    return AuthSchema({m: Table(m, {f: f for f in fields}) for m, fields in NEEDED.items()})


DEFAULT = default_schema()


def sessions_in_kv(schema: AuthSchema) -> AuthSchema:
    """`schema` with its sessions in secondary storage: no session table to read or check (what
    `BETTER_AUTH_SESSION_STORAGE=secondary` means when no description is given)."""
    tables = {m: None if m == "session" else t for m, t in schema.tables.items()}
    return AuthSchema(tables, id_kind=schema.id_kind, session_storage="secondary")


def canonical_serial_id(value: object) -> bool:
    """Whether a serial id arrived in its one text form: `05` or `5.0` would find row 5 in
    SQLite (numeric affinity) yet name another ledger key, so only `5` is that organization."""
    return isinstance(value, str) and SERIAL_ID.fullmatch(value) is not None
