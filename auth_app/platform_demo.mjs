// `make dev AUTH_CONFIG=…`: the local D1 as a platform's own Better Auth would have it. Better
// Auth's migrator creates (or completes) its tables under the config's names, then the library
// itself writes the demo identity — user (password kept in step with DEMO_PASSWORD), the
// "Demo Shop" organization it owns, active in a fresh session. Prints the identity as JSON.
//
//   AUTH_DB=… BETTER_AUTH_SECRET=… BETTER_AUTH_URL=… DEMO_PASSWORD=… node platform_demo.mjs config.mjs
import path from "node:path";
import { pathToFileURL } from "node:url";

import Database from "better-sqlite3";
import { getMigrations } from "better-auth/db/migration";

import { createAuth } from "./auth.mjs";

const EMAIL = "demo@example.com";
const [file] = process.argv.slice(2);
const { AUTH_DB, BETTER_AUTH_SECRET: secret, BETTER_AUTH_URL: baseURL, DEMO_PASSWORD: password } =
  process.env;
if (!file || !AUTH_DB || !secret || !baseURL || !password) {
  console.error("usage: AUTH_DB BETTER_AUTH_SECRET BETTER_AUTH_URL DEMO_PASSWORD node platform_demo.mjs config.mjs");
  process.exit(2);
}
const platform = (await import(pathToFileURL(path.resolve(file)).href)).default;
const database = new Database(AUTH_DB);
database.pragma("busy_timeout = 5000");
const auth = createAuth({ database, secret, baseURL, platform });
const { runMigrations } = await getMigrations(auth.options);
await runMigrations();

async function call(method, route, { body, bearer } = {}) {
  const headers = new Headers({ origin: baseURL });
  if (body) headers.set("content-type", "application/json");
  if (bearer) headers.set("authorization", `Bearer ${bearer}`);
  const response = await auth.handler(
    new Request(`${baseURL}/api/auth${route}`, { method, headers, body: body ? JSON.stringify(body) : undefined }),
  );
  return { response, json: await response.json().catch(() => null) };
}

const context = await auth.$context;
let created = false;
const found = await context.internalAdapter.findUserByEmail(EMAIL);
if (!found) {
  const up = await call("POST", "/sign-up/email", { body: { email: EMAIL, password, name: "Demo Owner" } });
  if (!up.response.ok) throw new Error(`sign-up: ${up.response.status} ${JSON.stringify(up.json)}`);
  created = true;
} else {
  await context.internalAdapter.updatePassword(found.user.id, await context.password.hash(password));
}
const signIn = await call("POST", "/sign-in/email", { body: { email: EMAIL, password } });
if (!signIn.response.ok) throw new Error(`sign-in: ${signIn.response.status}`);
const bearer = signIn.response.headers.get("set-auth-token");
const orgs = (await call("GET", "/organization/list", { bearer })).json ?? [];
let org = orgs.find((o) => o.slug === "demo-shop");
if (!org) {
  org = (await call("POST", "/organization/create", { body: { name: "Demo Shop", slug: "demo-shop" }, bearer })).json;
  created = true;
}
await call("POST", "/organization/set-active", { body: { organizationId: org.id }, bearer });
const session = (await call("GET", "/get-session", { bearer })).json;
process.stdout.write(
  `${JSON.stringify({
    user_id: String(session.user.id),
    user_email: EMAIL,
    organization_id: String(org.id),
    session_id: String(session.session.id),
    token: bearer,
    created,
  })}\n`,
);
process.exit(0);
