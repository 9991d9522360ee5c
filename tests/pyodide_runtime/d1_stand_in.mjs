// Exercises worker/pyodide_host/d1.mjs from JS, as a Worker would, and prints what it observed.
// Usage: node d1_stand_in.mjs <empty sqlite file>
import { D1Database, D1PreparedStatement } from "../../worker/pyodide_host/d1.mjs";

const db = new D1Database(process.argv[2]);
const seen = {};
const error = async (fn) => {
  try {
    await fn();
    return null;
  } catch (e) {
    return e.message;
  }
};

await db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, n INTEGER, r REAL, b BLOB)");
const insert = db.prepare("INSERT INTO t (k, n, r, b) VALUES (?1, ?2, ?3, ?4)");
seen.classes = [db.constructor.name, insert.constructor.name, insert instanceof D1PreparedStatement];
const run = await insert.bind("a", true, 1.5, new Uint8Array([1, 2, 255]).buffer).run();
seen.run = { success: run.success, changes: run.meta.changes, last_row_id: run.meta.last_row_id, results: run.results };
seen.row = await db.prepare("SELECT k, n, typeof(n) AS nt, r, b FROM t WHERE k = ?").bind("a").first();
seen.first_column = await db.prepare("SELECT k FROM t").first("k");
seen.missing_column = await error(() => db.prepare("SELECT k FROM t").first("nope"));
seen.raw = await db.prepare("SELECT k, n FROM t").raw({ columnNames: true });
seen.null = await db.prepare("SELECT ?1 AS v, ?1 IS NULL AS is_null").bind(null).first();
seen.refused = await Promise.all(
  [undefined, 1n, { a: 1 }, () => 1, [1, 256]].map((value) => error(() => insert.bind("x", value, 0, null))),
);
seen.wrong_count = await error(() => db.prepare("SELECT ?1, ?2").bind(1).all());
seen.mixed = await db.prepare("SELECT ?2 AS two, ? AS three, ?1 AS one").bind(1, 2, 3).first();
seen.unique = await error(() => db.batch([insert.bind("b", 2, 0, null), insert.bind("a", 3, 0, null)]));
seen.after_failed_batch = (await db.prepare("SELECT k FROM t ORDER BY k").all()).results;
seen.batch = (await db.batch([insert.bind("c", 4, 0, null), db.prepare("SELECT COUNT(*) AS c FROM t")])).map(
  (r) => [r.success, r.meta.changes, r.results],
);
seen.not_a_statement = await error(() => db.batch([{ statement: "SELECT 1", params: [] }]));
seen.bad_sql = await error(() => db.prepare("SELEC 1").all());
db.close();
process.stdout.write(`${JSON.stringify(seen)}\n`);
