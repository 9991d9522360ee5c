// The platform's Better Auth, configured as the production app is plus the three plugins this
// project needs: organization() (who may act for which organization), bearer() (the signed
// session token in `set-auth-token`, which the backend accepts), jwt() (`/api/auth/token`).
// The local stack starts an empty D1 file with Better Auth's tables exactly as its migrator would
// make them (devstack/better_auth_tables.sql, via devstack.migrate), so the migrator is never run
// here: one schema, one owner.
import { betterAuth } from "better-auth";
import { bearer, jwt, organization } from "better-auth/plugins";

/**
 * @param {object} options
 * @param {import("better-sqlite3").Database} options.database The local D1 file.
 * @param {string} options.secret The same BETTER_AUTH_SECRET the Worker verifies signatures with.
 * @param {string} options.baseURL This app's public origin, e.g. `http://localhost:3000`.
 * @param {object} [options.secondaryStorage] Sessions there instead of the `session` table (the
 *   Worker then reads them from its SESSIONS_KV binding: BETTER_AUTH_SESSION_STORAGE=secondary).
 * @param {object} [options.platform] Better Auth options of a platform config (AUTH_CONFIG).
 */
export function createAuth({ database, secret, baseURL, secondaryStorage, platform = {} }) {
  return betterAuth({
    emailAndPassword: { enabled: true },
    plugins: [organization(), bearer(), jwt()],
    ...platform, // a platform's own config (make dev AUTH_CONFIG=…): its names, ids, plugins
    database,
    secret,
    baseURL,
    ...(secondaryStorage ? { secondaryStorage } : {}),
    basePath: "/api/auth",
    trustedOrigins: [baseURL],
  });
}
