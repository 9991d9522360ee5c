// Better Auth's `secondaryStorage` as a platform on Cloudflare wires it to Workers KV, here over the
// local SQLite file that stands in for the Worker's SESSIONS_KV binding (the `kv (key, value,
// expiration)` table of devstack/sqlite_kv.py and worker/pyodide_host/kv.mjs).
//
// On KV the wrapper is `get: k => env.KV.get(k)`, `set: (k, v, ttl) => env.KV.put(k, v,
// ttl ? { expirationTtl: Math.max(ttl, 60) } : {})`, `delete: k => env.KV.delete(k)`: KV refuses
// TTLs under 60 seconds, so the wrapper rounds them up, and this one does the same. `getAndDelete`
// and `increment` (verification values, rate limits) are done in one SQLite transaction each.
import Database from "better-sqlite3";

const SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expiration INTEGER)";
const MIN_TTL = 60;

export function sqliteSecondaryStorage(path) {
  const db = new Database(path, { timeout: 5000 });
  db.pragma("journal_mode = WAL");
  db.exec(SCHEMA);
  const now = () => Math.floor(Date.now() / 1000);
  const read = db.prepare("SELECT value, expiration FROM kv WHERE key = ? AND (expiration IS NULL OR expiration > ?)");
  const write = db.prepare(
    "INSERT INTO kv (key, value, expiration) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expiration = excluded.expiration",
  );
  const remove = db.prepare("DELETE FROM kv WHERE key = ?");
  const expiration = (ttl) => (ttl ? now() + Math.max(Math.ceil(ttl), MIN_TTL) : null);
  const getAndDelete = db.transaction((key) => {
    const row = read.get(key, now());
    remove.run(key);
    return row ? row.value : null;
  });
  const increment = db.transaction((key, ttl) => {
    const row = read.get(key, now());
    const next = (row ? Number(row.value) : 0) + 1;
    write.run(key, String(next), row ? row.expiration : expiration(ttl));
    return next;
  });
  return {
    get: async (key) => read.get(key, now())?.value ?? null,
    set: async (key, value, ttl) => {
      write.run(key, value, expiration(ttl));
    },
    delete: async (key) => {
      remove.run(key);
    },
    getAndDelete: async (key) => getAndDelete(key),
    increment: async (key, ttl) => increment(key, ttl),
  };
}
