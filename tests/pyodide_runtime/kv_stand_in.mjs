// Exercises worker/pyodide_host/kv.mjs from JS, as a Worker would, and prints what it observed.
// Usage: node kv_stand_in.mjs <sqlite file>
import { KvNamespace } from "../../worker/pyodide_host/kv.mjs";

const kv = new KvNamespace(process.argv[2]);
const seen = {};
const error = async (fn) => {
  try {
    await fn();
    return null;
  } catch (e) {
    return `${e.constructor.name}: ${e.message}`;
  }
};
const realNow = Date.now;
const at = 1_800_000_000_000;
Date.now = () => at;

seen.class_name = kv.constructor.name;
seen.missing = await kv.get("nope");
await kv.put("plain", "text ünï 🌍");
seen.plain = await kv.get("plain");
seen.plain_text_type = await kv.get("plain", "text");
await kv.put("doc", JSON.stringify({ a: [1, null] }), { expirationTtl: 60 });
seen.json = await kv.get("doc", { type: "json" });
seen.ttl_refused = await Promise.all([59, 0, -5, "x"].map((ttl) => error(() => kv.put("k", "v", { expirationTtl: ttl }))));
seen.expiration_refused = await Promise.all(
  [at / 1000, at / 1000 + 59].map((expiration) => error(() => kv.put("k", "v", { expiration }))),
);
seen.keys_refused = await Promise.all(["", ".", "..", "é".repeat(257)].map((key) => error(() => kv.get(key))));
seen.value_refused = await error(() => kv.put("k", 5));
seen.cache_ttl_refused = await error(() => kv.get("plain", { cacheTtl: 10 }));
Date.now = () => at + 59_999;
seen.before_expiry = await kv.get("doc");
Date.now = () => at + 60_000;
seen.at_expiry = await kv.get("doc");
await kv.put("abs", "v", { expiration: at / 1000 + 120 });
Date.now = () => at + 120_000;
seen.absolute_expiry = await kv.get("abs");
await kv.delete("plain");
seen.deleted = await kv.get("plain");
seen.delete_missing = await error(() => kv.delete("never-there"));
seen.reads = kv.reads;
Date.now = realNow;
kv.close();
process.stdout.write(`${JSON.stringify(seen)}\n`);
