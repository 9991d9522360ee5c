-- Better Auth's tables belong to the platform: its own migrator made them, under its names. These
-- migrations never create them. This one stops here — and nothing after it runs — unless the
-- database holds them under the names below (rendered by `make better-auth-schema` from the
-- platform's Better Auth config). A failure names what is missing: "CHECK constraint failed:
-- no Better Auth table <name> here ..." or "no such column: <name>".
CREATE TABLE "connect_better_auth_check" ("user" INTEGER, "session" INTEGER, "organization" INTEGER, "member" INTEGER, "jwks" INTEGER, CONSTRAINT "no Better Auth table user here: render these migrations for this database's Better Auth config (make better-auth-schema AUTH_CONFIG=...)" CHECK ("user" = 1), CONSTRAINT "no Better Auth table session here: render these migrations for this database's Better Auth config (make better-auth-schema AUTH_CONFIG=...)" CHECK ("session" = 1), CONSTRAINT "no Better Auth table organization here: render these migrations for this database's Better Auth config (make better-auth-schema AUTH_CONFIG=...)" CHECK ("organization" = 1), CONSTRAINT "no Better Auth table member here: render these migrations for this database's Better Auth config (make better-auth-schema AUTH_CONFIG=...)" CHECK ("member" = 1), CONSTRAINT "no Better Auth table jwks here: render these migrations for this database's Better Auth config (make better-auth-schema AUTH_CONFIG=...)" CHECK ("jwks" = 1));
INSERT INTO "connect_better_auth_check" SELECT (SELECT count(*) FROM "sqlite_master" WHERE "type" = 'table' AND "name" = 'user'), (SELECT count(*) FROM "sqlite_master" WHERE "type" = 'table' AND "name" = 'session'), (SELECT count(*) FROM "sqlite_master" WHERE "type" = 'table' AND "name" = 'organization'), (SELECT count(*) FROM "sqlite_master" WHERE "type" = 'table' AND "name" = 'member'), (SELECT count(*) FROM "sqlite_master" WHERE "type" = 'table' AND "name" = 'jwks');
DROP TABLE "connect_better_auth_check";
SELECT "user"."id", "user"."name", "user"."email", "user"."emailVerified", "user"."image" FROM "user" LIMIT 0;
SELECT "session"."id", "session"."token", "session"."userId", "session"."expiresAt", "session"."activeOrganizationId" FROM "session" LIMIT 0;
SELECT "organization"."id", "organization"."name", "organization"."slug" FROM "organization" LIMIT 0;
SELECT "member"."id", "member"."organizationId", "member"."userId", "member"."role", "member"."createdAt" FROM "member" LIMIT 0;
SELECT "jwks"."id", "jwks"."publicKey", "jwks"."alg" FROM "jwks" LIMIT 0;
