// A platform that renamed everything: plural tables, snake_case columns, the organization model
// named `organizations`, the JWT keys in `jwt_keys` — the way drizzle schemas on D1 often look.
import Database from "better-sqlite3";
import { bearer, jwt, organization } from "better-auth/plugins";

const timestamps = { createdAt: "created_at", updatedAt: "updated_at" };

export default {
  database: new Database(process.env.AUTH_DB || ":memory:"),
  secret: process.env.BETTER_AUTH_SECRET || "a-32-char-or-longer-test-secret-value-xx",
  baseURL: process.env.BETTER_AUTH_URL || "http://127.0.0.1:3000",
  emailAndPassword: { enabled: true },
  user: {
    modelName: "users",
    fields: { ...timestamps, name: "full_name", emailVerified: "email_verified", image: "avatar_url" },
  },
  session: {
    modelName: "sessions",
    fields: {
      ...timestamps,
      userId: "user_id",
      expiresAt: "expires_at",
      token: "session_token",
      ipAddress: "ip_address",
      userAgent: "user_agent",
    },
  },
  account: {
    modelName: "accounts",
    fields: {
      ...timestamps,
      userId: "user_id",
      accountId: "account_id",
      providerId: "provider_id",
      accessToken: "access_token",
      refreshToken: "refresh_token",
      idToken: "id_token",
      accessTokenExpiresAt: "access_token_expires_at",
      refreshTokenExpiresAt: "refresh_token_expires_at",
    },
  },
  verification: { modelName: "verifications", fields: { ...timestamps, expiresAt: "expires_at" } },
  plugins: [
    organization({
      schema: {
        organization: { modelName: "organizations", fields: { name: "org_name", createdAt: "created_at" } },
        member: {
          modelName: "members",
          fields: { organizationId: "organization_id", userId: "user_id", createdAt: "created_at" },
        },
        invitation: {
          modelName: "invitations",
          fields: {
            organizationId: "organization_id",
            inviterId: "inviter_id",
            expiresAt: "expires_at",
            createdAt: "created_at",
          },
        },
        session: { fields: { activeOrganizationId: "active_organization_id" } },
      },
    }),
    bearer(),
    jwt({
      schema: {
        jwks: {
          modelName: "jwt_keys",
          fields: {
            publicKey: "public_key",
            privateKey: "private_key",
            createdAt: "created_at",
            expiresAt: "expires_at",
          },
        },
      },
    }),
  ],
};
