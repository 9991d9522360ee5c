-- Transfers backed by a payment. A platform-fee transfer names the charge it pays out
-- ("source_transaction"); a transfer without one is an operator's adjustment with a reason.
-- "auto_transfer_payments": transfer each succeeded payment for the organization as it lands.
ALTER TABLE "organization" ADD COLUMN "auto_transfer_payments" INTEGER NOT NULL DEFAULT 0 CHECK ("auto_transfer_payments" IN (0, 1));
ALTER TABLE "connect_transfer" ADD COLUMN "source_transaction" TEXT;
ALTER TABLE "connect_transfer" ADD COLUMN "source_seq" INTEGER CHECK ("source_seq" IS NULL OR "source_seq" >= 1);
ALTER TABLE "connect_transfer" ADD COLUMN "reason" TEXT;
ALTER TABLE "connect_transfer" ADD COLUMN "initiated_by" TEXT CHECK ("initiated_by" IS NULL OR "initiated_by" IN ('member', 'platform', 'operator', 'automatic'));
-- The n-th transfer of a charge: the Stripe idempotency key is derived from (charge, n).
CREATE UNIQUE INDEX IF NOT EXISTS "connect_transfer_source_seq_uidx" ON "connect_transfer" ("source_transaction", "source_seq") WHERE "source_transaction" IS NOT NULL;

-- Payments the platform collected for an organization (PaymentIntent + its charge), as read from
-- Stripe. amount_transferred / transfer_count are kept by the triggers below from the transfer
-- ledger, so a reservation's "is enough of this payment left" is one conditional INSERT, and
-- pruning old ledger rows never makes a payment transferable again. Kept (no retention): a row
-- is the record that its money was paid out.
CREATE TABLE IF NOT EXISTS "connect_payment" ("payment_intent_id" TEXT NOT NULL PRIMARY KEY, "organization_id" TEXT NOT NULL, "charge_id" TEXT, "amount" INTEGER NOT NULL CHECK ("amount" >= 0), "amount_refunded" INTEGER NOT NULL DEFAULT 0 CHECK ("amount_refunded" >= 0 AND "amount_refunded" <= "amount"), "amount_transferred" INTEGER NOT NULL DEFAULT 0 CHECK ("amount_transferred" >= 0), "transfer_count" INTEGER NOT NULL DEFAULT 0 CHECK ("transfer_count" >= 0), "currency" TEXT NOT NULL CHECK (length("currency") = 3 AND "currency" = lower("currency")), "status" TEXT NOT NULL, "created" INTEGER NOT NULL, "updated_at" TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS "connect_payment_charge_id_uidx" ON "connect_payment" ("charge_id") WHERE "charge_id" IS NOT NULL;
CREATE INDEX IF NOT EXISTS "connect_payment_organization_created_idx" ON "connect_payment" ("organization_id", "created");
CREATE TRIGGER IF NOT EXISTS "connect_transfer_source_reserved" AFTER INSERT ON "connect_transfer" WHEN NEW."source_transaction" IS NOT NULL BEGIN UPDATE "connect_payment" SET "amount_transferred" = "amount_transferred" + NEW."gross_amount", "transfer_count" = "transfer_count" + 1 WHERE "charge_id" = NEW."source_transaction"; END;
-- A transfer Stripe refused gives its share of the payment back.
CREATE TRIGGER IF NOT EXISTS "connect_transfer_source_released" AFTER UPDATE OF "status" ON "connect_transfer" WHEN NEW."source_transaction" IS NOT NULL AND OLD."status" = 'pending' AND NEW."status" = 'failed' BEGIN UPDATE "connect_payment" SET "amount_transferred" = MAX("amount_transferred" - NEW."gross_amount", 0) WHERE "charge_id" = NEW."source_transaction"; END;
