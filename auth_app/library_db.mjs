// A SQLite database made entirely by real Better Auth under a given config: its own migrator
// creates the tables, the library writes the users, organization, members, sessions and (with the
// jwt() plugin) the JWT key.
// Tests apply our migrations on top and ask the Worker about the tokens printed here.
//
//   AUTH_DB=out.sqlite3 node library_db.mjs configs/plural_snake.mjs  → JSON on stdout
//
// The config module reads AUTH_DB for its database (see configs/).
import path from "node:path";
import { pathToFileURL } from "node:url";

import { betterAuth } from "better-auth";
import { getAuthTables } from "better-auth/db";
import { getMigrations } from "better-auth/db/migration";

const file = process.argv[2];
if (!file || !process.env.AUTH_DB) {
  console.error("usage: AUTH_DB=out.sqlite3 node library_db.mjs path/to/config.mjs");
  process.exit(2);
}
const options = (await import(pathToFileURL(path.resolve(file)).href)).default;
const { runMigrations } = await getMigrations(options);
await runMigrations();

const auth = betterAuth(options);
const base = options.baseURL;

async function call(method, route, { body, cookie, bearer } = {}) {
  const headers = new Headers({ origin: base });
  if (body) headers.set("content-type", "application/json");
  if (cookie) headers.set("cookie", cookie);
  if (bearer) headers.set("authorization", `Bearer ${bearer}`);
  const response = await auth.handler(
    new Request(`${base}/api/auth${route}`, {
      method,
      headers,
      body: body ? JSON.stringify(body) : undefined,
    }),
  );
  const json = await response.json().catch(() => null);
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${JSON.stringify(json)}`);
  return { response, json };
}

const password = "correct-horse-battery";
await call("POST", "/sign-up/email", { body: { email: "alice@example.com", password, name: "Alice" } });
const signIn = await call("POST", "/sign-in/email", { body: { email: "alice@example.com", password } });
const setCookie = signIn.response.headers.getSetCookie().find((c) => c.startsWith("better-auth.session_token="));
const cookie = setCookie.split(";")[0];
const signedToken = signIn.response.headers.get("set-auth-token");

const org = await call("POST", "/organization/create", { body: { name: "Acme Inc", slug: "acme" }, cookie });
await call("POST", "/organization/set-active", { body: { organizationId: org.json.id }, cookie });
const bob = await call("POST", "/sign-up/email", {
  body: { email: "bob@example.com", password: `${password}2`, name: "Bob" },
});
await auth.api.addMember({ body: { userId: bob.json.user.id, organizationId: org.json.id, role: "member" } });
// Carol owns another organization, and her session has expired (the library's own adapter
// moves its expiry into the past).
const carol = await call("POST", "/sign-up/email", {
  body: { email: "carol@example.test", password: `${password}3`, name: "Carol ñ" },
});
const carolToken = carol.response.headers.get("set-auth-token");
const otherOrg = await call("POST", "/organization/create", {
  body: { name: "Глобекс 🌍 Ünïcode", slug: "globex-u" },
  bearer: carolToken,
});
const context = await auth.$context;
await context.adapter.update({
  model: "session",
  where: [{ field: "token", value: carol.json.token }],
  update: { expiresAt: new Date(Date.now() - 3 * 86_400_000) },
});
const session = await call("GET", "/get-session", { cookie });
// A JWT only where the config has the jwt() plugin (Better Auth's `jwks` model says so).
const token = getAuthTables(options).jwks ? await call("GET", "/token", { cookie }) : null;

process.stdout.write(
  `${JSON.stringify({
    secret: options.secret,
    base_url: base,
    user_id: String(signIn.json.user.id),
    bob_user_id: String(bob.json.user.id),
    org_id: String(org.json.id),
    session_id: String(session.json.session.id),
    session_expires_at: session.json.session.expiresAt,
    signed_token: signedToken,
    raw_token: signIn.json.token,
    bob_signed_token: bob.response.headers.get("set-auth-token"),
    jwt: token ? token.json.token : null,
    other_org_id: String(otherOrg.json.id),
    expired_signed_token: carolToken,
    generated_at: new Date().toISOString(),
  })}\n`,
);
process.exit(0);
