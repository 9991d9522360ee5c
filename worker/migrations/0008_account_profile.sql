-- The account profile an organization's connected account was created with (`express`: Stripe's
-- Express dashboard; `custom`: no Stripe dashboard, the platform's own UI). Set once, with the
-- account id; it decides what the account can do later (a login link, the embedded components).
-- Accounts created before this column were all Express.
ALTER TABLE "organization" ADD COLUMN "stripe_connect_account_profile" TEXT CHECK ("stripe_connect_account_profile" IS NULL OR "stripe_connect_account_profile" IN ('express', 'custom'));
UPDATE "organization" SET "stripe_connect_account_profile" = 'express' WHERE "stripe_connect_account_id" IS NOT NULL;
