// A stand-in for the client side of Cloudflare's D1 binding (`env.DB`), backed by a SQLite file.
//
// It reproduces what the Worker can observe of the real binding (workerd's
// src/cloudflare/internal/d1-api.ts): the class names the `workers` SDK dispatches on
// (`D1Database`, `D1PreparedStatement`), `prepare/bind/first/all/run/raw/batch/exec`, bind()'s type
// rules (numbers and strings as they are, booleans as 1/0, null, byte arrays; `undefined`, bigint
// and other objects refused with `D1_TYPE_ERROR`), results shaped
// `{success, meta: {changes, last_row_id, …}, results}`, failures as `Error("D1_ERROR: …")`, and a
// `batch` that is one transaction, rolled back whole on any failure. What it cannot reproduce:
// the network hop, D1's own limits, read replicas and sessions.
import Database from "better-sqlite3";

const BUSY_TIMEOUT_MS = 5000;

function d1Error(error) {
  // D1 reports SQLite's message followed by the primary result code.
  if (error && typeof error.code === "string" && error.code.startsWith("SQLITE_")) {
    const primary = error.code.split("_").slice(0, 2).join("_");
    return new Error(`D1_ERROR: ${error.message}: ${primary}`, { cause: error });
  }
  if (error instanceof Error && /^D1_[A-Z_]+:/.test(error.message)) return error;
  return new Error(`D1_ERROR: ${error?.message ?? String(error)}`, { cause: error });
}

function checkedValue(value) {
  const type = typeof value;
  if (type === "number" || type === "string") return value;
  if (type === "boolean") return value ? 1 : 0;
  if (type === "object") {
    if (value == null) return value;
    if (Array.isArray(value) && value.every((b) => typeof b === "number" && b >= 0 && b < 256)) {
      return value;
    }
    if (value instanceof ArrayBuffer) return Array.from(new Uint8Array(value));
    if (ArrayBuffer.isView(value)) return Array.from(value);
  }
  throw new Error(`D1_TYPE_ERROR: Type '${type}' not supported for value '${String(value)}'`);
}

// D1 binds SQLite's `?` and `?NNN` parameters by position (a bare `?` takes the largest index so
// far + 1); better-sqlite3 does not take `?NNN` with positional values, so each parameter is
// rewritten to `@pN` and bound by name. Strings, quoted names and comments are left alone.
const TOKEN = /'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]|--[^\n]*|\/\*[\s\S]*?\*\/|\?(\d*)/g;
const compiled = new Map();

export function numberedSql(sql) {
  let cached = compiled.get(sql);
  if (cached) return cached;
  let count = 0;
  const text = sql.replace(TOKEN, (match, digits) => {
    if (!match.startsWith("?")) return match;
    const index = digits ? Number(digits) : count + 1;
    count = Math.max(count, index);
    return `@p${index}`;
  });
  cached = { text, count };
  compiled.set(sql, cached);
  return cached;
}

function namedParams(statement) {
  const { text, count } = numberedSql(statement.statement);
  if (statement.params.length !== count) {
    throw new Error("D1_ERROR: Wrong number of parameter bindings for SQL query.");
  }
  const named = {};
  statement.params.forEach((value, i) => {
    named[`p${i + 1}`] = sqliteValue(value);
  });
  return { text, named };
}

// Parameters as the D1 service receives them (JSON): byte arrays land as BLOBs, and a number
// without a fraction as an INTEGER (better-sqlite3 would bind every JS number as a REAL).
function sqliteValue(value) {
  if (Array.isArray(value)) return Buffer.from(value);
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  return value;
}

// What the D1 service sends back: BLOBs as arrays of bytes, everything else as JSON would.
function jsonCell(value) {
  if (Buffer.isBuffer(value)) return Array.from(value);
  if (typeof value === "bigint") return Number(value);
  return value;
}

function rowObject(columns, row) {
  return Object.fromEntries(columns.map((name, i) => [name, jsonCell(row[i])]));
}

export class D1PreparedStatement {
  constructor(database, statement, params = []) {
    this.database = database;
    this.statement = statement;
    this.params = params;
  }

  bind(...values) {
    return new D1PreparedStatement(this.database, this.statement, values.map(checkedValue));
  }

  async first(colName) {
    const result = this.database._execute(this);
    if (result.results.length === 0) return null;
    const row = result.results[0];
    if (colName !== undefined) {
      if (row[colName] === undefined) {
        throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${colName})`);
      }
      return row[colName];
    }
    return row;
  }

  async all() {
    return this.database._execute(this);
  }

  async run() {
    return this.database._execute(this);
  }

  async raw(options) {
    const { columns, rows } = this.database._executeRaw(this);
    return [...(options?.columnNames ? [columns] : []), ...rows];
  }
}

export class D1Database {
  #sqlite;

  constructor(path) {
    this.#sqlite = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    this.#sqlite.pragma("journal_mode = WAL");
    this.#sqlite.pragma("synchronous = NORMAL");
    this.#sqlite.pragma("foreign_keys = ON");
    this.roundTrips = 0;
  }

  prepare(query) {
    return new D1PreparedStatement(this, query);
  }

  async batch(statements) {
    this.roundTrips += 1;
    if (!Array.isArray(statements)) {
      throw new Error("D1_ERROR: batch() takes an array of D1PreparedStatement");
    }
    for (const s of statements) {
      if (!(s instanceof D1PreparedStatement)) {
        throw new Error(`D1_ERROR: batch() got ${s?.constructor?.name ?? typeof s}, not a D1PreparedStatement`);
      }
    }
    try {
      const all = this.#sqlite.transaction(() => statements.map((s) => this.#run(s)));
      return all.immediate();
    } catch (error) {
      throw d1Error(error);
    }
  }

  async exec(query) {
    this.roundTrips += 1;
    const started = performance.now();
    try {
      this.#sqlite.exec(query);
    } catch (error) {
      throw new Error(`D1_EXEC_ERROR: ${error.message}`, { cause: error });
    }
    return { count: query.split(";").filter((s) => s.trim()).length, duration: performance.now() - started };
  }

  close() {
    this.#sqlite.close();
  }

  _execute(statement) {
    this.roundTrips += 1;
    try {
      return this.#run(statement);
    } catch (error) {
      throw d1Error(error);
    }
  }

  _executeRaw(statement) {
    this.roundTrips += 1;
    try {
      const { text, named } = namedParams(statement);
      const prepared = this.#sqlite.prepare(text);
      if (!prepared.reader) {
        prepared.run(named);
        return { columns: [], rows: [] };
      }
      const columns = prepared.columns().map((c) => c.name);
      const rows = prepared.raw(true).all(named);
      return { columns, rows: rows.map((row) => row.map(jsonCell)) };
    } catch (error) {
      throw d1Error(error);
    }
  }

  #run(statement) {
    const started = performance.now();
    const { text, named } = namedParams(statement);
    const prepared = this.#sqlite.prepare(text);
    let results = [];
    let changes = 0;
    let lastRowId = 0;
    if (prepared.reader) {
      const columns = prepared.columns().map((c) => c.name);
      const before = this.#totalChanges();
      results = prepared.raw(true).all(named).map((row) => rowObject(columns, row));
      changes = this.#totalChanges() - before; // INSERT … RETURNING is a reader that writes
      lastRowId = changes ? Number(this.#sqlite.prepare("SELECT last_insert_rowid() AS id").get().id) : 0;
    } else {
      const info = prepared.run(named);
      changes = info.changes;
      lastRowId = Number(info.lastInsertRowid);
    }
    const duration = performance.now() - started;
    return {
      success: true,
      meta: {
        served_by: "pyodide-host-d1-stand-in",
        served_by_region: "local",
        served_by_primary: true,
        timings: { sql_duration_ms: duration },
        duration,
        changes,
        last_row_id: lastRowId,
        changed_db: changes > 0,
        size_after: 0,
        rows_read: results.length,
        rows_written: changes,
      },
      results,
    };
  }

  #totalChanges() {
    return Number(this.#sqlite.prepare("SELECT total_changes() AS n").get().n);
  }
}
