-- The connected account's payout schedule (Stripe's `settings.payouts.schedule`), kept in sync
-- from every re-read of the account. `manual` is what the platform creates accounts with.
ALTER TABLE "organization" ADD COLUMN "payout_schedule_interval" TEXT NOT NULL DEFAULT 'manual' CHECK ("payout_schedule_interval" IN ('manual', 'daily', 'weekly', 'monthly'));
ALTER TABLE "organization" ADD COLUMN "payout_schedule_delay_days" INTEGER CHECK ("payout_schedule_delay_days" IS NULL OR "payout_schedule_delay_days" BETWEEN 0 AND 365);
ALTER TABLE "organization" ADD COLUMN "payout_schedule_weekly_anchor" TEXT CHECK ("payout_schedule_weekly_anchor" IS NULL OR "payout_schedule_weekly_anchor" IN ('monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'));
ALTER TABLE "organization" ADD COLUMN "payout_schedule_monthly_anchor" INTEGER CHECK ("payout_schedule_monthly_anchor" IS NULL OR "payout_schedule_monthly_anchor" BETWEEN 1 AND 31);
-- The organization's history pages, newest first: (organization, id) walks each ledger backwards.
CREATE INDEX "connect_transfer_organization_id_idx" ON "connect_transfer" ("organization_id", "id");
DROP INDEX "connect_payout_organization_id_idx";
CREATE INDEX "connect_payout_organization_id_idx" ON "connect_payout" ("organization_id", "id");
