-- Money that comes back (DESIGN decision 6). A payment's refunds and disputes reverse what was
-- transferred from it; a dispute won or a refund that failed transfers it again.
-- "amount_disputed": the funds a dispute has withdrawn and not reinstated; "dispute_status":
-- Stripe's status of the payment's dispute (a disputed payment can no longer be transferred).
ALTER TABLE "connect_payment" ADD COLUMN "amount_disputed" INTEGER NOT NULL DEFAULT 0 CHECK ("amount_disputed" >= 0);
ALTER TABLE "connect_payment" ADD COLUMN "dispute_id" TEXT;
ALTER TABLE "connect_payment" ADD COLUMN "dispute_status" TEXT;
-- Bumped by every reservation of returns: a reservation names the version it planned from, so two
-- plans made from one state cannot both move the money.
ALTER TABLE "connect_payment" ADD COLUMN "returns_version" INTEGER NOT NULL DEFAULT 0 CHECK ("returns_version" >= 0);
-- One row per part of a payment's money moved back: a reversal of one of its transfers (to the
-- platform) or a reinstatement (a new transfer to the organization). Reserved before Stripe is
-- called, under a Stripe idempotency key derived from the cause and the transfer (unique here).
-- A reversal Stripe refuses becomes a debt ("owed"): what is still owed is
-- amount - amount_reversed - amount_recovered - amount_forgiven, each part a connect_debt_line.
-- "reversing_transfer" / "reversing_amount": what a retried debt's current attempt reverses when
-- the debt is recovered from a later transfer, so a lost answer is asked for again as the same
-- Stripe request.
CREATE TABLE IF NOT EXISTS "connect_return" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "organization_id" TEXT NOT NULL, "source_transaction" TEXT NOT NULL, "stripe_transfer_id" TEXT NOT NULL, "kind" TEXT NOT NULL CHECK ("kind" IN ('reversal', 'reinstatement')), "cause" TEXT NOT NULL CHECK ("cause" IN ('refund', 'dispute')), "cause_id" TEXT NOT NULL, "idempotency_key" TEXT NOT NULL UNIQUE CHECK (length("idempotency_key") BETWEEN 1 AND 255), "amount" INTEGER NOT NULL CHECK ("amount" > 0), "currency" TEXT NOT NULL CHECK (length("currency") = 3 AND "currency" = lower("currency")), "status" TEXT NOT NULL DEFAULT 'pending' CHECK ("status" IN ('pending', 'done', 'owed', 'failed')), "stripe_object_id" TEXT, "amount_reversed" INTEGER NOT NULL DEFAULT 0 CHECK ("amount_reversed" >= 0), "amount_recovered" INTEGER NOT NULL DEFAULT 0 CHECK ("amount_recovered" >= 0), "amount_forgiven" INTEGER NOT NULL DEFAULT 0 CHECK ("amount_forgiven" >= 0), "attempts" INTEGER NOT NULL DEFAULT 1 CHECK ("attempts" >= 1), "reversing_transfer" TEXT, "reversing_amount" INTEGER CHECK ("reversing_amount" IS NULL OR "reversing_amount" > 0), "failure_message" TEXT, "created_at" TEXT NOT NULL, "updated_at" TEXT NOT NULL, CHECK ("amount_reversed" + "amount_recovered" + "amount_forgiven" <= "amount"));
CREATE INDEX IF NOT EXISTS "connect_return_source_idx" ON "connect_return" ("source_transaction", "id");
CREATE INDEX IF NOT EXISTS "connect_return_organization_idx" ON "connect_return" ("organization_id", "id");
CREATE INDEX IF NOT EXISTS "connect_return_status_idx" ON "connect_return" ("status", "updated_at");
-- How each debt was paid: a reversal made later (of its own transfer or of a later one), or
-- given up because the money came back to the organization anyway (a dispute won).
CREATE TABLE IF NOT EXISTS "connect_debt_line" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "return_id" INTEGER NOT NULL, "organization_id" TEXT NOT NULL, "kind" TEXT NOT NULL CHECK ("kind" IN ('reversed', 'recovered', 'forgiven')), "amount" INTEGER NOT NULL CHECK ("amount" > 0), "reference" TEXT NOT NULL, "created_at" TEXT NOT NULL, UNIQUE ("return_id", "reference"));
CREATE INDEX IF NOT EXISTS "connect_debt_line_organization_idx" ON "connect_debt_line" ("organization_id", "id");
