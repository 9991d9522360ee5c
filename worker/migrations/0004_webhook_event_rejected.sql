-- A validly signed event that cannot be applied (wrong types, absurd values, ids that are not
-- Stripe's, a Stripe id already recorded elsewhere) is recorded as 'rejected' with the reason in
-- "last_error": final like 'processed' (a redelivery is a duplicate), so Stripe stops retrying it.
-- SQLite cannot change a CHECK in place: the table is rebuilt, rows and index kept.
CREATE TABLE "connect_webhook_event_0004" ("event_id" TEXT NOT NULL PRIMARY KEY, "event_type" TEXT NOT NULL, "event_created" INTEGER NOT NULL, "stripe_account_id" TEXT, "status" TEXT NOT NULL CHECK ("status" IN ('processing', 'processed', 'failed', 'rejected')), "claim_id" TEXT, "lease_expires_at" INTEGER, "attempts" INTEGER NOT NULL DEFAULT 1 CHECK ("attempts" >= 0), "last_error" TEXT, "received_at" TEXT NOT NULL, "processed_at" TEXT);
INSERT INTO "connect_webhook_event_0004" ("event_id", "event_type", "event_created", "stripe_account_id", "status", "claim_id", "lease_expires_at", "attempts", "last_error", "received_at", "processed_at") SELECT "event_id", "event_type", "event_created", "stripe_account_id", "status", "claim_id", "lease_expires_at", "attempts", "last_error", "received_at", "processed_at" FROM "connect_webhook_event";
DROP TABLE "connect_webhook_event";
ALTER TABLE "connect_webhook_event_0004" RENAME TO "connect_webhook_event";
CREATE INDEX IF NOT EXISTS "connect_webhook_event_status_received_idx" ON "connect_webhook_event" ("status", "received_at");
