// A stand-in for the client side of a Workers KV namespace binding (`env.SESSIONS_KV`), backed by
// a SQLite file — the same `kv (key, value, expiration)` table devstack/sqlite_kv.py uses, so the
// CPython host and this one see one namespace.
//
// It keeps what the Worker can observe of the real binding (workerd's KvNamespace, miniflare's
// KV validation, Cloudflare's "Write key-value pairs" page): the class name the `workers` SDK
// dispatches on (`KvNamespace`), `get(key, type|{type, cacheTtl})` resolving to the text, parsed
// JSON or `null`; `put(key, value, {expiration, expirationTtl, metadata})` with TTLs of at least 60
// seconds; `delete(key)`; keys of 1..512 UTF-8 bytes other than `.` and `..`; a key gone once its
// expiration (epoch seconds, read from Date.now()) passes; failures as
// `Error("KV PUT failed: 400 …")`. What it cannot reproduce: the network hop and KV's eventual
// consistency between locations (up to 60 s), `list` and streams.
import Database from "better-sqlite3";

const SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expiration INTEGER)";
const MAX_KEY_BYTES = 512;
const MIN_EXPIRATION_TTL = 60;
const MIN_CACHE_TTL = 30;
const MAX_VALUE_BYTES = 25 * 1024 * 1024;

const failed = (method, status, message) => new Error(`KV ${method} failed: ${status} ${message}`);
const nowSeconds = () => Math.floor(Date.now() / 1000);

function checkKey(method, key) {
  if (key === "") throw failed(method, 400, "Key names must not be empty");
  if (key === "." || key === "..") {
    throw failed(method, 400, `Illegal key name "${key}". Please use a different name.`);
  }
  const size = Buffer.byteLength(key);
  if (size > MAX_KEY_BYTES) {
    throw failed(method, 414, `UTF-8 encoded length of ${size} exceeds key length limit of ${MAX_KEY_BYTES}.`);
  }
}

function expirationOf(options) {
  const { expiration, expirationTtl } = options ?? {};
  if (expirationTtl !== undefined && expirationTtl !== null) {
    const ttl = parseInt(expirationTtl);
    if (Number.isNaN(ttl) || ttl <= 0) {
      throw failed("PUT", 400, `Invalid expiration_ttl of ${expirationTtl}. Please specify integer greater than 0.`);
    }
    if (ttl < MIN_EXPIRATION_TTL) {
      throw failed("PUT", 400, `Invalid expiration_ttl of ${expirationTtl}. Expiration TTL must be at least ${MIN_EXPIRATION_TTL}.`);
    }
    return nowSeconds() + ttl;
  }
  if (expiration !== undefined && expiration !== null) {
    const at = parseInt(expiration);
    if (Number.isNaN(at) || at <= nowSeconds()) {
      throw failed("PUT", 400, `Invalid expiration of ${expiration}. Please specify integer greater than the current number of seconds since the UNIX epoch.`);
    }
    if (at < nowSeconds() + MIN_EXPIRATION_TTL) {
      throw failed("PUT", 400, `Invalid expiration of ${expiration}. Expiration times must be at least ${MIN_EXPIRATION_TTL} seconds in the future.`);
    }
    return at;
  }
  return null;
}

export class KvNamespace {
  #sqlite;

  constructor(path) {
    this.#sqlite = new Database(path, { timeout: 5000 });
    this.#sqlite.pragma("journal_mode = WAL");
    this.#sqlite.exec(SCHEMA);
    this.reads = 0;
  }

  async get(key, options) {
    key = String(key);
    const { type = "text", cacheTtl } = typeof options === "string" ? { type: options } : (options ?? {});
    checkKey("GET", key);
    if (cacheTtl !== undefined && (Number.isNaN(Number(cacheTtl)) || cacheTtl < MIN_CACHE_TTL)) {
      throw failed("GET", 400, `Invalid cache_ttl of ${cacheTtl}. Cache TTL must be at least ${MIN_CACHE_TTL}.`);
    }
    if (type !== "text" && type !== "json") {
      throw new TypeError(`the KV stand-in reads "text" and "json", not ${JSON.stringify(type)}`);
    }
    this.reads += 1;
    const row = this.#sqlite
      .prepare("SELECT value FROM kv WHERE key = ? AND (expiration IS NULL OR expiration > ?)")
      .get(key, nowSeconds());
    if (row === undefined) return null;
    return type === "json" ? JSON.parse(row.value) : row.value;
  }

  async put(key, value, options) {
    key = String(key);
    checkKey("PUT", key);
    if (typeof value !== "string") {
      throw new TypeError("KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.");
    }
    if (Buffer.byteLength(value) > MAX_VALUE_BYTES) {
      throw failed("PUT", 413, `Value length of ${Buffer.byteLength(value)} exceeds limit of ${MAX_VALUE_BYTES}.`);
    }
    const expiration = expirationOf(options);
    this.#sqlite
      .prepare("INSERT INTO kv (key, value, expiration) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expiration = excluded.expiration")
      .run(key, value, expiration);
  }

  async delete(key) {
    key = String(key);
    checkKey("DELETE", key);
    this.#sqlite.prepare("DELETE FROM kv WHERE key = ?").run(key);
  }

  close() {
    this.#sqlite.close();
  }
}
