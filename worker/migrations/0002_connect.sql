-- Stripe Connect: columns on Better Auth's "organization" plus the webhook, transfer and payout
-- ledgers. ALTER TABLE because production already has "organization" with rows in it.
ALTER TABLE "organization" ADD COLUMN "stripe_connect_account_id" TEXT;
ALTER TABLE "organization" ADD COLUMN "stripe_connect_status" TEXT CHECK ("stripe_connect_status" IN ('pending', 'active', 'disabled'));
ALTER TABLE "organization" ADD COLUMN "platform_fee_percent" REAL NOT NULL DEFAULT 10.0 CHECK ("platform_fee_percent" >= 0 AND "platform_fee_percent" <= 100);
ALTER TABLE "organization" ADD COLUMN "platform_fee_fixed" INTEGER NOT NULL DEFAULT 0 CHECK ("platform_fee_fixed" >= 0);
ALTER TABLE "organization" ADD COLUMN "onboarding_step" TEXT NOT NULL DEFAULT 'account_creation' CHECK ("onboarding_step" IN ('account_creation', 'details_submission', 'verification', 'complete', 'rejected'));
ALTER TABLE "organization" ADD COLUMN "onboarding_rejection_reason" TEXT;
ALTER TABLE "organization" ADD COLUMN "charges_enabled" INTEGER NOT NULL DEFAULT 0 CHECK ("charges_enabled" IN (0, 1));
ALTER TABLE "organization" ADD COLUMN "payouts_enabled" INTEGER NOT NULL DEFAULT 0 CHECK ("payouts_enabled" IN (0, 1));
ALTER TABLE "organization" ADD COLUMN "details_submitted" INTEGER NOT NULL DEFAULT 0 CHECK ("details_submitted" IN (0, 1));
ALTER TABLE "organization" ADD COLUMN "requirements_currently_due" TEXT NOT NULL DEFAULT '[]';
ALTER TABLE "organization" ADD COLUMN "requirements_past_due" TEXT NOT NULL DEFAULT '[]';
ALTER TABLE "organization" ADD COLUMN "requirements_disabled_reason" TEXT;
ALTER TABLE "organization" ADD COLUMN "stripe_synced_at" INTEGER;
CREATE UNIQUE INDEX IF NOT EXISTS "organization_stripe_connect_account_id_uidx" ON "organization" ("stripe_connect_account_id") WHERE "stripe_connect_account_id" IS NOT NULL;

-- One row per Stripe event id: the durable dedupe that makes webhook effects exactly-once across
-- replicas. lease_expires_at is Unix milliseconds; a claim past it may be taken over.
CREATE TABLE IF NOT EXISTS "connect_webhook_event" ("event_id" TEXT NOT NULL PRIMARY KEY, "event_type" TEXT NOT NULL, "event_created" INTEGER NOT NULL, "stripe_account_id" TEXT, "status" TEXT NOT NULL CHECK ("status" IN ('processing', 'processed', 'failed')), "claim_id" TEXT, "lease_expires_at" INTEGER, "attempts" INTEGER NOT NULL DEFAULT 1 CHECK ("attempts" >= 0), "last_error" TEXT, "received_at" TEXT NOT NULL, "processed_at" TEXT);
CREATE INDEX IF NOT EXISTS "connect_webhook_event_status_received_idx" ON "connect_webhook_event" ("status", "received_at");

-- Platform fee transfers. Unique on (organization, idempotency key) so a retried request returns
-- the first result even after Stripe's 24-hour idempotency window. No foreign key: money records
-- outlive the organization row.
CREATE TABLE IF NOT EXISTS "connect_transfer" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "organization_id" TEXT NOT NULL, "idempotency_key" TEXT NOT NULL CHECK (length("idempotency_key") BETWEEN 1 AND 255), "request_hash" TEXT NOT NULL, "gross_amount" INTEGER NOT NULL CHECK ("gross_amount" >= 0), "fee_amount" INTEGER NOT NULL CHECK ("fee_amount" >= 0), "net_amount" INTEGER NOT NULL CHECK ("net_amount" >= 0), "currency" TEXT NOT NULL CHECK (length("currency") = 3 AND "currency" = lower("currency")), "stripe_account_id" TEXT NOT NULL, "stripe_transfer_id" TEXT, "status" TEXT NOT NULL DEFAULT 'pending' CHECK ("status" IN ('pending', 'succeeded', 'failed', 'reversed')), "amount_reversed" INTEGER NOT NULL DEFAULT 0 CHECK ("amount_reversed" >= 0), "failure_message" TEXT, "created_at" TEXT NOT NULL, "updated_at" TEXT NOT NULL, UNIQUE ("organization_id", "idempotency_key"), CHECK ("fee_amount" + "net_amount" = "gross_amount"));
CREATE UNIQUE INDEX IF NOT EXISTS "connect_transfer_stripe_transfer_id_uidx" ON "connect_transfer" ("stripe_transfer_id") WHERE "stripe_transfer_id" IS NOT NULL;
-- Retention deletes finished rows by age (LEDGER_RETENTION_DAYS).
CREATE INDEX IF NOT EXISTS "connect_transfer_status_updated_idx" ON "connect_transfer" ("status", "updated_at");

-- Payouts: requests made through us are reserved under (organization, idempotency key) before
-- Stripe is called ("reserved"; "refused" when Stripe said no), so a replay after Stripe's 24-hour
-- window still returns the first result; Stripe's state follows, ordered by event time. Payouts
-- not made through us (seen only in webhooks) have no key and no request hash.
CREATE TABLE IF NOT EXISTS "connect_payout" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "stripe_payout_id" TEXT, "organization_id" TEXT NOT NULL, "stripe_account_id" TEXT NOT NULL, "idempotency_key" TEXT CHECK ("idempotency_key" IS NULL OR length("idempotency_key") BETWEEN 1 AND 255), "request_hash" TEXT, "amount" INTEGER NOT NULL CHECK ("amount" >= 0), "currency" TEXT NOT NULL CHECK (length("currency") = 3 AND "currency" = lower("currency")), "status" TEXT NOT NULL CHECK ("status" IN ('reserved', 'refused', 'pending', 'in_transit', 'paid', 'failed', 'canceled')), "failure_code" TEXT, "failure_message" TEXT, "arrival_date" INTEGER, "event_created" INTEGER, "updated_at" TEXT NOT NULL, CHECK (("idempotency_key" IS NULL) = ("request_hash" IS NULL)), CHECK ("stripe_payout_id" IS NOT NULL OR "status" IN ('reserved', 'refused')));
CREATE UNIQUE INDEX IF NOT EXISTS "connect_payout_stripe_payout_id_uidx" ON "connect_payout" ("stripe_payout_id") WHERE "stripe_payout_id" IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS "connect_payout_idempotency_key_uidx" ON "connect_payout" ("organization_id", "idempotency_key") WHERE "idempotency_key" IS NOT NULL;
CREATE INDEX IF NOT EXISTS "connect_payout_organization_id_idx" ON "connect_payout" ("organization_id");
CREATE INDEX IF NOT EXISTS "connect_payout_status_updated_idx" ON "connect_payout" ("status", "updated_at");
