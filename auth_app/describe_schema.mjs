// What the Connect Worker needs to know about a platform's Better Auth schema, asked of Better
// Auth itself: `getAuthTables` (the function its migrator and CLI build tables from) for the
// models and field names, and the adapter's own `getModelName` / `getFieldName` with the adapter's
// own `usePlural` for the physical names. Never retyped by hand.
//
//   node describe_schema.mjs path/to/auth.mjs      → the description as JSON on stdout
//
// The module's `auth` export (or default export) is the platform's `betterAuth(...)` instance or
// the options object it was made from. `make better-auth-schema` runs this and hands the JSON to
// `python -m devstack.better_auth_schema`, which writes it where the Worker reads it.
import path from "node:path";
import { pathToFileURL } from "node:url";

import { betterAuth } from "better-auth";
import { getAuthTables } from "better-auth/db";
import { initGetFieldName, initGetModelName } from "@better-auth/core/db/adapter";

// The fields the Worker reads, per Better Auth model (keys are Better Auth's field names).
export const NEEDED = {
  user: ["id", "name", "email", "emailVerified", "image"],
  session: ["id", "token", "userId", "expiresAt", "activeOrganizationId"],
  organization: ["id", "name", "slug"],
  member: ["id", "organizationId", "userId", "role", "createdAt"],
  jwks: ["id", "publicKey", "alg"],
};
// Present only with the `jwt()` plugin (Better Auth makes the `jwks` model only then): without it
// the description has no `jwks` and the Worker accepts session tokens only.
export const OPTIONAL = new Set(["jwks"]);
export const DESCRIPTION_VERSION = 1;

function isInstance(value) {
  return value && typeof value === "object" && "handler" in value && "options" in value;
}

/** The options and the adapter's `usePlural`, from an instance or from options. */
async function resolve(exported) {
  const auth = isInstance(exported) ? exported : betterAuth(exported);
  const context = await auth.$context;
  const usePlural = Boolean(context.adapter?.options?.adapterConfig?.usePlural);
  return { options: auth.options, usePlural };
}

/** Where sessions live: Better Auth leaves the session table out exactly in this case. */
export function sessionStorage(options) {
  return options.secondaryStorage && !options.session?.storeSessionInDatabase
    ? "secondary"
    : "database";
}

export function describe(options, { usePlural = false } = {}) {
  const schema = getAuthTables(options);
  const getModelName = initGetModelName({ schema, usePlural });
  const getFieldName = initGetFieldName({ schema, usePlural });
  const storage = sessionStorage(options);
  const tables = {};
  for (const [model, fields] of Object.entries(NEEDED)) {
    if (!schema[model]) {
      if (model === "session" && storage === "secondary") {
        tables[model] = null; // Better Auth keeps no session table: sessions are in KV
        continue;
      }
      if (OPTIONAL.has(model)) continue; // no jwt() plugin: no JWTs to verify
      throw new Error(
        `Better Auth has no "${model}" model in this configuration: the Worker needs the ` +
          "organization() plugin",
      );
    }
    const columns = {};
    for (const field of fields) columns[field] = getFieldName({ model, field });
    tables[model] = { table: getModelName(model), columns };
  }
  const serial = options.advanced?.database?.generateId === "serial";
  return {
    version: DESCRIPTION_VERSION,
    id_kind: serial ? "serial" : "string",
    session_storage: storage,
    tables,
  };
}

export async function describeModule(file) {
  const module = await import(pathToFileURL(path.resolve(file)).href);
  const exported = module.auth ?? module.default;
  if (!exported || typeof exported !== "object") {
    throw new Error(`${file}: export \`auth\` (or a default export): betterAuth(...) or its options`);
  }
  const { options, usePlural } = await resolve(exported);
  return describe(options, { usePlural });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: node describe_schema.mjs path/to/auth.mjs");
    process.exit(2);
  }
  try {
    process.stdout.write(`${JSON.stringify(await describeModule(file))}\n`);
    process.exit(0); // an auth instance may hold a database handle open
  } catch (error) {
    console.error(`better-auth-schema: ${error.message}`);
    process.exit(1);
  }
}
