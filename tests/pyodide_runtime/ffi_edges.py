"""Runs *inside* Pyodide (tests/pyodide_runtime/ffi_edges.mjs): the Worker's D1 adapter over the
SDK-wrapped D1 binding, at the edges of the FFI. Prints one JSON object of observations."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

from connect_worker.d1 import D1Error
from runtime_adapter import WorkersD1


async def observe(env: Any) -> str:
    db: Any = WorkersD1(env.DB)  # rows are read as the tests expect them, not as typed
    seen: dict[str, Any] = {}

    async def error_of(call: Callable[[], Awaitable[object]]) -> dict[str, object] | None:
        try:
            await call()  # bind() refuses synchronously, the queries when awaited
        except D1Error as exc:
            return {"message": str(exc), "is_constraint": exc.is_constraint}
        return None

    # SQL NULL in every nullable column of every table, written with bind(None), read back.
    nulls: dict[str, Any] = {}
    tables = await db.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name != 'd1_migrations' ORDER BY name"
    ).all()
    for table in [t["name"] for t in tables]:
        columns = (
            await db.prepare('SELECT name, "notnull", pk FROM pragma_table_info(?1)')
            .bind(table)
            .all()
        )
        nullable = [c["name"] for c in columns if not c["notnull"] and not c["pk"]]
        row = await db.prepare(f'SELECT rowid AS r FROM "{table}" LIMIT 1').first()
        if not nullable or row is None:
            nulls[table] = "no row" if nullable else "no nullable column"
            continue
        sets = ", ".join(f'"{c}" = ?{i + 1}' for i, c in enumerate(nullable))
        where = len(nullable) + 1
        update = db.prepare(f'UPDATE "{table}" SET {sets} WHERE rowid = ?{where}')
        await db.batch([update.bind(*([None] * len(nullable)), row["r"])])
        back = await db.prepare(f'SELECT * FROM "{table}" WHERE rowid = ?1').bind(row["r"]).first()
        listed = await db.prepare(f'SELECT * FROM "{table}" WHERE rowid = ?1').bind(row["r"]).all()
        nulls[table] = {c: [back[c], listed[0][c]] for c in nullable}
    seen["nulls"] = nulls

    text = "Ünïcode 🌍 e\u0301 中文 \U0001f9ea ' \" ;--"
    seen["unicode"] = [
        (await db.prepare("SELECT ?1 AS v").bind(text).first())["v"] == text,
        (await db.prepare("SELECT ?1 AS v").bind(text).all())[0]["v"] == text,
    ]
    empty = db.prepare('SELECT * FROM "organization" WHERE "id" = ?1').bind("nope")
    batch = await db.batch([empty, db.prepare('SELECT * FROM "member" WHERE 0')])
    seen["empty"] = {
        "first": await empty.first(),
        "all": await empty.all(),
        "batch_rows": [r.rows for r in batch],
    }
    ints = [0, 1, -1, 2**31, 2**32 + 1, 2**53 - 2, 2**53 - 1, -(2**53 - 1)]
    got = []
    for n in ints:
        row = await db.prepare("SELECT ?1 AS v, typeof(?1) AS t").bind(n).first()
        got.append([row["v"], type(row["v"]).__name__, row["t"]])
    seen["integers"] = {"sent": ints, "got": got}
    seen["beyond_2_53"] = await error_of(lambda: db.prepare("SELECT ?1 AS v").bind(2**53).first())
    seen["bad_sql"] = await error_of(lambda: db.prepare("SELECT * FROM nope").all())

    # A UNIQUE violation inside a batch: the error says so, and nothing of the batch remains.
    existing = await db.prepare('SELECT "event_id" FROM "connect_webhook_event" LIMIT 1').first()
    insert = (
        'INSERT INTO "connect_webhook_event" ("event_id", "event_type", "event_created", '
        '"status", "received_at") VALUES (?1, ?2, ?3, ?4, ?5)'
    )
    fresh = db.prepare(insert).bind("evt_ffi_new", "x", 1, "processing", "2026-01-01T00:00:00.000Z")
    duplicate = db.prepare(insert).bind(
        existing["event_id"], "x", 1, "processing", "2026-01-01T00:00:00.000Z"
    )
    seen["unique_in_batch"] = await error_of(lambda: db.batch([fresh, duplicate]))
    seen["left_behind"] = (
        await db.prepare('SELECT COUNT(*) AS n FROM "connect_webhook_event" WHERE "event_id" = ?1')
        .bind("evt_ffi_new")
        .first()
    )
    written = await db.batch([fresh])
    seen["batch_changes"] = written[0].changes
    return json.dumps(seen)
