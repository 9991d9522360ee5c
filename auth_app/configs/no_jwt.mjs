// A platform without the jwt() plugin: Better Auth makes no `jwks` table, so the description has
// none and the Worker accepts session tokens only (every JWT is refused as an invalid token).
import Database from "better-sqlite3";
import { bearer, organization } from "better-auth/plugins";

export default {
  database: new Database(process.env.AUTH_DB || ":memory:"),
  secret: process.env.BETTER_AUTH_SECRET || "a-32-char-or-longer-test-secret-value-xx",
  baseURL: process.env.BETTER_AUTH_URL || "http://127.0.0.1:3000",
  emailAndPassword: { enabled: true },
  plugins: [organization(), bearer()],
};
