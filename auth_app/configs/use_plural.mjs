// Better Auth's default model names with the adapter's `usePlural` (kysely here; drizzle and
// prisma apply it the same way): tables `users`, `sessions`, `organizations`, `members`, `jwkss`.
import Database from "better-sqlite3";
import { kyselyAdapter } from "@better-auth/kysely-adapter";
import { Kysely, SqliteDialect } from "kysely";
import { bearer, jwt, organization } from "better-auth/plugins";

const db = new Kysely({ dialect: new SqliteDialect({ database: new Database(":memory:") }) });

export default {
  database: kyselyAdapter(db, { type: "sqlite", usePlural: true }),
  secret: process.env.BETTER_AUTH_SECRET || "a-32-char-or-longer-test-secret-value-xx",
  baseURL: process.env.BETTER_AUTH_URL || "http://127.0.0.1:3000",
  emailAndPassword: { enabled: true },
  plugins: [organization(), bearer(), jwt()],
};
