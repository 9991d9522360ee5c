// Better Auth's defaults with the three plugins the Connect Worker needs: the configuration
// `worker/src/connect_worker/better_auth_schema.json` describes (and `schema.sql` creates).
// `AUTH_DB` (a SQLite file, default in memory) is where it stores its rows.
import Database from "better-sqlite3";
import { bearer, jwt, organization } from "better-auth/plugins";

export default {
  database: new Database(process.env.AUTH_DB || ":memory:"),
  secret: process.env.BETTER_AUTH_SECRET || "a-32-char-or-longer-test-secret-value-xx",
  baseURL: process.env.BETTER_AUTH_URL || "http://127.0.0.1:3000",
  emailAndPassword: { enabled: true },
  plugins: [organization(), bearer(), jwt()],
};
