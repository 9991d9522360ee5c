// Better Auth's defaults plus the Connect columns as read-only organization fields (the README's
// "Bring your own Better Auth" snippet, connect_fields.mjs).
import Database from "better-sqlite3";
import { bearer, jwt, organization } from "better-auth/plugins";

import { connectOrganizationFields } from "../connect_fields.mjs";

export default {
  database: new Database(process.env.AUTH_DB || ":memory:"),
  secret: process.env.BETTER_AUTH_SECRET || "a-32-char-or-longer-test-secret-value-xx",
  baseURL: process.env.BETTER_AUTH_URL || "http://127.0.0.1:3000",
  emailAndPassword: { enabled: true },
  plugins: [
    organization({ schema: { organization: { additionalFields: connectOrganizationFields } } }),
    bearer(),
    jwt(),
  ],
};
