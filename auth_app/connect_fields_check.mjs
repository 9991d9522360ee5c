// What the platform's Better Auth makes of our Connect columns, declared as additionalFields:
// what its migrator would change, the organization as it reads it, a new organization it writes
// and whether a client may set a Connect field. Used by tests/worker/test_connect_fields.py.
//
//   AUTH_DB=db.sqlite3 node connect_fields_check.mjs configs/default_with_connect_fields.mjs
import path from "node:path";
import { pathToFileURL } from "node:url";

import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";

const options = (await import(pathToFileURL(path.resolve(process.argv[2])).href)).default;
const { toBeCreated, toBeAdded } = await getMigrations(options);
const auth = betterAuth(options);
const base = options.baseURL;

async function call(method, route, { body, bearer } = {}) {
  const headers = new Headers({ origin: base });
  if (body) headers.set("content-type", "application/json");
  if (bearer) headers.set("authorization", `Bearer ${bearer}`);
  const response = await auth.handler(
    new Request(`${base}/api/auth${route}`, { method, headers, body: body ? JSON.stringify(body) : undefined }),
  );
  return { status: response.status, headers: response.headers, json: await response.json().catch(() => null) };
}

const signIn = await call("POST", "/sign-in/email", {
  body: { email: "alice@example.com", password: "correct-horse-battery" },
});
const bearer = signIn.headers.get("set-auth-token");
const full = await call("GET", "/organization/get-full-organization?organizationSlug=acme", { bearer });
const created = await call("POST", "/organization/create", { body: { name: "Second", slug: "second" }, bearer });
const forged = await call("POST", "/organization/create", {
  body: { name: "Forged", slug: "forged", chargesEnabled: true, stripeConnectStatus: "active" },
  bearer,
});
const second = await call("GET", `/organization/get-full-organization?organizationSlug=second`, { bearer });
process.stdout.write(
  `${JSON.stringify({
    to_be_created: toBeCreated.map((t) => t.table),
    to_be_added: toBeAdded.map((t) => ({ table: t.table, fields: Object.keys(t.fields) })),
    organization: full.json,
    created_status: created.status,
    second: second.json,
    forged_status: forged.status,
    forged: forged.json,
  })}\n`,
);
process.exit(0);
