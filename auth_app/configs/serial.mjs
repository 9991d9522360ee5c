// Better Auth's default names with serial (integer) ids: `advanced.database.generateId: "serial"`.
import Database from "better-sqlite3";
import { bearer, jwt, organization } from "better-auth/plugins";

export default {
  database: new Database(process.env.AUTH_DB || ":memory:"),
  secret: process.env.BETTER_AUTH_SECRET || "a-32-char-or-longer-test-secret-value-xx",
  baseURL: process.env.BETTER_AUTH_URL || "http://127.0.0.1:3000",
  emailAndPassword: { enabled: true },
  advanced: { database: { generateId: "serial" } },
  plugins: [organization(), bearer(), jwt()],
};
