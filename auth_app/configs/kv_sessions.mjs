// Sessions in `secondaryStorage` (on Cloudflare: Workers KV) and not in the database: Better
// Auth then keeps no session table, and the description says `session_storage: "secondary"`.
import Database from "better-sqlite3";
import { bearer, jwt, organization } from "better-auth/plugins";

const store = new Map();

export default {
  database: new Database(process.env.AUTH_DB || ":memory:"),
  secret: process.env.BETTER_AUTH_SECRET || "a-32-char-or-longer-test-secret-value-xx",
  baseURL: process.env.BETTER_AUTH_URL || "http://127.0.0.1:3000",
  emailAndPassword: { enabled: true },
  secondaryStorage: {
    get: async (key) => store.get(key) ?? null,
    set: async (key, value) => void store.set(key, value),
    delete: async (key) => void store.delete(key),
  },
  plugins: [organization(), bearer(), jwt()],
};
