"""The D1-shaped interface the core is written against (D1 on Workers, SQLite on CPython).

Rows are plain dicts. One `first`/`all`/`run` or one `batch` is one round trip; a `batch` is a
transaction (all statements or none), as on D1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

SqlValue = str | int | float | bytes | None
Row = dict[str, Any]
# A condition a caller adds to a write's WHERE (`webhook_events`: the event's claim is still held),
# as SQL with bare `?` placeholders and their values, bound after the statement's own. SQLite (and
# so D1) numbers a bare `?` one past the largest number already used, so it also follows `?1`..`?N`.
Condition = tuple[str, Sequence[SqlValue]]


@dataclass(frozen=True, slots=True)
class D1Result:
    rows: list[Row] = field(default_factory=list)
    changes: int = 0

    @property
    def first_row(self) -> Row | None:
        return self.rows[0] if self.rows else None


def quoted(columns: Sequence[str], alias: str = "") -> str:
    """A column list of allow-listed names, each quoted (and `alias.`-prefixed when given)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{c}"' for c in columns)


class D1Error(Exception):
    """Any failure reported by D1 (or SQLite standing in for it)."""

    @property
    def is_constraint(self) -> bool:
        return "constraint" in str(self).lower()

    @property
    def is_unique_violation(self) -> bool:
        """A UNIQUE (or primary key) constraint refused the write: D1 and SQLite both say
        "UNIQUE constraint failed: <table>.<column>"."""
        return "unique constraint failed" in str(self).lower()


class D1Statement(Protocol):
    def bind(self, *values: SqlValue) -> D1Statement: ...

    async def first(self) -> Row | None: ...

    async def all(self) -> list[Row]: ...

    async def run(self) -> D1Result: ...


class D1Database(Protocol):
    def prepare(self, sql: str) -> D1Statement: ...

    async def batch(self, statements: Sequence[D1Statement]) -> list[D1Result]: ...
